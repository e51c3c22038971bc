"""Structural properties of a quantizer that need no bit-exact oracle: monotonicity,
idempotence, sign symmetry and ``down(x) <= x <= up(x)`` with adjacent results.

Each check runs the boundary sweep of the format and then a bounded Hypothesis search
(:func:`~lpformats.testing.search.verify`), for scalar formats (fixed point, floats).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import lpformats as lp
from lpformats.formats import FixedPoint, FloatFormat
from lpformats.testing import strategies
from lpformats.testing.boundaries import boundary_values, check_scalar_format, clip_to_range, next_value_up
from lpformats.testing.compare import as_float64, same_values, show
from lpformats.testing.oracle import _dtype
from lpformats.testing.search import Failure, SearchReport, call_quantizer, verify

#: Rounding modes for which ``Q(-x) == -Q(x)``.
SYMMETRIC_MODES = ("nearest", "nearest_away", "zero")


def _rows(x: np.ndarray, bad: np.ndarray, describe: Callable[[int], str]) -> str:
    lines = [describe(int(i)) for i in bad[:4]]
    if bad.size > 4:
        lines.append(f"  ... and {bad.size - 4} more")
    return "\n".join(lines)


def _finite_sweep(fmt: object, dtype: np.dtype, in_range: bool) -> np.ndarray:
    x = boundary_values(fmt, dtype, nan=False)
    x = x[np.isfinite(x)]
    return clip_to_range(x, fmt) if in_range else x


def _strategy(fmt: object, dtype: np.dtype, in_range: bool):
    arrays = strategies.boundary_arrays(fmt, dtype, nan=False)
    arrays = arrays.map(lambda a: a[np.isfinite(a)])
    return arrays.map(lambda a: clip_to_range(a, fmt)) if in_range else arrays


def assert_monotone(
    fn: Callable[[Any], Any],
    fmt: object,
    *,
    dtype: object = np.float32,
    tensor: str = "numpy",
    max_examples: int = 100,
) -> SearchReport:
    """``x <= y`` implies ``fn(x) <= fn(y)`` (NaN results, e.g. overflow in ``fn`` formats, are
    left out). Inputs: finite boundary values of ``fmt`` sorted, then Hypothesis arrays."""
    fmt = check_scalar_format(fmt, "assert_monotone")
    dtype = _dtype(dtype)

    def failures(x: np.ndarray) -> Failure | None:
        x = np.sort(x)
        q = call_quantizer(fn, x, tensor)
        keep = np.flatnonzero(~np.isnan(q))
        xs, qs = x[keep], q[keep]
        bad = np.flatnonzero(qs[1:] < qs[:-1])
        if bad.size == 0:
            return None
        return Failure(
            keep[bad],
            _rows(
                x,
                bad,
                lambda i: (
                    f"  x = {show(xs[i], dtype)} <= {show(xs[i + 1], dtype)} but fn gives "
                    f"{qs[i]!r} > {qs[i + 1]!r}"
                ),
            ),
        )

    return verify(
        f"assert_monotone({str(fmt)!r})",
        f"fn is not monotone on {fmt}",
        failures,
        [_finite_sweep(fmt, dtype, False)],
        _strategy(fmt, dtype, False),
        max_examples=max_examples,
        elementwise=False,
    )


def assert_idempotent(
    fn: Callable[[Any], Any],
    fmt: object,
    *,
    dtype: object = np.float32,
    tensor: str = "numpy",
    max_examples: int = 100,
) -> SearchReport:
    """``fn(fn(x)) == fn(x)`` bit for bit (every result is a fixed point of ``fn``)."""
    fmt = check_scalar_format(fmt, "assert_idempotent")
    dtype = _dtype(dtype)

    def failures(x: np.ndarray) -> Failure | None:
        once = call_quantizer(fn, x, tensor)
        with np.errstate(over="ignore", invalid="ignore"):
            again = call_quantizer(fn, once.astype(dtype), tensor)
        bad = np.flatnonzero(~same_values(again, once))
        if bad.size == 0:
            return None
        return Failure(
            bad,
            _rows(
                x,
                bad,
                lambda i: (
                    f"  x = {show(x[i], dtype)}: fn(x) = {show(once[i], dtype)}, "
                    f"fn(fn(x)) = {show(again[i], dtype)}"
                ),
            ),
        )

    return verify(
        f"assert_idempotent({str(fmt)!r})",
        f"fn is not idempotent on {fmt}",
        failures,
        [_finite_sweep(fmt, dtype, False)],
        _strategy(fmt, dtype, False),
        max_examples=max_examples,
        elementwise=True,
    )


def assert_sign_symmetric(
    fn: Callable[[Any], Any],
    fmt: object,
    rounding: str = "nearest",
    *,
    dtype: object = np.float32,
    tensor: str = "numpy",
    max_examples: int = 100,
) -> SearchReport:
    """``fn(-x) == -fn(x)`` for the symmetric modes (``nearest``, ``nearest_away``, ``zero``),
    on inputs within ``+-max_value`` (signed fixed point: ``[-max, max]``; formats without a
    negative zero compare zeros without sign)."""
    fmt = check_scalar_format(fmt, "assert_sign_symmetric")
    dtype = _dtype(dtype)
    if rounding not in SYMMETRIC_MODES:
        raise ValueError(
            f"rounding must be one of {SYMMETRIC_MODES} (down/up mirror each other, use "
            f"assert_brackets); got {rounding!r}"
        )
    if isinstance(fmt, FixedPoint) and not fmt.signed:
        raise ValueError(f"{fmt} is unsigned: it has no sign symmetry")
    zero = "exact" if isinstance(fmt, FloatFormat) and fmt.has_negative_zero else "any"

    def failures(x: np.ndarray) -> Failure | None:
        x = np.clip(x, -fmt.max_value, fmt.max_value).astype(dtype)
        plus, minus = call_quantizer(fn, x, tensor), call_quantizer(fn, -x, tensor)
        bad = np.flatnonzero(~same_values(minus, -plus, signed_zero=zero))
        if bad.size == 0:
            return None
        return Failure(
            bad,
            _rows(
                x,
                bad,
                lambda i: (
                    f"  x = {show(x[i], dtype)}: fn(x) = {show(plus[i], dtype)}, "
                    f"fn(-x) = {show(minus[i], dtype)}"
                ),
            ),
        )

    return verify(
        f"assert_sign_symmetric({str(fmt)!r}, {rounding!r})",
        f"fn({rounding}) is not sign-symmetric on {fmt}",
        failures,
        [_finite_sweep(fmt, dtype, True)],
        _strategy(fmt, dtype, True),
        max_examples=max_examples,
        elementwise=True,
    )


def assert_brackets(
    down: Callable[[Any], Any],
    up: Callable[[Any], Any],
    fmt: object,
    *,
    dtype: object = np.float32,
    tensor: str = "numpy",
    max_examples: int = 100,
) -> SearchReport:
    """For ``x`` within the range: ``down(x) <= x <= up(x)``, both values of ``fmt``, and
    adjacent: equal when ``x`` is a value, else no value of ``fmt`` lies between them."""
    fmt = check_scalar_format(fmt, "assert_brackets")
    dtype = _dtype(dtype)

    def failures(x: np.ndarray) -> Failure | None:
        lo, hi = call_quantizer(down, x, tensor), call_quantizer(up, x, tensor)
        xv = as_float64(x)
        on_grid = [
            same_values(lp.quantize(v, fmt, "nearest", nan="zero"), v, signed_zero="any") for v in (lo, hi)
        ]
        with np.errstate(invalid="ignore"):
            nxt = next_value_up(np.where(np.isfinite(lo), lo, 0.0), fmt)
            exact = same_values(lp.quantize(x, fmt, "nearest", nan="zero"), x, signed_zero="any")
            adjacent = np.where(exact, lo == hi, nxt == hi)
        good = (lo <= xv) & (xv <= hi) & on_grid[0] & on_grid[1] & adjacent
        bad = np.flatnonzero(~good)
        if bad.size == 0:
            return None

        def describe(i: int) -> str:
            why = [
                w
                for w, ok in (
                    ("down(x) > x", lo[i] <= xv[i]),
                    ("up(x) < x", xv[i] <= hi[i]),
                    (f"down(x) not a value of {fmt}", on_grid[0][i]),
                    (f"up(x) not a value of {fmt}", on_grid[1][i]),
                    (
                        "not adjacent"
                        + (
                            f" (next value after down(x) is {nxt[i]!r})"
                            if not exact[i]
                            else " (x is a value)"
                        ),
                        adjacent[i],
                    ),
                )
                if not ok
            ]
            return (
                f"  x = {show(x[i], dtype)}: down(x) = {show(lo[i], dtype)}, up(x) = {show(hi[i], dtype)}: "
                + "; ".join(why)
            )

        return Failure(bad, _rows(x, bad, describe))

    return verify(
        f"assert_brackets({str(fmt)!r})",
        f"down/up do not bracket x on {fmt}",
        failures,
        [_finite_sweep(fmt, dtype, True)],
        _strategy(fmt, dtype, True),
        max_examples=max_examples,
        elementwise=True,
    )
