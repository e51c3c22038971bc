"""Test helpers: exact comparison of float arrays and boundary-value inputs for a format."""

from __future__ import annotations

import numpy as np

from lpformats import FixedPoint, FloatFormat


def assert_same_values(actual, expected, inputs=None, what: str = "") -> None:
    """``actual`` and ``expected`` are the same numbers bit for bit as float64: equal values,
    NaN in the same places, zeros with the same sign. On failure, shows the first mismatches
    (with the ``inputs`` that produced them)."""
    with np.errstate(invalid="ignore"):  # signalling-NaN payloads warn when widened
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    same = (a == e) & (np.signbit(a) == np.signbit(e)) | (np.isnan(a) & np.isnan(e))
    if not same.all():
        bad = np.argwhere(~same)[:8]
        rows = []
        for idx in map(tuple, bad):
            x = "" if inputs is None else f"x={np.asarray(inputs)[idx]!r} "
            rows.append(f"  at {idx}: {x}got {a[idx]!r}, expected {e[idx]!r}")
        raise AssertionError(f"{what}: {int((~same).sum())} of {a.size} differ\n" + "\n".join(rows))


def boundary_inputs(fmt: FixedPoint | FloatFormat, dtype=np.float64, limit: int = 1500,
                    seed: int = 0) -> np.ndarray:
    """Inputs that probe every rounding decision of a scalar format: its values (a random
    subset of ``limit`` for large formats), the midpoints between neighbours, the nearest
    ``dtype`` numbers on both sides of each, the overflow threshold and beyond, the
    subnormal range, zeros and infinities."""
    rng = np.random.default_rng(seed)
    grid = fmt.values()
    grid = grid[np.isfinite(grid)]
    if grid.size > limit:
        pick = np.sort(rng.choice(grid.size - 1, limit, replace=False))
        lower, upper = grid[pick], grid[pick + 1]
    else:
        lower, upper = grid[:-1], grid[1:]
    top = fmt.max_value
    step_top = top - grid[-2]
    tiny = fmt.smallest_subnormal
    specials = np.array([
        0.0, top, top + step_top / 2, top + step_top, 2 * top, 1e30, tiny / 2, tiny / 4,
        tiny * 0.75, tiny * 1.5, fmt.smallest_normal * 0.99, np.inf,
    ])
    points = np.concatenate([lower, upper, (lower + upper) / 2, specials])
    with np.errstate(over="ignore"):  # points beyond dtype's range become inf, also a test
        points = np.concatenate([points, -points]).astype(dtype)
    finite = points[np.isfinite(points)]
    around = np.concatenate([np.nextafter(finite, np.inf, dtype=dtype),
                             np.nextafter(finite, -np.inf, dtype=dtype)])
    return np.concatenate([points, around, np.array([-0.0], dtype=dtype)])

