"""Time ``lpformats.quantize`` per format family and rounding mode against np.copyto and peers.

Run from the repository root::

    python benchmarks/quantize.py [--n 16777216] [--threads 1,2] [--repeat 5] [--gfloat-n 16384]

For each case (a format) and rounding mode (nearest, stochastic) it prints ns per element of
``quantize(x, fmt, mode, out=o)`` (float32 input, output preallocated, after a warm-up call,
best of ``--repeat``) for each numba thread count, the ratio ``np.copyto time / our time``
(1.0 would be the memory-bandwidth limit), and for every peer that shares the format its
ns/element and ``speedup = peer time / our best time``. Peers that are missing print why.
The load average is printed before and after: the figures are only as good as the machine
was quiet.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

import lpformats
from benchmarks import peers
from benchmarks.common import best_time, code_version, machine_line

MODES = ("nearest", "stochastic")

#: Columns of the benchmark input: x has shape (n // COLUMNS, COLUMNS).
COLUMNS = 1024


@dataclass(frozen=True)
class Case:
    """One benchmarked format: ``family`` label, lpformats spelling, peers by display name."""

    family: str
    fmt: str
    peers: dict[str, peers.Peer] = field(default_factory=dict)


def _float_peers(ml_name: str | None, torch_name: str | None, exp: int, man: int,
                 gfloat_name: str) -> dict[str, peers.Peer]:
    found: dict[str, peers.Peer] = {}
    if ml_name == "numpy.float16":
        found["numpy float16"] = peers.numpy_float16
    elif ml_name is not None:
        found[f"ml_dtypes {ml_name}"] = peers.ml_dtypes_roundtrip(ml_name)
    if torch_name is not None:
        found[f"torch {torch_name}"] = peers.torch_roundtrip(torch_name)
    found[f"QPyTorch float({exp},{man})"] = peers.qtorch_float(exp, man)
    found[f"gfloat {gfloat_name}"] = peers.gfloat_round(gfloat_name)
    return found


def _mx_peers(gfloat_name: str, mx_name: str) -> dict[str, peers.Peer]:
    return {f"gfloat {gfloat_name}": peers.gfloat_mx(gfloat_name),
            f"microxcaling {mx_name}": peers.microxcaling(mx_name)}


CASES: tuple[Case, ...] = (
    Case("fixed", "int8", {"QPyTorch fixed(8,0)": peers.qtorch_fixed(8, 0)}),
    Case("fixed", "fixed(8,4)", {"QPyTorch fixed(8,4)": peers.qtorch_fixed(8, 4)}),
    Case("float", "fp8_e4m3",
         _float_peers("float8_e4m3fn", "float8_e4m3fn", 4, 3, "format_info_ocp_e4m3")),
    Case("float", "fp8_e5m2", _float_peers("float8_e5m2", "float8_e5m2", 5, 2, "format_info_ocp_e5m2")),
    Case("float", "bf16", _float_peers("bfloat16", "bfloat16", 8, 7, "format_info_bfloat16")),
    Case("float", "fp16", _float_peers("numpy.float16", "float16", 5, 10, "format_info_binary16")),
    Case("float", "fp6_e2m3", _float_peers("float6_e2m3fn", None, 2, 3, "format_info_ocp_e2m3")),
    Case("float", "fp4_e2m1", _float_peers("float4_e2m1fn", None, 2, 1, "format_info_ocp_e2m1")),
    Case("bfp", "bfp8", {"QPyTorch block(8,dim=-1)": peers.qtorch_block(8, -1)}),
    Case("bfp", "bfp(8,axis=0)", {"QPyTorch block(8,dim=0)": peers.qtorch_block(8, 0)}),
    Case("bfp", "bfp(8,block=32)"),
    Case("mx", "mxfp8_e4m3", _mx_peers("format_info_mxfp8_e4m3", "fp8_e4m3")),
    Case("mx", "mxfp4", _mx_peers("format_info_mxfp4_e2m1", "fp4_e2m1")),
    Case("mx", "mxint8", _mx_peers("format_info_mxint8", "int8")),
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}")
    return value


def _thread_list(text: str) -> list[int]:
    counts = [_positive_int(part) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError(f"expected comma-separated thread counts; got {text!r}")
    if max(counts) > numba.config.NUMBA_NUM_THREADS:
        raise argparse.ArgumentTypeError(
            f"numba allows at most {numba.config.NUMBA_NUM_THREADS} threads here; got {text!r}")
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=_positive_int, default=1 << 24,
                        help=f"float32 elements (a multiple of {COLUMNS}; default 2**24 = 16M)")
    parser.add_argument("--threads", type=_thread_list, default=[1, 2],
                        help="numba thread counts to time, comma-separated (default 1,2)")
    parser.add_argument("--repeat", type=_positive_int, default=5,
                        help="timed calls per measurement; the best is kept (default 5)")
    parser.add_argument("--gfloat-n", type=_positive_int, default=1 << 14,
                        help="elements given to the slow pure-numpy gfloat reference (default 2**14)")
    parser.add_argument("--formats", nargs="+", metavar="FMT",
                        help="only these cases (spellings as listed in CASES)")
    args = parser.parse_args(argv)
    if args.n % COLUMNS:
        parser.error(f"--n must be a multiple of {COLUMNS}; got {args.n}")
    known = [case.fmt for case in CASES]
    unknown = [f for f in args.formats or [] if f not in known]
    if unknown:
        parser.error(f"--formats: unknown case(s) {unknown}; expected some of {known}")
    return args


def ns_per_element(seconds: float, elements: int) -> float:
    return seconds / elements * 1e9


def time_ours(x: np.ndarray, out: np.ndarray, case: Case, mode: str, repeat: int) -> float:
    """ns/element of ``quantize(x, case.fmt, mode, out=out)`` at the current thread count."""
    fmt = lpformats.parse(case.fmt)
    seconds = best_time(lambda: lpformats.quantize(x, fmt, mode, seed=1, out=out), repeat)
    return ns_per_element(seconds, x.size)


def time_peer(build: peers.Peer, x: np.ndarray, mode: str, repeat: int, sample: int) -> float | str:
    """ns/element of a peer, or the reason it cannot run."""
    try:
        run = build(x, mode, sample)
    except peers.PeerUnavailableError as exc:
        return str(exc)
    return ns_per_element(best_time(run.call, repeat), run.elements)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cases = [c for c in CASES if args.formats is None or c.fmt in args.formats]
    print(f"# lpformats.quantize benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(machine_line() + " (before)")
    print(f"code: {code_version()}")
    import torch

    print(f"numpy {np.__version__}, numba {numba.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads for torch and QPyTorch peers)")
    print(f"n = {args.n} float32 ({args.n // COLUMNS} x {COLUMNS}), best of {args.repeat}, "
          f"gfloat on the first {args.gfloat_n} elements\n", flush=True)

    x = np.random.default_rng(0).standard_normal((args.n // COLUMNS, COLUMNS)).astype(np.float32)
    out = np.empty_like(x)
    copy_ns = ns_per_element(best_time(lambda: np.copyto(out, x), args.repeat), x.size)
    print(f"np.copyto: {copy_ns:.3f} ns/element\n", flush=True)

    ours: dict[tuple[str, str, int], float] = {}
    for threads in args.threads:
        numba.set_num_threads(threads)
        for case in cases:
            for mode in MODES:
                ours[case.fmt, mode, threads] = time_ours(x, out, case, mode, args.repeat)
                print(f"  {case.fmt:16s} {mode:10s} {threads} thread(s): "
                      f"{ours[case.fmt, mode, threads]:.3f} ns/element", flush=True)

    main_rows, peer_rows = [], []
    for case in cases:
        for mode in MODES:
            by_threads = [ours[case.fmt, mode, t] for t in args.threads]
            best = min(by_threads)
            best_threads = args.threads[by_threads.index(best)]
            main_rows.append([case.family, case.fmt, mode, *(f"{v:.2f}" for v in by_threads),
                              f"{best:.2f} ({best_threads}t)", f"{copy_ns / best:.2f}"])
            for name, build in case.peers.items():
                peer = time_peer(build, x, mode, args.repeat, args.gfloat_n)
                if isinstance(peer, str):
                    peer_rows.append([case.fmt, mode, name, peer, ""])
                else:
                    peer_rows.append([case.fmt, mode, name, f"{peer:.2f}", f"{peer / best:.1f}x"])
                print(f"  {case.fmt:16s} {mode:10s} {name}: {peer_rows[-1][3]}", flush=True)

    thread_cols = [f"ns/el {t}t" for t in args.threads]
    print("\n## lpformats.quantize (float32 in, out= preallocated)\n")
    print(_table(["family", "format", "rounding", *thread_cols, "best ns/el", "copyto/ours"], main_rows))
    print(f"\nnp.copyto of the same array: {copy_ns:.3f} ns/element; copyto/ours = np.copyto time "
          "divided by ours (1.0 = memory-bandwidth bound)\n")
    print("## Peers (ours vs X = speedup = X's time / our best time)\n")
    print(_table(["format", "rounding", "peer", "peer ns/el", "ours vs peer"], peer_rows))
    print("\n" + machine_line() + " (after)")


if __name__ == "__main__":
    main()
