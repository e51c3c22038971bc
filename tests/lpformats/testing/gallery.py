"""A gallery of quantizers as users write them: correct ones and deliberately broken ones.

Each is plain numpy (the way a hardware model or a framework cast is written), not built on
lpformats, so the kit checks them as it would check anyone's code.
"""

from __future__ import annotations

import numpy as np

from lpformats import FixedPoint, FloatFormat


def _exponent(a: np.ndarray, emin: int) -> np.ndarray:
    """``floor(log2(a))`` from frexp (exact), at least ``emin``."""
    _, e = np.frexp(np.where(a > 0, a, 1.0))
    return np.maximum(e - 1, emin)


def float_quantizer(
    fmt: FloatFormat,
    *,
    ties: str = "even",
    exponent_bug: bool = False,
    saturate_off_by_one: bool = False,
    flush_subnormals: bool = False,
):
    """Round to an IEEE-style (``ieee`` or saturating) float format, nearest.

    ``ties``: ``even`` (correct), ``away`` (from zero) or ``up`` (toward +inf);
    ``exponent_bug``: results at exact powers of two get an exponent one too small (a
    significand that rounds up to 2 does not carry into the exponent: 1.9 -> 1.0, not 2.0);
    ``saturate_off_by_one``: saturate to the second-largest value instead of the largest;
    ``flush_subnormals``: results below the smallest normal become zero."""
    top, emin, man = fmt.max_value, fmt.emin, fmt.man

    def quantize(x: np.ndarray) -> np.ndarray:
        v = x.astype(np.float64)
        a = np.abs(v)
        ulp = np.ldexp(1.0, _exponent(a, emin) - man)
        y = np.where(np.isfinite(a), a / ulp, 0.0)
        if ties == "even":
            k = np.rint(y)
        elif ties == "away":
            k = np.floor(y + 0.5)
        else:  # up: toward +inf, in signed terms
            k = np.abs(np.floor(np.copysign(y, v) + 0.5))
        if exponent_bug:
            k = np.where(k == 2 ** (man + 1), 2**man, k)
        r = k * ulp
        if flush_subnormals:
            r = np.where(r < fmt.smallest_normal, 0.0, r)
        if fmt.saturates:
            limit = top - 2.0 ** (fmt.emax - man) if saturate_off_by_one else top
            r = np.minimum(np.where(np.isfinite(a), r, np.inf), limit)
        else:
            r = np.where((r > top) | ~np.isfinite(a), np.inf, r)
        out = np.copysign(r, v)
        return np.where(np.isnan(v), v, out).astype(x.dtype)

    return quantize


def fixed_quantizer(fmt: FixedPoint, *, saturate_off_by_one: bool = False):
    """Round to a saturating fixed-point format, nearest even, as ``rint(x * 2**fl)`` (which
    keeps the sign of zero: -0.25 becomes -0.0)."""
    kmax = fmt.kmax - 1 if saturate_off_by_one else fmt.kmax

    def quantize(x: np.ndarray) -> np.ndarray:
        k = np.clip(np.rint(np.ldexp(x.astype(np.float64), fmt.fl)), fmt.kmin, kmax)
        return np.ldexp(k, -fmt.fl).astype(x.dtype)

    return quantize


def _float_grid(x: np.ndarray, fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """``(y, ulp)``: ``x / ulp`` and the grid step at each element."""
    v = x.astype(np.float64)
    ulp = np.ldexp(1.0, _exponent(np.abs(v), fmt.emin) - fmt.man)
    return v / ulp, ulp


def stochastic_quantizer(
    fmt: FloatFormat,
    *,
    bits: int | None = None,
    shared: bool = False,
    inclusive: bool = False,
    seeded: bool = True,
    fixed_stream: bool = False,
):
    """Stochastic rounding ``floor(x / ulp + u) * ulp`` to a float format (in range).

    ``bits``: ``u = R / 2**bits`` with ``R`` uniform integers (None: numpy's 53-bit doubles);
    ``shared``: one random number for the whole tensor; ``inclusive``: with ``bits``, round up
    iff ``R <= 2**bits * frac`` (the biased ``<=`` where ``<`` is right);
    ``seeded=False``: ignores the seed; ``fixed_stream``: the same stream for every seed."""

    def quantize(x: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(0 if fixed_stream else seed if seeded else None)
        y, ulp = _float_grid(x, fmt)
        shape = () if shared else y.shape
        f = np.floor(y)
        frac = y - f
        if bits is None:
            up = rng.random(shape) < frac
        else:
            r = rng.integers(0, 1 << bits, size=shape)
            up = r <= frac * (1 << bits) if inclusive else r < frac * (1 << bits)
        return ((f + up) * ulp).astype(x.dtype)

    return quantize
