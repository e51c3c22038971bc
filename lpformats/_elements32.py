"""The scalar quantizers of :mod:`lpformats._elements` on float32 lanes, for float32 tensors
whose grid lies inside float32 (:func:`lpformats.quantize.float32_lanes_fit` decides).

They run the same algorithm with every intermediate kept in float32/int32, so each SIMD
register holds twice as many values and no 64-bit integer operation is needed (AVX2 has no
64-bit multiply, max or integer-to-float conversion). The results are bit-identical to the
float64 versions because every step is exact in float32 as well:

* scaling by a power of two is exact unless the result is below ``2**-126``; such a value
  (a tiny element of a block with a large shared exponent) is kept nonzero with its sign
  (:func:`keep_nonzero32`), and nearest and stochastic rounding (``R < 2**53``) of any
  nonzero ``|y| < 2**-53`` depend on its sign only;
* rounding an exact float32 to an integer is exact, and the integers (``|k| <= 2**24``) and
  the grid steps (``>= 2**-149``) are float32 numbers; a float grid's largest value is
  finite in float32, and a fixed-point value beyond it (``-128 * 2**121`` of bfp8) comes from
  one rounding of the exact product, as the float64 result stored as float32 does;
* stochastic rounding converts the scaled value to float64 (exactly) and runs
  :func:`~lpformats.rounding.round_to_integer` itself, with the same random numbers.

Only ``nearest`` and ``stochastic`` have float32 versions (the rounding modes that training
and the benchmarks use); the others run in float64.
"""

import numpy as np
from numba import njit

from lpformats._bitcast import float32_bits, pow2_32
from lpformats._elements import OVERFLOW_NAN, OVERFLOW_SATURATE
from lpformats.rounding import NEAREST, STOCHASTIC, round_to_integer

_FLT_TRUE_MIN = np.float32(2.0**-149)
_F32_ZERO = np.float32(0.0)


@njit(inline="always", cache=True)
def round32(y, mode, rand, rand_scale):
    """The float32 ``y`` rounded to an integer-valued float32: ties to even (``NEAREST``) or
    stochastically (``STOCHASTIC``, via float64: ``rand`` and ``rand_scale`` as in
    :func:`~lpformats.rounding.round_to_integer`)."""
    if mode == NEAREST:
        return np.rint(y)
    return np.float32(round_to_integer(np.float64(y), STOCHASTIC, rand, rand_scale))


@njit(inline="always", cache=True)
def keep_nonzero32(y, x):
    """:func:`~lpformats._elements.keep_nonzero` in float32: ``y`` (``x`` scaled by a power of
    two), or the smallest float32 of ``x``'s sign when that product underflowed to zero."""
    return np.copysign(_FLT_TRUE_MIN, x) if y == _F32_ZERO and x != _F32_ZERO else y


@njit(inline="always", cache=True)
def fixed_value32(x, scale_lo, scale_hi, unscale_lo, unscale_hi, kmin, kmax, mode, rand, rand_scale):
    """:func:`~lpformats._elements.fixed_value` (without ``wrap``) of the float32 ``x``:
    ``scale_lo * scale_hi = 2**fl`` and ``unscale_lo * unscale_hi = 2**-fl`` (float32 pairs,
    so that ``|fl|`` may exceed 127), ``kmin``/``kmax`` float32."""
    y = keep_nonzero32(x * scale_lo * scale_hi, x)
    k = min(max(round32(y, mode, rand, rand_scale), kmin), kmax) + _F32_ZERO
    return k * unscale_lo * unscale_hi


@njit(inline="always", cache=True)
def float_value32(x, man, emin, maxval, tiny, flush, no_negative_zero, overflow, mode, rand, rand_scale,
                  lift, lift_exp):
    """:func:`~lpformats._elements.float_value` for ``nearest``/``stochastic`` of the float32
    ``x``: ``man``/``emin`` int32, ``maxval`` and ``tiny = 2**emin`` float32 (``tiny`` is
    only read when ``flush``).

    ``lift = 2**lift_exp`` (``lift_exp = max(0, -126 - emin)``) scales ``x`` before its
    exponent is read, so that every exponent at or above ``emin`` is a normal float32's (the
    bits of a float32 subnormal do not give its exponent); the caller guarantees that
    ``x * lift`` stays finite (MX blocks: the shared exponent bounds the elements)."""
    lifted = x * lift
    exponent = np.int32(np.int32(np.int32(float32_bits(lifted) >> 23) & 0xFF) - 127)
    shift = np.int32(man + lift_exp - max(exponent, np.int32(emin + lift_exp)))  # x * 2**shift
    half = np.int32(shift >> 1)
    rest = np.int32(shift - half)
    y = x * pow2_32(half) * pow2_32(rest)
    if mode == STOCHASTIC:  # nearest rounds any |y| < 0.5 to zero with y's sign: nothing to keep
        y = keep_nonzero32(y, x)
    k = round32(y, mode, rand, rand_scale)
    q = k * pow2_32(np.int32(-half)) * pow2_32(np.int32(-rest))
    magnitude = abs(q)
    beyond = np.copysign(np.float32(np.nan) if overflow == OVERFLOW_NAN else np.float32(np.inf), x)
    clamped = np.copysign(maxval, x) if overflow == OVERFLOW_SATURATE else beyond
    q = clamped if magnitude > maxval else q
    q = _F32_ZERO if flush and magnitude < tiny else q
    signed_zero = _F32_ZERO if no_negative_zero else np.copysign(_F32_ZERO, x)
    return signed_zero if q == _F32_ZERO else q
