"""Other quantizers ("peers") timed against lpformats by ``benchmarks/quantize.py``.

A peer is built for one input array and one rounding mode and returns a :class:`Run`: a
zero-argument callable plus the number of elements one call processes (slow pure-numpy
references run on a prefix of the input and are scaled per element). A peer that cannot run
raises :class:`PeerUnavailableError` with the reason ("not installed", a build error, or no such
rounding mode), which the benchmark prints instead of a time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class PeerUnavailableError(Exception):
    """The peer cannot run here; the message says why."""


@dataclass(frozen=True)
class Run:
    """``call()`` quantizes ``elements`` values (a round trip back to float32)."""

    call: Callable[[], object]
    elements: int


#: A peer: (input float32 array, rounding mode "nearest"|"stochastic", gfloat sample size) -> Run.
Peer = Callable[[np.ndarray, str, int], Run]

_import_errors: dict[str, str] = {}


def import_peer(name: str):
    """Import ``name`` or raise :class:`PeerUnavailableError` naming the error (cached: QPyTorch
    JIT-builds its C++ extension on import, so a failed build is reported once, verbatim)."""
    if name in _import_errors:
        raise PeerUnavailableError(_import_errors[name])
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        _import_errors[name] = f"not installed ({exc.name})"
    except Exception as exc:  # a JIT build failure surfaces as any exception type
        _import_errors[name] = f"import failed: {type(exc).__name__}: {exc}".replace("\n", " ")
    raise PeerUnavailableError(_import_errors[name])


def _nearest_only(mode: str, peer: str) -> None:
    if mode != "nearest":
        raise PeerUnavailableError(f"{peer} has no {mode} rounding")


def ml_dtypes_roundtrip(type_name: str) -> Peer:
    """``x.astype(ml_dtypes.<type_name>).astype(float32)`` (round to nearest even)."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        _nearest_only(mode, "ml_dtypes")
        dtype = getattr(import_peer("ml_dtypes"), type_name)
        return Run(lambda: x.astype(dtype).astype(np.float32), x.size)

    return build


def numpy_float16(x: np.ndarray, mode: str, sample: int) -> Run:
    """``x.astype(float16).astype(float32)``."""
    _nearest_only(mode, "numpy")
    return Run(lambda: x.astype(np.float16).astype(np.float32), x.size)


def torch_roundtrip(dtype_name: str) -> Peer:
    """``torch.from_numpy(x).to(torch.<dtype_name>).to(torch.float32)`` (torch's cast)."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        _nearest_only(mode, "torch")
        torch = import_peer("torch")
        t = torch.from_numpy(x)
        dtype = getattr(torch, dtype_name)
        return Run(lambda: t.to(dtype).to(torch.float32), x.size)

    return build


def _qtorch():
    return import_peer("qtorch.quant"), import_peer("torch")


def qtorch_float(exp: int, man: int) -> Peer:
    """QPyTorch 0.3 ``float_quantize(x, exp, man, rounding)`` (its CPU kernel)."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        quant, torch = _qtorch()
        t = torch.from_numpy(x)
        return Run(lambda: quant.float_quantize(t, exp, man, mode), x.size)

    return build


def qtorch_fixed(wl: int, fl: int) -> Peer:
    """QPyTorch 0.3 ``fixed_point_quantize(x, wl, fl, clamp=True, rounding=...)``."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        quant, torch = _qtorch()
        t = torch.from_numpy(x)
        return Run(lambda: quant.fixed_point_quantize(t, wl, fl, clamp=True, rounding=mode), x.size)

    return build


def qtorch_block(wl: int, dim: int) -> Peer:
    """QPyTorch 0.3 ``block_quantize(x, wl, dim, rounding)`` (dim=-1: one exponent for the
    whole tensor; dim=d: one per index of axis d)."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        quant, torch = _qtorch()
        t = torch.from_numpy(x)
        return Run(lambda: quant.block_quantize(t, wl, dim=dim, rounding=mode), x.size)

    return build


def gfloat_round(format_info: str) -> Peer:
    """gfloat 0.5 ``round_ndarray`` on the first ``sample`` elements (pure numpy reference);
    stochastic rounding with 13 caller-supplied random bits per element."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        gfloat = import_peer("gfloat")
        fi = getattr(import_peer("gfloat.formats"), format_info)
        part = x.reshape(-1)[:sample]
        if mode == "nearest":
            return Run(lambda: gfloat.round_ndarray(fi, part), part.size)
        srbits = np.random.default_rng(0).integers(0, 1 << 13, size=part.size)
        return Run(
            lambda: gfloat.round_ndarray(fi, part, gfloat.RoundMode.Stochastic, srbits=srbits, srnumbits=13),
            part.size,
        )

    return build


def gfloat_mx(block_format_info: str) -> Peer:
    """gfloat 0.5 ``quantize_block`` with ``compute_scale_amax`` (the OCP MX scale) over
    consecutive blocks of 32 of the first ``sample`` elements; nearest only."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        _nearest_only(mode, "gfloat quantize_block (as benchmarked)")
        gfloat = import_peer("gfloat")
        fi = getattr(import_peer("gfloat.formats"), block_format_info)
        part = x.reshape(-1)[: max(32, sample - sample % 32)]
        blocks = part.reshape(-1, 32)

        def call() -> list:
            return [gfloat.quantize_block(fi, b, gfloat.compute_scale_amax) for b in blocks]

        return Run(call, part.size)

    return build


def microxcaling(elem_format: str) -> Peer:
    """microxcaling's ``mx.mx_ops._quantize_mx`` (blocks of 32 along the last axis, E8M0
    scale, ``round='even'``) when its checkout is importable as ``mx``; nearest only."""

    def build(x: np.ndarray, mode: str, sample: int) -> Run:
        _nearest_only(mode, "microxcaling (round='even', as benchmarked)")
        mx_ops = import_peer("mx.mx_ops")
        torch = import_peer("torch")
        t = torch.from_numpy(x)

        def call() -> object:
            return mx_ops._quantize_mx(t, 8, elem_format, shared_exp_method="max", axes=[-1],
                                       block_size=32, round="even")

        try:
            call()
        except Exception as exc:
            raise PeerUnavailableError(f"call failed: {type(exc).__name__}: {exc}") from exc
        return Run(call, x.size)

    return build
