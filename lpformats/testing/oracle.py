"""``assert_rounds_like``: a quantizer under test against ``lpformats.quantize``, bit for bit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import lpformats as lp
from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from lpformats.rounding import ROUNDING_MODES, rounding_code
from lpformats.testing import strategies
from lpformats.testing.boundaries import block_tensor, boundary_values
from lpformats.testing.compare import show
from lpformats.testing.conventions import Conventions
from lpformats.testing.describe import locate, show_result, summarize
from lpformats.testing.search import Failure, SearchReport, call_quantizer, verify

DETERMINISTIC_MODES = tuple(m for m in ROUNDING_MODES if m != "stochastic")
#: Mismatches listed in a failure message.
SHOWN = 4
#: Block tensors in the fixed sweep of a block format.
BLOCK_SWEEP = 48


def _check_rounding(rounding: str) -> None:
    rounding_code(rounding)
    if rounding == "stochastic":
        raise ValueError(
            "rounding='stochastic' cannot be compared bit for bit (the random numbers differ): "
            "use assert_unbiased for stochastic rounding"
        )


def _dtype(dtype: object) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32, np.float64):
        raise ValueError(
            f"dtype must be float16, float32 or float64 (the quantizer's input type); got {dtype}"
        )
    return dtype


def mismatch_failure(
    x: np.ndarray, actual: np.ndarray, expected: np.ndarray, bad: np.ndarray, fmt: object, call: str
) -> Failure:
    """A :class:`Failure` listing the first mismatches: input, expected and actual, with bits."""
    flat_x, flat_a, flat_e = x.reshape(-1), actual.reshape(-1), expected.reshape(-1)
    summary = summarize(x, actual, bad, fmt)
    rows = [f"  {summary}"] if summary else []
    for i in bad[:SHOWN]:
        where = locate(flat_x[i], fmt)
        index = tuple(int(k) for k in np.unravel_index(int(i), x.shape)) if x.ndim > 1 else int(i)
        rows.append(f"  x[{index}] = {show(flat_x[i], x.dtype)}" + (f": {where}" if where else ""))
        rows.append(f"      expected {show_result(flat_e[i], x.dtype, fmt)}")
        rows.append(f"      actual   {show_result(flat_a[i], x.dtype, fmt)}")
    if bad.size > SHOWN:
        rows.append(f"  ... and {bad.size - SHOWN} more")
    if x.size <= 16:
        rows.append(f"  reproduce: {call}(np.array({x.tolist()!r}, dtype=np.{x.dtype}))")
    return Failure(bad, "\n".join(rows))


def assert_rounds_like(
    fn: Callable[[Any], Any],
    fmt: object,
    rounding: str = "nearest",
    *,
    dtype: object = np.float32,
    signed_zero: str = "exact",
    nan_payload: str = "exact",
    overflow: str | None = None,
    nan: str | None = None,
    tensor: str = "numpy",
    inputs: Sequence[np.ndarray] = (),
    max_examples: int = 100,
) -> SearchReport:
    """Check that ``fn`` rounds exactly as ``lpformats.quantize(x, fmt, rounding)``.

    ``fn`` takes a ``dtype`` numpy array (or a CPU torch tensor with ``tensor='torch'``) and
    returns the quantized values with the same shape, in any float dtype (compared exactly as
    float64). It is called on (1) every input of
    :func:`~lpformats.testing.boundaries.boundary_values` at once (scalar formats) or on
    ``BLOCK_SWEEP`` block tensors with chosen shared exponents (block formats), plus
    ``inputs``; then (2) on ``max_examples`` Hypothesis arrays of boundary points and random
    floats (:func:`~lpformats.testing.strategies.boundary_arrays`,
    :func:`~lpformats.testing.strategies.block_arrays`).

    Args:
        fn: the quantizer under test (deterministic).
        fmt: the format (object or spelling).
        rounding: a deterministic rounding mode of ``lpformats.quantize``.
        dtype: the input dtype (float16/32/64).
        signed_zero, nan_payload, overflow, nan: the conventions ``fn`` follows where correct
            quantizers differ; see :mod:`lpformats.testing.conventions`.
        tensor: ``numpy`` or ``torch``: what ``fn`` is given.
        inputs: extra arrays to check first.
        max_examples: Hypothesis examples after the sweep (0: the sweep only).

    Returns:
        A :class:`~lpformats.testing.search.SearchReport` of what was checked.

    Raises:
        CounterexampleError (an ``AssertionError``): the first mismatch, with input bits, the
            expected and actual bits (and format codes) and a shrunk minimal example.
    """
    fmt = lp.parse(fmt)
    _check_rounding(rounding)
    dtype = _dtype(dtype)
    conventions = Conventions(signed_zero, nan_payload, overflow, nan)
    conventions.check(fmt)
    with_nan = conventions.generates_nan(fmt)

    def failures(x: np.ndarray) -> Failure | None:
        if not with_nan:
            x = x[~np.isnan(x)] if x.ndim == 1 else np.where(np.isnan(x), 0, x).astype(x.dtype)
        expected = conventions.expected(x, fmt, rounding)
        actual = call_quantizer(fn, x, tensor)
        bad = np.flatnonzero(~conventions.same(actual, expected))
        if bad.size == 0:
            return None
        return mismatch_failure(x, actual, expected, bad, fmt, "fn")

    title = (
        f"fn does not round like lpformats.quantize(x, {str(fmt)!r}, {rounding!r}) on {dtype} inputs "
        f"(conventions: {conventions})"
    )
    extra = [np.asarray(a, dtype=dtype) for a in inputs]
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        sweep = [boundary_values(fmt, dtype, nan=with_nan), *extra]
        strategy = strategies.boundary_arrays(fmt, dtype, nan=with_nan)
        elementwise = True
    elif isinstance(fmt, (BlockFloat, MXFormat)):
        sweep = [block_tensor(fmt, dtype, seed=s) for s in range(BLOCK_SWEEP)] + extra
        strategy = strategies.block_arrays(fmt, dtype)
        elementwise = False
    else:  # pragma: no cover - parse returns one of the four families
        raise TypeError(f"unknown format {fmt!r}")
    return verify(
        f"assert_rounds_like({str(fmt)!r}, {rounding!r}, {dtype})",
        title,
        failures,
        sweep,
        strategy,
        max_examples=max_examples,
        elementwise=elementwise,
    )
