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
* stochastic rounding makes :func:`~lpformats.rounding.round_to_integer`'s decision from the
  top 30 bits of the same random numbers in int32 (:func:`stochastic_round32`); in the rare
  case where the lower bits would decide it says so, and the caller reruns the block on the
  float64 lanes.

Only ``nearest`` and ``stochastic`` have float32 versions (the rounding modes that training
and the benchmarks use); the others run in float64.
"""

import numpy as np
from numba import njit

from lpformats._bitcast import float32_bits, pow2_32
from lpformats._elements import OVERFLOW_NAN, OVERFLOW_SATURATE
from lpformats.rounding import NEAREST, STOCHASTIC

_FLT_TRUE_MIN = np.float32(2.0**-149)
_F32_ZERO = np.float32(0.0)
_F32_ONE = np.float32(1.0)


#: Random bits that the float32 lanes compare: the top ``min(nbits, TOP_BITS)`` bits of each
#: element's random number (:func:`lpformats.rng.mix64_top`), so that the sums below stay
#: inside int32.
TOP_BITS = 30


@njit(inline="always", cache=True)
def stochastic_round32(y, top, kbits):
    """Stochastic rounding of the float32 ``y`` in int32/float32 lanes: ``(k, at_edge)``.

    ``k = floor(y + R / 2**n)`` (an integer-valued float32), the result of
    :func:`~lpformats.rounding.round_to_integer` for the ``n``-bit random number ``R``, given
    only its top ``kbits = min(n, TOP_BITS)`` bits ``top = R >> (n - kbits)``. Where
    ``n > kbits``, ``k`` is not valid if ``at_edge``: there the lower bits of ``R`` decide
    (probability ``2**-kbits``, and only where ``|y|`` has fraction bits below
    ``2**-kbits``); where ``n <= kbits``, ``k`` is always right.

    Why this is the same decision. Let ``a = |y|``, ``F = a - floor(a)`` (exact in float32)
    and ``s = 2**n``. For ``y >= 0``, ``round_to_integer`` goes up (``|k| = floor(a) + 1``)
    iff ``R + s*F >= s``, i.e. iff ``W + floor(s*F) >= s`` with ``W = R`` (``R`` is an
    integer). For ``y < 0`` with ``F > 0`` it goes up (toward zero, ``|k| = floor(a)``) iff
    ``R >= s*F``; with ``W = s - 1 - R`` (``R``'s bits flipped) the magnitude grows
    (``|k| = floor(a) + 1``) iff ``R < s*F`` iff ``W + ceil(s*F) >= s``; for an integer
    ``y`` (``F = 0``) neither grows. So in both signs ``|k| = floor(a) + [W + c >= s]`` with
    ``c = floor(s*F)`` (``y >= 0``) or ``ceil(s*F)`` (``y < 0``). With ``d = n - kbits``,
    ``W = Wt * 2**d + Wl`` (``Wt = top`` or its flipped ``kbits`` bits, ``0 <= Wl < 2**d``)
    and ``u = 2**kbits * F`` (exact in float32):
    ``Wt + floor(u) >= 2**kbits`` implies ``W + c >= s`` (``c >= floor(u) * 2**d``), and
    ``Wt + ceil(u) <= 2**kbits - 1`` implies ``W + c < s`` (``W < (Wt + 1) * 2**d`` and
    ``c <= ceil(u) * 2**d``). The result below, ``Wt + (ceil(u) if y < 0 else floor(u)) >=
    2**kbits``, is therefore right except where ``u`` is not an integer and
    ``Wt + floor(u) = 2**kbits - 1`` (``at_edge``); when ``d = 0`` it is right there too (then
    ``u = s*F``, ``Wt = W`` and ``c = floor(u) + [y < 0]``: it grows for ``y < 0``). The code
    writes ``ceil(u)`` as ``floor(u) + 1`` where ``u`` is not an integer. Infinite and NaN
    ``y`` give ``F = 0`` here (``k = y``; the caller replaces NaN). Every sum is below
    ``2**31``. Tested against the Fraction reference in
    ``tests/lpformats/test_stochastic_round32.py``."""
    magnitude = abs(y)
    whole = np.floor(magnitude)
    frac = magnitude - whole
    frac = frac if frac < _F32_ONE else _F32_ZERO  # inf - inf and NaN: no fraction
    scaled = frac * pow2_32(kbits)
    below = np.floor(scaled)
    negative = y < _F32_ZERO
    limit = np.int32(np.int32(1) << np.int32(kbits))
    flipped = np.int32(top ^ np.int32(limit - np.int32(1)))
    w = flipped if negative else top
    fractional = below != scaled  # ceil(u) = floor(u) + 1
    total = np.int32(w + np.int32(below))
    at_edge = fractional & (total == np.int32(limit - np.int32(1)))
    grows = (total >= limit) | (at_edge & negative)
    k = np.copysign(whole + (_F32_ONE if grows else _F32_ZERO), y)
    return k, at_edge


@njit(inline="always", cache=True)
def round32(y, mode, top, kbits):
    """The float32 ``y`` rounded to an integer-valued float32, with an ``at_edge`` flag: ties
    to even (``NEAREST``, never at an edge) or :func:`stochastic_round32`."""
    if mode == NEAREST:
        return np.rint(y), False
    return stochastic_round32(y, top, kbits)


@njit(inline="always", cache=True)
def keep_nonzero32(y, x):
    """:func:`~lpformats._elements.keep_nonzero` in float32: ``y`` (``x`` scaled by a power of
    two), or the smallest float32 of ``x``'s sign when that product underflowed to zero."""
    return np.copysign(_FLT_TRUE_MIN, x) if y == _F32_ZERO and x != _F32_ZERO else y


@njit(inline="always", cache=True)
def fixed_value32(x, scale_lo, scale_hi, unscale_lo, unscale_hi, kmin, kmax, mode, top, kbits):
    """:func:`~lpformats._elements.fixed_value` (without ``wrap``) of the float32 ``x``, with
    :func:`round32`'s ``at_edge`` flag: ``scale_lo * scale_hi = 2**fl`` and
    ``unscale_lo * unscale_hi = 2**-fl`` (float32 pairs, so that ``|fl|`` may exceed 127),
    ``kmin``/``kmax`` float32."""
    y = keep_nonzero32(x * scale_lo * scale_hi, x)
    k, at_edge = round32(y, mode, top, kbits)
    k = min(max(k, kmin), kmax) + _F32_ZERO
    return k * unscale_lo * unscale_hi, at_edge


@njit(inline="always", cache=True)
def float_value32(x, man, emin, maxval, tiny, flush, no_negative_zero, overflow, mode, top, kbits,
                  lift, lift_exp):
    """:func:`~lpformats._elements.float_value` for ``nearest``/``stochastic`` of the float32
    ``x``, with :func:`round32`'s ``at_edge`` flag: ``man``/``emin`` int32, ``maxval`` and
    ``tiny = 2**emin`` float32 (``tiny`` is only read when ``flush``).

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
    k, at_edge = round32(y, mode, top, kbits)
    q = k * pow2_32(np.int32(-half)) * pow2_32(np.int32(-rest))
    magnitude = abs(q)
    beyond = np.copysign(np.float32(np.nan) if overflow == OVERFLOW_NAN else np.float32(np.inf), x)
    clamped = np.copysign(maxval, x) if overflow == OVERFLOW_SATURATE else beyond
    q = clamped if magnitude > maxval else q
    q = _F32_ZERO if flush and magnitude < tiny else q
    signed_zero = _F32_ZERO if no_negative_zero else np.copysign(_F32_ZERO, x)
    return (signed_zero if q == _F32_ZERO else q), at_edge
