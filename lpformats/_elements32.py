"""The scalar quantizers of :mod:`lpformats._elements` on float32 lanes, for float32 tensors
whose grid lies inside float32 (:func:`lpformats.quantize.float32_lanes_fit` decides).

They round the float32 bit pattern with int32 operations, so each SIMD register holds twice
as many values as float64 would, no 64-bit integer operation is needed (AVX2 has no 64-bit
multiply, max or integer-to-float conversion) and no float rounding instruction either. The
results are bit-identical to the float64 versions (:func:`~lpformats._elements.float_value`,
:func:`~lpformats._elements.fixed_value` stored as float32): :func:`value32` says why.

Only ``nearest`` and ``stochastic`` have float32 versions (the rounding modes that training
and the benchmarks use); the others run in float64.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from lpformats._bitcast import (
    bits_float32,
    float32_bits,
    max32,
    min32,
    pow2,
    pow2_32,
    shift_left32,
    shift_right32,
)
from lpformats._elements import OVERFLOW_NAN, OVERFLOW_SATURATE
from lpformats.rounding import NEAREST

#: Random bits that the float32 lanes read: the top ``min(nbits, TOP_BITS)`` bits of each
#: element's random number (:func:`lpformats.rng.mix64_top`), so that the sums below stay
#: inside int32.
TOP_BITS = 30

_FRAME = np.int32(1 << TOP_BITS)
_FRAME_MASK = np.int32((1 << TOP_BITS) - 1)
_FRAME_FLOAT = np.float32(1 << TOP_BITS)
_MAGNITUDE = np.int32(0x7FFFFFFF)
_SIGN = np.int32(-(1 << 31))
#: The most significand bits a float32 drops while its result stays in its own binade or
#: carries into the next (the 23 fraction bits).
_FRACTION_BITS = 23
_INF_BITS = 0x7F800000
_NAN_BITS = 0x7FC00000  # the NaN that float64's copysign(nan, x) becomes in float32
_ONE = np.int32(1)
_IMPLICIT = np.int32(1 << 23)


@njit(inline="always", cache=True)
def frame30(top, kbits):
    """Element ``R``'s top ``kbits`` bits ``top`` (``R`` of ``n`` bits, ``kbits = min(n,
    TOP_BITS)``) moved to the top of a :data:`TOP_BITS`-bit frame: ``R30 = top * 2**(30 -
    kbits)``, i.e. ``R * 2**(30 - n)`` rounded down (exact where ``n <= 30``). ``R / 2**n =
    (R30 + d) / 2**30`` with ``0 <= d < 1``, and ``d = 0`` where ``n <= 30``."""
    return shift_left32(top, np.int32(TOP_BITS - kbits))


@njit(inline="always", cache=True)
def round_bits32(mag, t, negative, mode, r30):
    """The float32 of bit pattern ``mag >= 0`` (finite or inf) rounded to a multiple of
    ``2**t`` units of its last place, ``0 <= t <= 23``, as a bit pattern: ``nearest`` (ties
    to even) or ``stochastic`` (the magnitude of ``floor(x + R / 2**n)`` of the signed value
    ``x``, ``negative`` = -1 if ``x < 0`` else 0, ``r30`` = :func:`frame30`).

    Why. Within a binade the pattern is ``E * 2**23 + f`` and the value is ``M * 2**(E -
    150)`` with ``M = 2**23 + f`` (subnormals: ``f * 2**-149``, the same unit as ``E = 1``);
    ``2**23`` is a multiple of ``2**t``, so rounding ``M`` to a multiple of ``2**t`` is
    rounding the pattern, and a carry out of the fraction field gives the next binade's
    first value ``2**24 * 2**(E - 150)``, also a multiple (an overflow past the largest
    float32 gives inf's pattern). Both modes are ``(M + W) & ~(2**t - 1)``:

    * ``nearest``: ``W = 2**(t-1) - 1 + lsb`` (``lsb`` the last kept bit, bit ``t`` of
      ``M``: of the pattern for ``t <= 22``, and 1 for ``t = 23``, where the pattern holds
      the exponent's last bit instead; the callers give ``t = 23`` only to normal ``x``),
      written as ``(2**t - 1 + lsb) >> 1`` so that ``t = 0`` gives ``W = 0``;
    * ``stochastic``, ``x >= 0``: ``floor(M / 2**t + R / 2**n)``. With ``Rt = r30 >> (30 -
      t) = floor(R / 2**(n - t))`` (``t <= 30``): ``M * 2**(n-t) + R = (M + Rt) * 2**(n-t) +
      Rl`` with ``0 <= Rl < 2**(n-t)``, which cannot reach the next multiple of ``2**n``
      past ``(M + Rt) * 2**(n-t)``, so the result is ``floor((M + Rt) / 2**t)``: ``W = Rt``.
      Where ``n < t`` the same holds with ``Rt = R * 2**(t - n)``, which ``r30 >> (30 - t)``
      also is. No random bit below the top ``t`` matters, so 30 are always enough;
    * ``stochastic``, ``x < 0``: the magnitude is ``ceil(M / 2**t - R / 2**n) = ceil((M -
      Rt) / 2**t)`` (the same argument; where ``Rl > 0``, ``ceil((m - 1 + d) / 2**t) =
      ceil(m / 2**t)`` for an integer ``m`` and ``0 < d < 1``) ``= floor((M + 2**t - 1 -
      Rt) / 2**t)``: ``W = Rt`` with its ``t`` bits flipped.

    Sums stay below ``2**31`` for finite ``mag``."""
    mask = np.int32(shift_left32(_ONE, t) - _ONE)
    if mode == NEAREST:
        kept_lsb = shift_right32(np.int32(mag | _IMPLICIT), t) & _ONE  # t = 23 keeps M's leading 1
        w = shift_right32(np.int32(mask + kept_lsb), _ONE)
    else:
        w = np.int32(shift_right32(r30, np.int32(TOP_BITS - t)) ^ (mask & negative))
    return np.int32(np.int32(mag + w) & ~mask)


@njit(inline="always", cache=True)
def round_below_step32(magnitude, mag, negative, mode, r30, grid, simple):
    """``(pattern, at_edge)``: the magnitude ``|x| = magnitude`` (float32, bit pattern ``mag``)
    below the grid step ``g = 2**G`` (:class:`Grid32` ``step``) rounded to ``0`` or ``g``, as a
    pattern; ``x``'s sign ``negative`` (-1 or 0).

    ``nearest``: ``g`` iff ``|x| > g / 2`` (``half_step``; a tie goes to the even 0).

    ``stochastic``: with ``A = |x| * 2**(30 - G) < 2**30``, ``x >= 0`` grows iff ``R / 2**n +
    A / 2**30 >= 1`` iff ``R30 + d + A >= 2**30`` (:func:`frame30`), and ``x < 0`` grows iff
    ``R30 + d < A``. With ``a = floor(A)`` and ``c = ceil(A)``: where ``d = 0`` (``n <= 30``)
    these are ``R30 + a >= 2**30`` and ``W + c >= 2**30`` (``W = 2**30 - 1 - R30``); where
    ``A`` is an integer they hold whatever ``d``. Otherwise (``n > 30``, ``A`` not an integer)
    they are the same except where ``R30 + a = 2**30 - 1`` (``x >= 0``) or ``R30 = a``
    (``x < 0``), i.e. ``W' + a = 2**30 - 1`` with ``W'`` = ``R30`` or ``W``: there the bits of
    ``R`` below the top 30 may decide, and ``at_edge`` says so (the caller reruns the block
    on float64 lanes, which is exact whether or not they did; probability ``2**-30`` per
    element below the step). ``A`` is clamped to ``2**30``, so that elements at or above the
    step, inf and NaN (whose results the caller takes elsewhere) give ``W' + a >= 2**30``,
    never an edge.

    ``A`` is ``|x| * tiny_scale * tiny_scale_hi`` (powers of two, both at least 1 or both at
    most 1). Scaling up (``G <= 30``) is exact. Scaling down, a product of at least
    ``2**-126`` is exact, and a smaller one may round or underflow; but then ``a = 0`` and
    ``A`` is not an integer for every ``x != 0``, which the float kept at or above the
    smallest float32 for ``x != 0`` still shows. ``simple`` says that ``G <= 30``."""
    if mode == NEAREST:
        return (grid.step if mag > grid.half_step else np.int32(0)), False
    scaled = magnitude * grid.tiny_scale * grid.tiny_scale_hi
    if not simple:
        scaled = bits_float32(max32(float32_bits(scaled), min32(mag, _ONE)))  # x != 0: not zero
    scaled = scaled if scaled < _FRAME_FLOAT else _FRAME_FLOAT  # |x| >= g, inf, NaN: 2**30
    whole = np.int32(scaled)
    fractional = np.int32(-np.int32(np.float32(whole) != scaled))  # -1 or 0
    total = np.int32(np.int32(r30 ^ (negative & _FRAME_MASK)) + whole)
    grows = np.int32(total - (negative & fractional)) >= _FRAME  # x < 0: ceil(A)
    return (grid.step if grows else np.int32(0)), total == _FRAME_MASK


#: The constants of :func:`value32` for one grid (one block): ``step`` ``g = 2**G`` of the
#: finest binade, ``half_step`` (``g / 2``), ``limit``, ``over`` and ``flush`` as float32 bit
#: patterns (int32); ``c1``/``c2`` give the step of ``x``'s binade (see :func:`value32`);
#: ``tiny_scale * tiny_scale_hi = 2**(30 - G)`` (:func:`round_below_step32`); ``simple`` is
#: true where ``G <= 30`` and nothing is lifted. Float grids: ``limit`` the largest value,
#: ``over`` what overflow gives, ``flush`` the smallest normal where subnormals flush (else
#: 0), ``zero`` +0.0 where zero has no sign (else -0.0), ``lift``/``unlift`` ``2**+-lift``. Fixed
#: point: ``low``/``high`` the values of ``kmin``/``kmax``, ``scale_lo * scale_hi = 2**fl``,
#: ``unscale_lo * unscale_hi = 2**-fl``.
Grid32 = namedtuple("Grid32", (
    "c1", "c2", "exponent_floor", "step", "half_step", "tiny_scale", "tiny_scale_hi", "simple", "limit",
    "over", "flush", "zero", "lift", "unlift", "low", "high", "scale_lo", "scale_hi", "unscale_lo",
    "unscale_hi"))


@njit(inline="always", cache=True)
def _saturate32(value, grid):
    """A fixed-point ``value`` (float32) clamped to ``[grid.low, grid.high]``, every zero made
    ``+0`` (``-0 + 0 = +0``)."""
    value = grid.high if value > grid.high else value
    value = grid.low if value < grid.low else value
    return value + np.float32(0.0)


@njit(inline="always", cache=True)
def value32(x, grid, is_float, mode, r30, simple):
    """``x`` (float32) rounded onto ``grid`` (:func:`float_grid32` if ``is_float``, else
    :func:`fixed_grid32`), ``nearest`` or ``stochastic`` with ``r30`` (:func:`frame30`):
    ``(value, at_edge)``, the float32 that :func:`~lpformats._elements.float_value` /
    :func:`~lpformats._elements.fixed_value` give on float64 lanes, unless ``at_edge`` where
    ``n > 30`` (:func:`round_below_step32`: the float64 lanes must decide; where ``n <= 30``
    the value is right whatever the flag). ``simple``: the grid's
    ``simple`` (a constant, so that the loop specialises). NaN ``x``: any value (the caller
    replaces it).

    The grid step where ``x`` lies is ``2**G(x)``: ``2**(max(e, emin) - man)`` for a float
    format (``e`` the binade of ``x``), the constant ``2**-fl`` for fixed point. In units of
    ``x``'s last place (``2**(E - 150)``, ``E`` the biased exponent, at least 1) the step is
    ``2**t`` with ``t = G(x) + 150 - E`` (float: ``max(23 - man, c2 - E)``, fixed: ``max(c2 -
    E, 0)``; ``c2 = G + 150``, ``2**G`` the step of the finest binade). Where ``|x| >= 2**G``,
    ``t <= 23`` (a normal ``x`` with ``t >= 24`` is below ``2**(E - 126) <= 2**G``; a
    subnormal one at or above ``2**G`` has ``t = G + 149 <= 22``): :func:`round_bits32` rounds
    it. Where ``|x| < 2**G`` the result is ``0`` or ``2**G``: :func:`round_below_step32`.
    Reading ``E`` as at least ``exponent_floor = max(1, c2 - 23)`` gives both ``E >= 1`` and
    ``t <= 23`` in one operation (``t`` is unchanged wherever it is at most 23).
    Then the range rules of :func:`~lpformats._elements.float_finish`, on patterns (ordered as
    magnitudes are): above the largest value the overflow value; below ``2**emin`` zero
    where subnormals flush; the sign of ``x`` (NaN and inf included), except on a zero result
    where the grid has no negative zero (adding ``zero``, ``+0`` there and ``-0`` elsewhere,
    changes nothing else). A float grid with ``emin < -126`` (MX blocks of tiny
    scale) is lifted: ``x * 2**lift`` is rounded on the grid scaled alike and the result
    scaled back, both exact (the caller guarantees ``x * 2**lift`` is finite; results are
    multiples of a step of at least ``2**-149``), so that subnormal ``x`` never meet a step
    finer than their last place. Fixed point saturates on values (``kmin * 2**-fl`` and
    ``kmax * 2**-fl`` rounded to float32, as the float64 result stored as float32 is), and
    ``k + 0.0`` makes every zero ``+0``.

    Fixed-point ``nearest`` runs as the float64 lanes do, in float32 (fewer operations than
    the bit patterns where every step is the same): ``y = x * 2**fl`` (exact unless below
    ``2**-126``, where it rounds to zero either way; the two factors are both at least 1 or
    both at most 1, so an intermediate underflow or overflow implies the same of the
    result), ``k = rint(y)``, ``k * 2**-fl`` exact when it is a float32 (``|k| <= 2**24``,
    steps at least ``2**-149``) and otherwise one rounding of the exact product, as storing
    the float64 result is; saturated on values as above."""
    if not is_float and mode == NEAREST:
        value = np.rint(x * grid.scale_lo * grid.scale_hi) * grid.unscale_lo * grid.unscale_hi
        return _saturate32(value, grid), False
    bits = float32_bits(x * grid.lift if is_float and not simple else x)
    mag = np.int32(bits & _MAGNITUDE)
    negative = shift_right32(bits, np.int32(31))
    exponent = max32(shift_right32(mag, np.int32(_FRACTION_BITS)), grid.exponent_floor)
    t = max32(grid.c1, np.int32(grid.c2 - exponent))
    q = round_bits32(mag, t, negative, mode, r30)
    below = mag < grid.step
    q_below, at_edge = round_below_step32(bits_float32(mag), mag, negative, mode, r30, grid, simple)
    q = q_below if below else q
    if not is_float:
        return _saturate32(bits_float32(np.int32(q | np.int32(bits & _SIGN))), grid), at_edge
    q = grid.over if q > grid.limit else q
    q = np.int32(0) if q < grid.flush else q
    value = bits_float32(np.int32(q | np.int32(bits & _SIGN)))
    return (value if simple else value * grid.unlift) + grid.zero, at_edge  # -0 + +0 = +0


@njit(inline="always", cache=True)
def _pattern(value):
    """The float32 bit pattern of the float64 ``value`` rounded to float32 (inf beyond)."""
    return float32_bits(np.float32(value))


@njit(inline="always", cache=True)
def _pow2_pair(exponent):
    """``2**exponent`` (``|exponent| <= 252``) as two float32 factors, both at least 1 or
    both at most 1: ``(2**exponent, 1)`` where that is a normal float32."""
    if -126 <= exponent <= 127:
        return pow2_32(exponent), np.float32(1.0)
    half = exponent >> 1
    return pow2_32(half), pow2_32(exponent - half)


@njit(inline="always", cache=True)
def _grid(c1, step_exp, limit, over, flush, zero, lift, low, high, fl):
    """:class:`Grid32` from the step ``2**step_exp`` of the finest binade (``-149 <=
    step_exp <= 252``), ``lift`` and ``fl`` and the given constants."""
    tiny_scale, tiny_scale_hi = _pow2_pair(30 - step_exp)
    scale_lo, scale_hi = _pow2_pair(fl)
    unscale_lo, unscale_hi = _pow2_pair(-fl)
    return Grid32(np.int32(c1), np.int32(step_exp + 150), np.int32(max(1, step_exp + 150 - _FRACTION_BITS)),
                  _pattern(pow2(step_exp)),
                  _pattern(pow2(step_exp - 1)), tiny_scale, tiny_scale_hi, lift == 0 and step_exp <= 30,
                  np.int32(limit), np.int32(over), np.int32(flush), np.float32(zero), pow2_32(lift),
                  pow2_32(-lift), np.float32(low), np.float32(high), scale_lo, scale_hi, unscale_lo,
                  unscale_hi)


@njit(inline="always", cache=True)
def float_grid32(man, emin, maxval, flush, no_negative_zero, overflow):
    """:class:`Grid32` of a float grid (already shifted to its block): ``man`` mantissa
    bits, smallest normal exponent ``emin``, largest magnitude ``maxval`` (float32-finite),
    ``flush``/``no_negative_zero``/``overflow`` as in
    :func:`~lpformats._elements.float_finish`. Needs ``man <= 23`` (the lifted step is then
    at least ``2**-149``)."""
    lift = max(0, -126 - emin)
    lifted_emin = emin + lift
    limit = _pattern(maxval * pow2(lift))
    beyond = _NAN_BITS if overflow == OVERFLOW_NAN else _INF_BITS
    return _grid(_FRACTION_BITS - man, lifted_emin - man, limit,
                 limit if overflow == OVERFLOW_SATURATE else beyond,
                 _pattern(pow2(lifted_emin)) if flush else 0, 0.0 if no_negative_zero else -0.0, lift,
                 0.0, 0.0, 0)


@njit(inline="always", cache=True)
def fixed_grid32(fl, kmin, kmax):
    """:class:`Grid32` of the saturating fixed-point grid ``k * 2**-fl``, ``kmin <= k <=
    kmax`` (``-149 <= -fl <= 252``, ``|k| <= 2**24``)."""
    return _grid(0, -fl, 0, 0, 0, 0.0, 0, kmin * pow2(-fl), kmax * pow2(-fl), fl)
