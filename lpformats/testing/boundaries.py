"""Inputs that probe every rounding decision of a format (numpy only, no Hypothesis).

* :func:`boundary_values`: for a scalar format, its values, the exact midpoints between
  neighbours, the nearest float32/float64 numbers on both sides of each, the largest finite
  value, half an ulp and one ulp beyond it, the subnormal range, +-0, +-Inf and NaN.
* :func:`stochastic_probes`: points between two neighbours at up-probabilities chosen to
  expose stochastic rounding with too few random bits (``2**-12``, ``1 - 2**-12``, ...).
* :func:`block_tensor`: a tensor of a block format whose blocks have chosen shared exponents
  and elements that saturate, flush to zero or tie (the builder behind the Hypothesis
  strategy :func:`lpformats.testing.strategies.block_arrays`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import lpformats as lp
from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, MXFormat

ScalarFormat = FixedPoint | FloatFormat
BlockFormat = BlockFloat | MXFormat


def check_scalar_format(fmt: object, what: str) -> ScalarFormat:
    """Parse ``fmt`` and require a scalar (FixedPoint or FloatFormat) format."""
    fmt = lp.parse(fmt)
    if not isinstance(fmt, (FixedPoint, FloatFormat)):
        raise ValueError(
            f"{what} needs a scalar format (FixedPoint or FloatFormat); got {fmt}, "
            "a block format: give whole tensors, e.g. from strategies.block_arrays"
        )
    return fmt


def next_value_up(values: np.ndarray, fmt: ScalarFormat) -> np.ndarray:
    """For finite grid values of ``fmt`` (float64), the next larger grid value (inf or the
    style's overflow result past the largest finite value)."""
    with np.errstate(over="ignore"):
        return lp.quantize(np.nextafter(values, np.inf), fmt, "up")


def grid_pairs(fmt: ScalarFormat, limit: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Neighbouring finite values ``(lower, upper)`` of ``fmt``: all of them for formats of at
    most 16 bits with fewer than ``limit`` pairs, else ``limit`` random pairs (plus the pairs
    at both ends of the range and around 1)."""
    rng = np.random.default_rng(seed)
    if fmt.bits <= 16:
        grid = fmt.values()
        grid = grid[np.isfinite(grid)]
        if grid.size - 1 <= limit:
            return grid[:-1], grid[1:]
        pick = np.sort(rng.choice(grid.size - 1, limit, replace=False))
        keep = np.unique(np.concatenate([pick, [0, grid.size - 2]]))
        return grid[keep], grid[keep + 1]
    lower = _random_grid_values(fmt, limit, rng)
    lower = np.unique(
        np.concatenate(
            [lower, [fmt.min_value if isinstance(fmt, FixedPoint) else -fmt.max_value, 1.0, -1.0, 0.0]]
        )
    )
    lower = lp.quantize(lower[lower < fmt.max_value], fmt, "down")
    return lower, next_value_up(lower, fmt)


def _random_grid_values(fmt: ScalarFormat, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random finite values of a format wider than 16 bits (uniform over codes)."""
    if isinstance(fmt, FixedPoint):
        k = rng.integers(fmt.kmin, fmt.kmax, size=count, endpoint=False)
        return np.ldexp(k.astype(np.float64), -fmt.fl)
    field = rng.integers(0, fmt.max_exponent_field + 1, size=count)
    man = rng.integers(0, 1 << min(fmt.man, 62), size=count).astype(np.float64)
    man = np.ldexp(man, -min(fmt.man, 62))
    magnitude = np.where(field == 0, np.ldexp(man, fmt.emin), np.ldexp(1.0 + man, field - fmt.bias))
    values = np.where(rng.integers(0, 2, size=count) == 1, -magnitude, magnitude)
    values = values[np.abs(values) <= fmt.max_value]
    return lp.quantize(values, fmt, "zero")


def clip_to_range(x: np.ndarray, fmt: ScalarFormat) -> np.ndarray:
    """``x`` clipped into a scalar format's finite range ``[min, max]``, keeping its dtype."""
    low = fmt.min_value if isinstance(fmt, FixedPoint) else -fmt.max_value
    return np.clip(x, low, fmt.max_value).astype(x.dtype)


def special_values(fmt: ScalarFormat) -> np.ndarray:
    """Zero, the largest finite value and half an ulp, one ulp and far beyond it, the
    subnormal range, the smallest normal and just below, and infinity (positive side)."""
    top = fmt.max_value
    step_top = top - float(lp.quantize(np.array([np.nextafter(top, 0.0)]), fmt, "down")[0])
    tiny = fmt.smallest_subnormal
    return np.array(
        [
            0.0,
            top,
            top + step_top / 2,
            top + step_top,
            2 * top,
            1e30,
            tiny / 2,
            tiny / 4,
            tiny * 0.75,
            tiny * 1.5,
            tiny,
            fmt.smallest_normal,
            fmt.smallest_normal * 0.99,
            np.inf,
        ]
    )


def boundary_values(
    fmt: object, dtype: object = np.float32, limit: int = 1500, seed: int = 0, nan: bool = True
) -> np.ndarray:
    """Inputs (1-D, ``dtype``) that probe every rounding decision of a scalar format.

    Args:
        fmt: a scalar format or its spelling.
        dtype: float16, float32 or float64: the input type of the quantizer under test.
        limit: at most this many neighbour pairs (random ones for larger formats).
        seed: which random pairs.
        nan: include +-NaN (pass False for quantizers that reject NaN).

    Returns:
        Grid values, midpoints between neighbours, the nearest ``dtype`` numbers on both
        sides of each, :func:`special_values` and their negatives, ``-0.0`` and NaN. Points
        beyond ``dtype``'s range become +-inf.
    """
    fmt = check_scalar_format(fmt, "boundary_values")
    dtype = np.dtype(dtype)
    lower, upper = grid_pairs(fmt, limit, seed)
    points = np.concatenate([lower, upper, (lower + upper) / 2, special_values(fmt)])
    with np.errstate(over="ignore"):
        points = np.unique(np.concatenate([points, -points])).astype(dtype)
    finite = points[np.isfinite(points)]
    with np.errstate(over="ignore"):  # the neighbours of dtype's largest value are infinite
        around = np.concatenate(
            [np.nextafter(finite, np.inf, dtype=dtype), np.nextafter(finite, -np.inf, dtype=dtype)]
        )
    extra = [-0.0, np.nan, -np.nan] if nan else [-0.0]
    return np.concatenate([points, around, np.array(extra, dtype=dtype)])


#: Up-probabilities of :func:`stochastic_probes`: 0 (on the grid), 1/2, and fractions whose
#: binary expansions need many random bits (coarse random numbers round them wrongly).
PROBE_FRACTIONS = (
    0.0,
    0.5,
    0.25,
    2.0**-12,
    1 - 2.0**-12,
    2.0**-7 + 2.0**-30,
    0.5 - 2.0**-20,
    0.5 + 2.0**-20,
    1 / 3,
    2 / 3,
    0.1,
    0.9,
)


def stochastic_probes(fmt: object, fractions: Sequence[float] = PROBE_FRACTIONS) -> np.ndarray:
    """float64 points ``lo + f * (hi - lo)`` between neighbouring values ``lo < hi`` of a scalar
    format, for each up-probability ``f`` in ``fractions``, in three places: around 1, at the
    top of the range and between zero and the smallest positive value; and their negatives.

    Used with :func:`lpformats.testing.assert_unbiased`: ``f = 2**-12`` goes up only when
    the random number has more than 12 bits, so 8-bit stochastic rounding never rounds it up.
    """
    fmt = check_scalar_format(fmt, "stochastic_probes")
    top = fmt.max_value
    below_top = float(lp.quantize(np.array([np.nextafter(top, 0.0)]), fmt, "down")[0])
    one = float(lp.quantize(np.array([1.0]), fmt, "down")[0]) if top >= 1 else below_top
    pairs = [
        (one, float(next_value_up(np.array([one]), fmt)[0])),
        (below_top, top),
        (0.0, fmt.smallest_subnormal),
    ]
    points = [lo + f * (hi - lo) for lo, hi in pairs for f in fractions]
    signed = FixedPoint if isinstance(fmt, FixedPoint) and not fmt.signed else None
    values = np.array(points, dtype=np.float64)
    if signed is None:
        values = np.concatenate([values, -values[values != 0]])
        if isinstance(fmt, FixedPoint):
            values = values[values >= fmt.min_value]
    return values


# ------------------------------------------------------------------------- block formats
#: What an element of a generated block is, relative to its block's grid.
ELEMENT_KINDS = ("value", "tie", "tie_neighbour", "saturate", "flush", "random")


def _element_grid(fmt: BlockFormat, exponent: int) -> np.ndarray:
    """Finite values a block with ``floor(log2(max|x|)) == exponent`` can hold."""
    if isinstance(fmt, BlockFloat):
        lo, hi = fmt.exponent_range
        grid = fmt.values(min(max(exponent, lo), hi))
    else:
        grid = fmt.values(min(max(exponent - fmt.element_emax, -127), 127))
    return grid[np.isfinite(grid)]


def block_exponent_choices(fmt: BlockFormat, dtype: object = np.float32) -> list[int]:
    """Shared exponents worth testing: around 0 and at both clamp ends (and one beyond),
    those whose blocks ``dtype`` can hold (``2**(e+1)`` finite, ``2**(e-30)`` normal)."""
    if isinstance(fmt, BlockFloat):
        lo, hi = fmt.exponent_range
    else:
        lo, hi = -127 + fmt.element_emax, 127 + fmt.element_emax
    choices = {-3, -1, 0, 1, 4, lo, lo - 1, hi, hi + 1}
    info = np.finfo(dtype)
    return sorted(e for e in choices if e + 1 <= info.maxexp - 1 and e - 30 >= info.minexp)


def block_of(
    fmt: BlockFormat, exponent: int, kinds: Sequence[str], pick: Callable[[int], int], dtype: np.dtype
) -> np.ndarray:
    """One block: a leading element ``2**exponent * (1 + ...)`` that fixes the shared
    exponent, then one element per entry of ``kinds`` (:data:`ELEMENT_KINDS`), signs and
    grid positions chosen by ``pick(n) -> 0..n-1``."""
    grid = _element_grid(fmt, exponent)
    positive = grid[grid > 0]
    step = float(np.min(np.diff(grid))) if grid.size > 1 else 2.0**exponent
    anchor = math.ldexp(1.0, exponent) * (1 + pick(4) / 4)
    out = [anchor]
    for kind in kinds:
        if kind == "value":
            v = float(grid[pick(grid.size)])
        elif kind == "tie" or kind == "tie_neighbour":
            i = pick(grid.size - 1)
            v = float((grid[i] + grid[i + 1]) / 2)
            if kind == "tie_neighbour":
                v = float(np.nextafter(np.array(v, dtype=dtype), (-1) ** pick(2) * np.inf))
        elif kind == "saturate":
            v = float(np.nextafter(np.array(2 * math.ldexp(1.0, exponent), dtype=dtype), 0))
        elif kind == "flush":
            v = step * (0.25, 0.5, 0.75, 2.0**-30)[pick(4)]
        else:
            v = float(positive[-1]) * pick(1 << 16) / (1 << 16)
        out.append(-v if pick(2) else v)
    with np.errstate(over="ignore", under="ignore"):
        return np.array(out, dtype=np.float64).astype(dtype)


def arrange_blocks(blocks: np.ndarray, fmt: BlockFormat) -> np.ndarray:
    """Lay out ``blocks`` (shape ``(n, L)``, one block per row) as a tensor in which each
    row is one block of ``fmt``: ``n`` rows along the block axis (1-D for a whole-tensor BFP
    block); for sized blocks, the rows are padded with zeros to the block size."""
    n, length = blocks.shape
    if isinstance(fmt, BlockFloat) and fmt.block_size is None:
        if fmt.block_axis is None:
            return blocks[0]
        return blocks if fmt.block_axis in (0, -2) else blocks.T
    size = fmt.block_size
    padded = np.zeros((n, max(size, length)), dtype=blocks.dtype)
    padded[:, :length] = blocks
    tensor = padded[:, :size].reshape(1, n * size)
    axis = fmt.axis if isinstance(fmt, MXFormat) else -1
    return tensor if axis in (-1, 1) else tensor.T


def block_tensor(
    fmt: object, dtype: object = np.float32, blocks: int = 3, elements: int = 6, seed: int = 0
) -> np.ndarray:
    """A random tensor of ``blocks`` blocks of ``fmt`` (BlockFloat or MXFormat) built by
    :func:`block_of` with random exponents from :func:`block_exponent_choices` and random
    element kinds (numpy's generator with ``seed``)."""
    fmt = lp.parse(fmt)
    if not isinstance(fmt, (BlockFloat, MXFormat)):
        raise ValueError(f"block_tensor needs a block format (BlockFloat or MXFormat); got {fmt}")
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    choices = block_exponent_choices(fmt, dtype)
    if isinstance(fmt, BlockFloat) and fmt.block_axis is None and fmt.block_size is None:
        blocks = 1
    if isinstance(fmt, (BlockFloat, MXFormat)) and getattr(fmt, "block_size", None):
        elements = max(0, min(elements, fmt.block_size - 1))
    rows = []
    for _ in range(blocks):
        kinds = [ELEMENT_KINDS[i] for i in rng.integers(0, len(ELEMENT_KINDS), size=elements)]
        exponent = choices[int(rng.integers(0, len(choices)))]
        rows.append(block_of(fmt, exponent, kinds, lambda n: int(rng.integers(0, n)), dtype))
    return arrange_blocks(np.stack(rows), fmt)
