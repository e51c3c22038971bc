"""Run the ``lpformats.testing`` kit on real peers and print what it finds.

Peers: torch 2.13's casts (float8 variants, bfloat16, float16), ml_dtypes (float8, float6,
float4, bfloat16) and QPyTorch 0.3's float/fixed/block quantizers, nearest and stochastic.
Each deterministic peer is checked first with the kit's defaults (bit for bit, strict
conventions), then, where it failed on a convention, with that convention stated, so the
table separates conventions from real differences. Stochastic peers are seeded with
``torch.manual_seed(seed)``. A peer that cannot run is listed with the reason.

    python benchmarks/kit_peers.py            # (QPyTorch: pip install qtorch==0.3.0 ninja)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import code_version, machine_line
from benchmarks.peers import PeerUnavailableError, import_peer
from lpformats import BlockFloat, FixedPoint, FloatFormat
from lpformats.testing import CounterexampleError, assert_rounds_like, assert_unbiased, stochastic_probes

#: Draws per element for the stochastic peers.
DRAWS = 1 << 16


@dataclass
class Case:
    """One peer quantizer checked against one format; ``stated``: conventions to try next."""

    peer: str
    fmt: object
    build: Callable[[], Callable]
    rounding: str = "nearest"
    stated: dict = field(default_factory=dict)
    stochastic: bool = False
    tensor: str = "torch"


def _torch_cast(name: str) -> Callable[[], Callable]:
    def build():
        torch = import_peer("torch")
        dtype = getattr(torch, name)
        return lambda t: t.to(dtype).to(torch.float32)

    return build


def _ml_dtypes(name: str) -> Callable[[], Callable]:
    def build():
        dtype = getattr(import_peer("ml_dtypes"), name)
        return lambda x: x.astype(dtype).astype(np.float32)

    return build


def _qtorch(kind: str, *args, rounding: str = "nearest", seeded: bool = False) -> Callable[[], Callable]:
    def build():
        quant, torch = import_peer("qtorch.quant"), import_peer("torch")
        call = {
            "float": quant.float_quantize,
            "fixed": quant.fixed_point_quantize,
            "block": quant.block_quantize,
        }[kind]
        if not seeded:
            return lambda t: call(t.float(), *args, rounding=rounding)

        def stochastic(t, seed):
            torch.manual_seed(seed)
            return call(t.float(), *args, rounding=rounding)

        return stochastic

    return build


def cases() -> list[Case]:
    torch_casts = [
        ("float8_e4m3fn", "fp8_e4m3", {"overflow": "saturate", "nan_payload": "any"}),
        ("float8_e5m2", "fp8_e5m2", {"nan_payload": "any"}),
        ("float8_e4m3fnuz", "fp8_e4m3fnuz", {"nan_payload": "any"}),
        ("float8_e5m2fnuz", "fp8_e5m2fnuz", {"nan_payload": "any"}),
        ("bfloat16", "bf16", {"nan_payload": "any"}),
        ("float16", "fp16", {"nan_payload": "any"}),
    ]
    ml = [
        ("float8_e4m3fn", "fp8_e4m3"),
        ("float8_e5m2", "fp8_e5m2"),
        ("float8_e4m3fnuz", "fp8_e4m3fnuz"),
        ("float8_e5m2fnuz", "fp8_e5m2fnuz"),
        ("float8_e3m4", "fp8_e3m4"),
        ("float6_e2m3fn", "fp6_e2m3"),
        ("float6_e3m2fn", "fp6_e3m2"),
        ("float4_e2m1fn", "fp4_e2m1"),
        ("bfloat16", "bf16"),
    ]
    out = [Case(f"torch .to({n})", f, _torch_cast(n), stated=s) for n, f, s in torch_casts]
    out += [
        Case(f"ml_dtypes {n}", f, _ml_dtypes(n), stated={"nan_payload": "any"}, tensor="numpy") for n, f in ml
    ]
    for exp, man in ((5, 2), (4, 3), (8, 7)):
        fmt = FloatFormat(exp, man)
        out.append(
            Case(
                f"qtorch float_quantize({exp},{man})",
                fmt,
                _qtorch("float", exp, man),
                stated={"nan_payload": "any"},
            )
        )
        out.append(
            Case(
                f"qtorch float_quantize({exp},{man})",
                fmt,
                _qtorch("float", exp, man),
                rounding="nearest_away",
                stated={"nan_payload": "any", "overflow": "saturate"},
            )
        )
    out.append(
        Case(
            "qtorch fixed_point_quantize(8,4)",
            FixedPoint(8, 4),
            _qtorch("fixed", 8, 4),
            stated={"signed_zero": "any"},
        )
    )
    out.append(Case("qtorch block_quantize(8, dim=-1)", BlockFloat(8), _qtorch("block", 8, -1)))
    out.append(Case("qtorch block_quantize(8, dim=0)", BlockFloat(8, block_axis=0), _qtorch("block", 8, 0)))
    for exp, man in ((5, 2), (4, 3)):
        out.append(
            Case(
                f"qtorch float_quantize({exp},{man}) stochastic",
                FloatFormat(exp, man),
                _qtorch("float", exp, man, rounding="stochastic", seeded=True),
                "stochastic",
                stated={"reproducible": False},
                stochastic=True,
            )
        )
    out.append(
        Case(
            "qtorch fixed_point_quantize(8,4) stochastic",
            FixedPoint(8, 4),
            _qtorch("fixed", 8, 4, rounding="stochastic", seeded=True),
            "stochastic",
            stated={"reproducible": False},
            stochastic=True,
        )
    )
    return out


def check(case: Case, fn: Callable, conventions: dict) -> str:
    """``passed: ...`` or the kit's message."""
    try:
        if case.stochastic:
            x = stochastic_probes(case.fmt).astype(np.float32)
            report = assert_unbiased(fn, x, case.fmt, tensor=case.tensor, draws=DRAWS, **conventions)
        else:
            report = assert_rounds_like(fn, case.fmt, case.rounding, tensor=case.tensor, **conventions)
        return f"passed: {report}"
    except CounterexampleError as failure:
        return str(failure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the peers whose name contains this text")
    args = parser.parse_args()
    print(machine_line())
    print(f"code: {code_version()}")
    for name in ("torch", "ml_dtypes", "qtorch"):
        try:
            import_peer(name)
            print(f"{name} {importlib.metadata.version(name)}")
        except PeerUnavailableError as why:
            print(f"{name}: skipped ({why})")
    start = time.time()
    for case in (c for c in cases() if args.only in c.peer):
        title = f"{case.peer} vs {case.fmt} {case.rounding}"
        try:
            fn = case.build()
        except PeerUnavailableError as why:
            print(f"\n## {title}: skipped ({why})")
            continue
        first = check(case, fn, {})
        print(f"\n## {title}, default conventions\n{first}")
        if not first.startswith("passed") and case.stated:
            stated = ", ".join(f"{k}={v!r}" for k, v in case.stated.items())
            print(f"\n## {title}, stated {stated}\n{check(case, fn, case.stated)}")
    print(f"\ntotal {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
