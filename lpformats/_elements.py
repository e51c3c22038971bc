"""Scalar quantizers of one float64 value onto a fixed-point or floating-point grid.

Both take the grid's position as run-time arguments, so block formats reuse them with a
per-block shift of the grid (a block with shared exponent ``X`` is the element grid scaled
by ``2**X``). All arithmetic is exact: only multiplications by powers of two and integer-valued
float64s below ``2**53`` occur.
"""

import numpy as np
from numba import njit

from lpformats._bitcast import exponent_of, pow2
from lpformats.rounding import DOWN, UP, ZERO, round_to_integer

#: Overflow behaviour codes of :func:`float_value`.
OVERFLOW_SATURATE, OVERFLOW_INF, OVERFLOW_NAN = 0, 1, 2
_DBL_MAX = np.finfo(np.float64).max
_DBL_TRUE_MIN = 5e-324


@njit(inline="always", cache=True)
def keep_nonzero(y, x):
    """``y``, the product of ``x`` and a power of two, or when that product underflowed to
    zero from a nonzero ``x``, the smallest float64 of ``x``'s sign: every rounding of a
    nonzero ``|y| < 2**-1022`` to an integer depends only on its sign, which underflow to
    zero would lose (``down`` of -1e-320 scaled by 2**-8 is -1, not 0)."""
    return np.copysign(_DBL_TRUE_MIN, x) if y == 0.0 and x != 0.0 else y


@njit(inline="always", cache=True)
def fixed_code(x, fl, mode, rand, rand_scale):
    """``x * 2**fl`` rounded to an integer-valued float64 (no range limit yet)."""
    return round_to_integer(keep_nonzero(x * pow2(fl), x), mode, rand, rand_scale)


@njit(inline="always", cache=True)
def fixed_in_range(k, kmin, kmax, wrap):
    """Integer code ``k`` brought into ``[kmin, kmax]``: saturated, or with ``wrap`` reduced
    modulo ``kmax - kmin + 1`` (two's complement). Infinities saturate even with ``wrap``.

    Branch-free (both results computed, one selected) so that loops over it vectorize even
    where LLVM does not unswitch the loop on ``wrap``."""
    span = kmax - kmin + 1.0  # 2**wl: dividing by it is exact
    wrapped = k - np.floor((k - kmin) / span) * span
    k = wrapped if wrap and abs(k) <= _DBL_MAX and (k < kmin or k > kmax) else k
    return min(max(k, kmin), kmax) + 0.0


@njit(inline="always", cache=True)
def fixed_value(x, fl, kmin, kmax, wrap, mode, rand, rand_scale):
    """``x`` rounded to ``k * 2**-fl`` with ``k`` in ``[kmin, kmax]``.

    Out-of-range ``k`` saturates, or with ``wrap`` is reduced modulo ``kmax - kmin + 1`` into
    the range (two's complement). Infinities saturate even with ``wrap``. ``fl`` in
    [-1022, 1022]; ``x`` must not be NaN.
    """
    k = fixed_in_range(fixed_code(x, fl, mode, rand, rand_scale), kmin, kmax, wrap)
    return k * pow2(-fl)


@njit(inline="always", cache=True)
def float_round(x, man, emin, mode, rand, rand_scale):
    """``x`` rounded to ``man`` mantissa bits above exponent ``emin`` (subnormal grid below),
    with unbounded exponent range: the result may exceed the format's largest value."""
    shift = man - max(exponent_of(x), emin)
    half = shift >> 1
    y = keep_nonzero(x * pow2(half) * pow2(shift - half), x)
    k = round_to_integer(y, mode, rand, rand_scale)
    return k * pow2(-half) * pow2(half - shift)


@njit(inline="always", cache=True)
def float_finish(q, x, emin, maxval, flush, no_negative_zero, overflow, mode):
    """Apply a float format's range rules to ``q = float_round(x, ...)``.

    Overflow (``|q| > maxval``, or an infinite ``x``): ``OVERFLOW_SATURATE`` clamps to
    +-maxval; ``OVERFLOW_INF``/``OVERFLOW_NAN`` give +-inf/NaN, except that finite inputs
    rounded toward zero, or toward the nearer end (``down`` for positive, ``up`` for negative
    ``x``), stop at +-maxval as IEEE 754 directed rounding does. ``flush``: nonzero results
    below ``2**emin`` become zero. Zero results carry the sign of ``x`` unless
    ``no_negative_zero``. NaN propagates.
    """
    magnitude = abs(q)
    toward_max = abs(x) <= _DBL_MAX and (
        mode == ZERO or (mode == DOWN and x > 0) or (mode == UP and x < 0)
    )
    beyond = np.copysign(np.nan if overflow == OVERFLOW_NAN else np.inf, x)
    clamped = np.copysign(maxval, x) if overflow == OVERFLOW_SATURATE or toward_max else beyond
    q = clamped if magnitude > maxval else q
    q = 0.0 if flush and magnitude < pow2(emin) else q
    signed_zero = 0.0 if no_negative_zero else np.copysign(0.0, x)
    return signed_zero if q == 0.0 else q


@njit(inline="always", cache=True)
def float_value(x, man, emin, maxval, flush, no_negative_zero, overflow, mode, rand, rand_scale):
    """``x`` rounded to a float format with ``man`` mantissa bits, smallest normal exponent
    ``emin`` and largest finite magnitude ``maxval`` (range rules: :func:`float_finish`)."""
    q = float_round(x, man, emin, mode, rand, rand_scale)
    return float_finish(q, x, emin, maxval, flush, no_negative_zero, overflow, mode)
