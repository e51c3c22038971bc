"""Readable descriptions of inputs and results: where an input lies relative to a format's
grid (a value, a tie, beyond the largest finite value, ...) and a result's format code."""

from __future__ import annotations

import numpy as np

import lpformats as lp
from lpformats.formats import FixedPoint, FloatFormat
from lpformats.testing.compare import same_values, show


def _scalar(fmt: object) -> bool:
    return isinstance(fmt, (FixedPoint, FloatFormat))


def locate(x: float, fmt: object) -> str:
    """Where ``x`` lies for a scalar format, e.g. ``the midpoint (tie) of 0.5 and 0.625``."""
    v = float(x)
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "+inf" if v > 0 else "-inf"
    if not _scalar(fmt):
        return ""
    top = fmt.max_value
    low = fmt.min_value if isinstance(fmt, FixedPoint) else -top
    if v > top or v < low:
        end = top if v > 0 else low
        return f"beyond the largest finite value {end!r} by {abs(v - end)!r}"
    lo, hi = (float(lp.quantize(np.array([v]), fmt, mode)[0]) for mode in ("down", "up"))
    where = ""
    if isinstance(fmt, FloatFormat) and 0 < abs(v) < fmt.smallest_normal:
        where = " (subnormal range)" if fmt.subnormals else " (below the smallest normal: flushed)"
    if lo == hi:
        what = "the largest finite value" if abs(v) == top else "zero" if v == 0 else "a value"
        return f"{what} of {fmt}{where}"
    mid = (lo + hi) / 2
    if v == mid:
        return f"the midpoint (tie) of {lo!r} and {hi!r}{where}"
    side = "below" if v < mid else "above"
    return f"between {lo!r} and {hi!r}, {side} the midpoint by {abs(v - mid)!r}{where}"


def code_of(value: float, fmt: object) -> str:
    """``code 0x38`` when ``value`` is a value of the scalar format ``fmt`` (NaN: its NaN
    code), ``not a value of FMT`` otherwise; empty for block formats."""
    if not _scalar(fmt):
        return ""
    v = np.array([float(value)])
    if np.isnan(v[0]) and not (isinstance(fmt, FloatFormat) and fmt.has_nan):
        return f"not a value of {fmt}"
    try:
        on_grid = same_values(
            lp.quantize(v, fmt, "nearest", nan="zero" if not np.isnan(v[0]) else None), v, nan_payload="any"
        )[0]
    except ValueError:
        on_grid = False
    if not on_grid:
        return f"not a value of {fmt}"
    code = int(np.asarray(lp.encode(v, fmt))[0])
    return f"code 0x{code:0{(fmt.bits + 3) // 4}x}"


def show_result(value: float, dtype: np.dtype, fmt: object) -> str:
    """``0.625 (0x3f200000), code 0x32``."""
    code = code_of(value, fmt)
    return show(value, dtype) + (f", {code}" if code else "")


#: How a tie can be broken, as a function of (lo, hi): the result it picks.
TIE_RULES = {
    "away from zero": lambda lo, hi: np.where(np.abs(hi) >= np.abs(lo), hi, lo),
    "toward zero": lambda lo, hi: np.where(np.abs(hi) < np.abs(lo), hi, lo),
    "up, toward +inf": lambda lo, hi: hi,
    "down, toward -inf": lambda lo, hi: lo,
}


def _tie_rule(lo: np.ndarray, hi: np.ndarray, actual: np.ndarray) -> str:
    """The tie-breaking rule that explains the most of these results, e.g. ``all rounded
    away from zero`` or ``12 of 14 rounded up (toward +inf)``."""
    best, hits = "", -1
    for name, rule in TIE_RULES.items():
        count = int((rule(lo, hi) == actual).sum())
        if count > hits:
            best, hits = name, count
    if hits == 0:
        return "none rounded to a neighbour"
    return f"all rounded {best}" if hits == actual.size else f"{hits} of {actual.size} rounded {best}"


def summarize(x: np.ndarray, actual: np.ndarray, bad: np.ndarray, fmt: object) -> str:
    """One line counting the mismatching inputs by kind (ties, with the rule they follow;
    between neighbours; values of the format; beyond the range; subnormal; inf; NaN) for
    scalar formats; empty for block formats."""
    if not _scalar(fmt) or bad.size == 0:
        return ""
    v = x.reshape(-1)[bad].astype(np.float64)
    got = actual.reshape(-1)[bad]
    finite = np.isfinite(v)
    low = fmt.min_value if isinstance(fmt, FixedPoint) else -fmt.max_value
    beyond = finite & ((v > fmt.max_value) | (v < low))
    inside = finite & ~beyond
    lo = np.full(v.shape, np.nan)
    hi = np.full(v.shape, np.nan)
    lo[inside] = lp.quantize(v[inside], fmt, "down")
    hi[inside] = lp.quantize(v[inside], fmt, "up")
    value = inside & (lo == hi)
    tie = inside & ~value & (v == (lo + hi) / 2)
    between = inside & ~value & ~tie
    small = inside & (v != 0) & (np.abs(v) < fmt.smallest_normal) if isinstance(fmt, FloatFormat) else None
    parts = []
    if tie.any():
        parts.append(f"{int(tie.sum())} ties ({_tie_rule(lo[tie], hi[tie], got[tie])})")
    for mask, what in (
        (between, "between neighbours, not ties"),
        (value & (v != 0), "values of the format"),
        (value & (v == 0), "zeros"),
        (beyond, "beyond the largest finite value"),
        (np.isinf(v), "infinities"),
        (np.isnan(v), "NaNs"),
    ):
        if mask.any():
            parts.append(f"{int(mask.sum())} {what}")
    if small is not None and small.any():
        parts.append(f"({int(small.sum())} of them below the smallest normal)")
    return "mismatches by input: " + ", ".join(parts)
