"""Numba kernels of :func:`lpformats.matmul`: per-step rounded products and accumulations.

Operands arrive as mantissas with per-segment power-of-two shifts (scalar formats: one
segment, shift 0). For output row ``i`` the kernel walks ``k`` in runs (a segment, or a chunk
of one); within a run every product is rounded to ``mul`` and every addition to ``acc``, in
the accumulator's own units (the mantissa domain), vectorized across the ``N`` outputs of
the row; a finished run is scaled by ``2**(shift_a + shift_b)`` and, when results of several
runs must be combined, added into a ``combine``-format total.

Two kernels, each with a fast lane for its commonest case, compute the same bits:

* :func:`matmul_kernel` (any formats): values are float64; a sum is formed exactly enough by
  :func:`_nudged_sum` and rounded with the scalar quantizers of :mod:`lpformats._elements`.
  Fast lane: a float accumulator in ``nearest`` with exact products that are exact in
  float32 runs on float32 lanes, twice as wide (:func:`_accumulate32_loop`).
* :func:`fixed_matmul_kernel` (fixed-point operands, products and accumulator): values are
  integer codes in int64 and every rounding is an integer shift (:func:`_round_shift`).
  Fast lane: with exact products and additions exact or rounded to nearest, rows are first
  accumulated in int32 without range limits, with every output's largest and smallest value
  (:func:`_tracked_sums`); the range rule, and so the step-by-step loop, is needed only for
  a row whose values left the range. Stochastic additions of exact products whose values
  fit in int32 run four steps of ``k`` per pass on int32 lanes, the random bits computed
  in the same pass (:func:`_stochastic32_run`).

Every vector step (one ``k``, all ``N`` outputs) dispatches once to a loop in which the
common case is a constant (``nearest`` rounding; exact products; no rounding at all in the
integer kernel), so that LLVM folds the branches and vectorizes it; other modes share a loop
that branches per element (fewer specialisations keep Numba's first compile short). Event
counts are scalar reductions returned by each loop.

Grid arguments (``g``) are the 11-tuple of :func:`lpformats.quantize._element_args`:
``(is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl, wrap)``.
Stochastic rounding event ``e`` of output ``(row, j)`` uses random element
``row * N * events + j * events + e`` of the call's stream.
"""

import numpy as np
from numba import njit, prange

from lpformats._bitcast import (
    bits_float32,
    bits_float64,
    exponent_of,
    float32_bits,
    float64_bits,
    pow2,
    shift_left32,
    shift_right32,
    through_half,
)
from lpformats._elements import fixed_code, fixed_in_range, float_finish, float_round
from lpformats._int16_pairs import block_lanes, pair_sums, state_buffer
from lpformats.rng import GOLDEN, element_bits, mix64, mix64_top, stream_word
from lpformats.rounding import DOWN, NEAREST, NEAREST_AWAY, STOCHASTIC, UP, ZERO

#: Accumulation orders (kernel codes).
SEQUENTIAL, PAIRWISE = 0, 1
#: Product kinds (kernel codes): exact, rounded to fixed point, rounded to a float format.
MUL_EXACT, MUL_FIXED, MUL_FLOAT = 0, 1, 2
#: Columns of the per-row statistics array.
STAT_SATURATED, STAT_WRAPPED, STAT_UNDERFLOW, STAT_SWAMPED, STAT_MAX_ABS = range(5)
N_STATS = 5
_INF_BITS = 0x7FF0000000000000


@njit(inline="always", cache=True)
def _rand(key, index, shift, mode):
    """Random integer for one rounding event (0 unless ``mode`` is stochastic)."""
    if mode == STOCHASTIC:
        return np.float64(element_bits(key, np.uint64(index)) >> shift)
    return 0.0


# ---------------------------------------------------------------- float64 implementation


@njit(inline="always", cache=True)
def _round_on_grid(x, g, is_float, mode, rand, rand_scale):
    """``(value, out_of_range)``: ``x`` rounded onto grid ``g`` (float when the constant
    ``is_float``); ``out_of_range`` says the rounded value lay beyond the format's range
    (then saturated, wrapped, or inf/NaN)."""
    if is_float:
        q = float_round(x, g[1], g[2], mode, rand, rand_scale)
        return float_finish(q, x, g[2], g[3], g[4], g[5], g[6], mode), abs(q) > g[3]
    k = fixed_code(x, g[9], mode, rand, rand_scale)
    return fixed_in_range(k, g[7], g[8], g[10]) * pow2(-g[9]), (k < g[7]) | (k > g[8])


@njit(inline="always", cache=True)
def _nudged_sum(a, b):
    """``a + b`` in float64, moved one ulp toward the exact sum when the addition was inexact,
    so that rounding it to any grid of at most 51 significant bits rounds the exact sum.
    Infinities pass through as IEEE addition gives them (inf + finite = inf, inf - inf = NaN)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    # exact, or an infinite operand (err is NaN): no nudge; +1: away from zero
    step = 0 if (err == 0.0) | (err != err) else (1 if (err > 0.0) == (s > 0.0) else -1)
    return bits_float64(float64_bits(s) + step)


@njit(inline="always", cache=True)
def _accumulate_loop(acc, factor, v, g, is_float, mode, ctx):
    """``acc[j] = round_g(acc[j] + factor * v[j])`` for every ``j`` (the product is exact:
    ``factor`` 1, or an exact product of operands of at most 26 significant bits each, fused
    here so that it costs no pass of its own); returns the event counts
    ``(saturated, wrapped, 0, swamped, max |acc|)``.
    ``ctx = (key, base, stride, event, shift, rand_scale)``."""
    key, base, stride, event, shift, rand_scale = ctx
    wrap = g[10]
    sat = 0
    swamp = 0
    peak_bits = 0  # bit pattern of the largest |acc|: integer max of non-negative floats
    for j in range(acc.size):
        rand = _rand(key, base + j * stride + event, shift, mode)
        old = acc[j]
        addend = factor * v[j]
        q, out = _round_on_grid(_nudged_sum(old, addend), g, is_float, mode, rand, rand_scale)
        sat += out
        swamp += (addend != 0.0) & (q == old)  # bitwise: no branch, so the loop vectorizes
        bits = float64_bits(abs(q))
        peak_bits = max(peak_bits, bits if bits <= _INF_BITS else 0)  # NaN does not count
        acc[j] = q
    return (0, sat) if wrap else (sat, 0), swamp, bits_float64(peak_bits)


@njit(cache=True)
def _accumulate(acc, factor, v, g, is_float, mode, ctx):
    """:func:`_accumulate_loop`, with ``is_float`` a constant and a loop specialised for the
    default ``nearest`` mode (other modes share one loop that branches per element)."""
    if is_float:
        if mode == NEAREST:
            return _accumulate_loop(acc, factor, v, g, True, NEAREST, ctx)
        return _accumulate_loop(acc, factor, v, g, True, mode, ctx)
    if mode == NEAREST:
        return _accumulate_loop(acc, factor, v, g, False, NEAREST, ctx)
    return _accumulate_loop(acc, factor, v, g, False, mode, ctx)


# ---------------------------------------------------------------- float32 lanes, nearest

_F32_SIGN = np.int32(-0x80000000)
_F32_MAGNITUDE = np.int32(0x7FFFFFFF)
_F32_INF = np.int32(0x7F800000)


#: Kinds of float32-lane accumulation (:func:`_accumulate32_loop`): IEEE binary32 itself; IEEE
#: binary16 (hardware conversion); a grid with ``emin = -126`` (float32's: the bit arithmetic
#: covers its subnormals too); any other grid inside float32.
F32_NATIVE, F32_HALF, F32_EMIN_126, F32_GRID = range(4)


@njit(inline="always", cache=True)
def _accumulate32_loop(acc, factor, v, plan, kind):
    """:func:`_accumulate_loop` for ``nearest`` on float32 lanes (twice the SIMD width of
    float64): ``acc[j] = round(acc[j] + factor * v[j])`` with ``acc``/``v`` float32 and every
    product ``factor * v[j]`` exact in float32; returns ``(saturated, swamped, max |acc|)``.

    ``F32_NATIVE`` (the accumulator is IEEE binary32): the float32 addition is the rounding.
    Otherwise (at most 21 mantissa bits, whole grid inside float32, see ``_float32_plan`` in
    :mod:`lpformats.matmul`) the float32 sum is first nudged one ulp toward the exact sum
    when it was inexact (TwoSum error term), which keeps it on the same side of every
    midpoint of the coarser grid, then rounded to nearest-even on the grid: ``F32_HALF`` by
    the hardware's binary16 conversion; else at and above ``2**emin`` by integer arithmetic
    on the magnitude bits (``mask``/``lsb``/``half - 1`` of the constant mantissa cut; a
    carry moves into the exponent, up to inf) and, unless ``emin = -126``, below it by adding
    and subtracting ``magic`` (``1.5 * 2**23`` grid steps). Overflow (magnitude above
    ``maxval``) gives ``over_bits`` (inf, NaN or maxval) with the sum's sign. Every value is
    kept in int32 / float32: Numba widens mixed arithmetic to 64 bits, halving the lanes.
    ``plan = (lsb, half - 1, mask, over_bits, 2**emin, magic, maxval)``."""
    i32, f32 = np.int32, np.float32
    lsb, half_m1, mask, over_bits = i32(plan[0]), i32(plan[1]), i32(plan[2]), i32(plan[3])
    tiny, magic, maxval = f32(plan[4]), f32(plan[5]), f32(plan[6])
    factor = f32(factor)
    sat = i32(0)
    swamp = i32(0)
    peak = i32(0)  # magnitude bits of the largest |acc|: integer max of non-negative floats
    for j in range(acc.size):
        old = acc[j]
        addend = f32(factor * v[j])
        s = f32(old + addend)
        bits = float32_bits(s)
        if kind != F32_NATIVE:
            partner = f32(s - old)
            err = f32(f32(old - f32(s - partner)) + f32(addend - partner))
            away = i32(i32(i32(float32_bits(err) ^ bits) >> i32(31)) | i32(1))  # +1: away from zero
            bits = i32(bits + away) if (err < f32(0)) | (err > f32(0)) else bits  # NaN err: inf sum
        magnitude = i32(bits & _F32_MAGNITUDE)
        if kind == F32_HALF:
            magnitude = i32(float32_bits(through_half(bits_float32(magnitude))))
        elif kind != F32_NATIVE:
            rounded = i32(i32(i32(magnitude + half_m1) + i32(i32(magnitude & lsb) != i32(0))) & mask)
            if kind == F32_GRID:
                small = bits_float32(magnitude)
                below = float32_bits(f32(f32(small + magic) - magic))
                rounded = below if small < tiny else rounded
            magnitude = rounded
        out = bits_float32(magnitude) > maxval
        magnitude = over_bits if out else magnitude
        q = bits_float32(i32(magnitude | i32(bits & _F32_SIGN)))
        sat = i32(sat + i32(out))
        swamp = i32(swamp + i32((addend != f32(0)) & (q == old)))
        peak = max(peak, magnitude if magnitude <= _F32_INF else i32(0))  # NaN does not count
        acc[j] = q
    return sat, swamp, np.float64(bits_float32(peak))


@njit(inline="always", cache=True)
def _accumulate32_run_loop(acc, a_row, b, k0, k1, plan, kind, stats):
    """``acc`` after the steps ``k0 <= k < k1`` of :func:`_accumulate32_loop` (``a_row[k]``
    times row ``b[k]``), event counts into ``stats``."""
    for k in range(k0, k1):
        sat, swamp, peak = _accumulate32_loop(acc, a_row[k], b[k], plan, kind)
        stats[STAT_SATURATED] += sat
        stats[STAT_SWAMPED] += swamp
        stats[STAT_MAX_ABS] = max(stats[STAT_MAX_ABS], peak)


@njit(cache=True)
def _accumulate32_run(acc, a_row, b, k0, k1, plan, kind, stats):
    """:func:`_accumulate32_run_loop` with ``kind`` a constant (one call per run: a call per
    step would cost as much as a short row's arithmetic)."""
    if kind == F32_NATIVE:
        _accumulate32_run_loop(acc, a_row, b, k0, k1, plan, F32_NATIVE, stats)
    elif kind == F32_HALF:
        _accumulate32_run_loop(acc, a_row, b, k0, k1, plan, F32_HALF, stats)
    elif kind == F32_EMIN_126:
        _accumulate32_run_loop(acc, a_row, b, k0, k1, plan, F32_EMIN_126, stats)
    else:
        _accumulate32_run_loop(acc, a_row, b, k0, k1, plan, F32_GRID, stats)


@njit(inline="always", cache=True)
def _product_loop(v, a, brow, g, mul_kind, mode, ctx):
    """``v[j] = round_mul(a * brow[j])`` (exact product when ``mul_kind`` is MUL_EXACT);
    returns ``(saturated, underflowed to zero)`` counts."""
    key, base, stride, event, shift, rand_scale = ctx
    sat = 0
    under = 0
    for j in range(v.size):
        p = a * brow[j]  # exact: significands of at most 26 bits
        if mul_kind != MUL_EXACT:
            rand = _rand(key, base + j * stride + event, shift, mode)
            q, out = _round_on_grid(p, g, mul_kind == MUL_FLOAT, mode, rand, rand_scale)
            under += (p != 0.0) & (q == 0.0)
            sat += out
            p = q
        v[j] = p
    return sat, under


@njit(cache=True)
def _products(v, a, brow, g, mul_kind, mode, ctx):
    """:func:`_product_loop`, specialised for exact products (rounded products share one
    loop that branches per element on the format kind and mode)."""
    if mul_kind == MUL_EXACT:
        return _product_loop(v, a, brow, g, MUL_EXACT, NEAREST, ctx)
    return _product_loop(v, a, brow, g, mul_kind, mode, ctx)


@njit(inline="always", cache=True)
def _tally(stats, acc_counts):
    """Add the counts ``((saturated, wrapped), swamped, peak)`` of an accumulation."""
    (sat, wrp), swamp, peak = acc_counts
    stats[STAT_SATURATED] += sat
    stats[STAT_WRAPPED] += wrp
    stats[STAT_SWAMPED] += swamp
    stats[STAT_MAX_ABS] = max(stats[STAT_MAX_ABS], peak)


@njit(cache=True)
def _finish_run(total, acc, v, scale_a, sb_seg, combine_runs, gc, mode, ctx, stats):
    """Scale a finished run's sums ``acc`` by ``2**(scale_a + sb_seg[j])`` and add them into
    ``total`` rounded to the combine grid ``gc`` (or store them when there is one run)."""
    for j in range(acc.size):
        v[j] = acc[j] * pow2(scale_a + sb_seg[j])
    if combine_runs:
        _tally(stats, _accumulate(total, 1.0, v, gc, gc[0], mode, ctx))
    else:
        total[:] = v


@njit(cache=True)
def _row(a_row, b, a32_row, b32, plan32, kind32, sa_row, sb, out_row, run_bounds, seg_len, order,
         combine_runs, mul_kind, gm, ga, acc_float, gc, mode, key, nbits, row_base, events_per_output, stats):
    """One output row: ``out_row[j] = sum_k a_row[k] * b[k, j]`` as the hardware computes it;
    event counts into ``stats``. When ``b32`` is not empty, ``a32_row``/``b32`` are float32
    copies of the operands and each run is accumulated by :func:`_accumulate32_run`."""
    n = out_row.size
    rand_scale = 2.0**nbits
    shift = np.uint64(64 - nbits)
    acc = np.zeros(n)
    v = np.zeros(n)
    total = np.zeros(n)
    stats[:] = 0.0
    longest = 0
    for r in range(run_bounds.size - 1):
        longest = max(longest, run_bounds[r + 1] - run_bounds[r])
    tree = np.zeros((longest if order == PAIRWISE else 0, n))
    padded = np.zeros(n + 16 if b32.size else 0, dtype=np.float32)
    start = (-(padded.ctypes.data // 4)) % 16 if b32.size else 0
    acc32 = padded[start:start + (n if b32.size else 0)]  # on a 64-byte boundary, as rows of b32
    event = 0
    for r in range(run_bounds.size - 1):
        k0, k1 = run_bounds[r], run_bounds[r + 1]
        seg = k0 // seg_len
        acc[:] = 0.0
        if b32.size:
            acc32[:] = 0.0
            _accumulate32_run(acc32, a32_row, b32, k0, k1, plan32, kind32, stats)
            event += 2 * (k1 - k0)
            for j in range(n):  # float32 sums, exact in float64
                acc[j] = acc32[j]
        for k in range(k0, k0 if b32.size else k1):
            if order != PAIRWISE and mul_kind == MUL_EXACT:  # product fused into the addition
                event += 1
                _tally(stats, _accumulate(acc, a_row[k], b[k], ga, acc_float, mode,
                                          (key, row_base, events_per_output, event, shift, rand_scale)))
                event += 1
                continue
            target = tree[k - k0] if order == PAIRWISE else v
            sat, under = _products(target, a_row[k], b[k], gm, mul_kind, mode,
                                   (key, row_base, events_per_output, event, shift, rand_scale))
            stats[STAT_SATURATED] += sat
            stats[STAT_UNDERFLOW] += under
            event += 1
            if order != PAIRWISE:
                _tally(stats, _accumulate(acc, 1.0, v, ga, acc_float, mode,
                                          (key, row_base, events_per_output, event, shift, rand_scale)))
                event += 1
        if order == PAIRWISE:
            width = k1 - k0
            step = 1
            while step < width:
                for t in range(0, width - step, 2 * step):
                    _tally(stats, _accumulate(tree[t], 1.0, tree[t + step], ga, acc_float, mode,
                                              (key, row_base, events_per_output, event, shift, rand_scale)))
                    event += 1
                step *= 2
            if width == 1:  # a lone product still enters the accumulator through an addition
                _tally(stats, _accumulate(acc, 1.0, tree[0], ga, acc_float, mode,
                                          (key, row_base, events_per_output, event, shift, rand_scale)))
                event += 1
            elif width > 1:
                acc[:] = tree[0]
        _finish_run(total, acc, v, sa_row[seg], sb[seg], combine_runs, gc, mode,
                    (key, row_base, events_per_output, event, shift, rand_scale), stats)
        event += combine_runs
    out_row[:] = total


@njit(parallel=True, cache=True)
def matmul_kernel(a, b, a32, b32, plan32, kind32, sa, sb, out, run_bounds, seg_len, order, combine_runs,
                  mul_kind, gm, ga, acc_float, gc, mode, key, nbits, events_per_output, row_stats):
    """``out[t] = a[t] @ b[t]`` for every batch ``t`` with per-step rounding (see module doc).

    Shapes: ``a (T, M, K)``, ``b (T, K, N)``, ``sa (T, M, S)``, ``sb (T, S, N)`` (S segments of
    ``seg_len``), ``out (T, M, N)``, ``row_stats (T*M, N_STATS)``. ``run_bounds``: increasing
    ``k`` offsets delimiting runs, ``0 ... K``. ``a32``/``b32``: float32 copies of ``a``/``b``
    for :func:`_accumulate32_run` with ``plan32``/``kind32`` (a float accumulator, ``nearest``,
    exact products, sequential runs), or empty ``(T, M, 0)`` and ``(T, 0, 0)`` arrays.
    """
    batches, m, _ = a.shape
    n = b.shape[2]
    for row in prange(batches * m):
        t = row // m
        i = row % m
        _row(a[t, i], b[t], a32[t, i], b32[t], plan32, kind32, sa[t, i], sb[t], out[t, i], run_bounds,
             seg_len, order, combine_runs, mul_kind, gm, ga, acc_float, gc, mode, key, nbits,
             row * n * events_per_output, events_per_output, row_stats[row])


# ---------------------------------------------------------------- integer implementation


@njit(cache=True)
def operand_bits(x):
    """``(f, top, sig, nonfinite, nan)`` over the float64 array ``x``: ``f``, the fewest
    fraction bits (>= 0) that make every finite ``x * 2**f`` an integer; ``top``, the exponent
    of the largest finite magnitude (``floor(log2 max|x|)``; -1075 when all are zero);
    ``sig``, the most significant bits of any one element (leading to trailing one);
    ``nonfinite`` and ``nan``, the counts of inf/NaN and of NaN elements."""
    f = 0
    top = -1075
    sig = 0
    nonfinite = 0
    nan = 0
    flat = x.ravel()
    for i in range(flat.size):  # branch-free, so that it vectorizes
        value = flat[i]
        bits = float64_bits(value)
        field = (bits >> 52) & 0x7FF
        finite = field != 0x7FF
        counted = finite & (value != 0.0)
        mantissa = (bits & 0xFFFFFFFFFFFFF) | (np.int64(field > 0) << 52) if counted else 1
        lowest = exponent_of(np.float64(mantissa & -mantissa))  # its lowest set bit
        highest = exponent_of(np.float64(mantissa))
        scale = max(field, 1) - 1075
        f = max(f, -(scale + lowest) if counted else 0)
        top = max(top, scale + highest if counted else -1075)
        sig = max(sig, highest - lowest + 1 if counted else 0)
        nonfinite += not finite
        nan += value != value
    return f, top, sig, nonfinite, nan


@njit(cache=True)
def scaled_codes(x, f, shift, out):
    """``out = (x * 2**f) << shift`` as integers (``x * 2**f`` integer-valued, ``out`` int32
    or int64 wide enough)."""
    scale = 2.0**f
    values = x.ravel()
    codes = out.ravel()
    for i in range(values.size):
        codes[i] = np.int64(values[i] * scale) << shift
    return out


@njit(cache=True)
def partial_sum_bound(a, b):
    """``min(2**31, max over t, i of sum_k |a[t, i, k]| * max_j |b[t, k, j]|)`` for integer
    codes below 2**31 in magnitude: no partial sum of ``a[t] @ b[t]`` is larger. Terms are
    capped at 2**31 so that the int64 sum cannot overflow (K below 2**32), and stays exact."""
    cap = np.int64(1) << 31
    bound = np.int64(0)
    col_max = np.zeros(b.shape[1], dtype=np.int64)
    for t in range(a.shape[0]):
        for k in range(b.shape[1]):
            largest = np.int64(0)
            row = b[t, k]
            for j in range(row.size):
                largest = max(largest, abs(np.int64(row[j])))
            col_max[k] = largest
        for i in range(a.shape[1]):
            row = a[t, i]
            total = np.int64(0)
            for k in range(row.size):
                total += min(abs(np.int64(row[k])) * col_max[k], cap)
            bound = max(bound, total)
    return min(bound, cap)


@njit(inline="always", cache=True)
def _round_shift(t, s, mode, rand, rand_scale):
    """``t * 2**-s`` (int64 ``t``, ``0 <= s <= 53``) rounded to an integer in ``mode``; the
    same result as :func:`lpformats.rounding.round_to_integer` on the exact value."""
    if s == 0:
        return t
    floor = t >> s  # arithmetic shift: floor division by 2**s
    rem = t - (floor << s)  # in [0, 2**s)
    half = np.int64(1) << (s - 1)
    if mode == NEAREST:
        up = (rem > half) | ((rem == half) & ((floor & 1) == 1))
    elif mode == NEAREST_AWAY:
        up = (rem > half) | ((rem == half) & (t >= 0))
    elif mode == ZERO:
        up = (t < 0) & (rem != 0)
    elif mode == DOWN:
        up = False
    elif mode == UP:
        up = rem != 0
    else:
        up = np.float64(rem) * pow2(-s) * rand_scale >= rand_scale - rand
    return floor + up


@njit(inline="always", cache=True)
def _fixed_step(t, s, kmin, kmax, wrap, mode, rand, rand_scale):
    """``(code, out_of_range)``: ``t * 2**-s`` rounded and brought into ``[kmin, kmax]``
    (saturated, or reduced modulo ``kmax - kmin + 1`` with ``wrap``)."""
    k = _round_shift(t, s, mode, rand, rand_scale)
    out = (k < kmin) | (k > kmax)
    if wrap:
        return ((k - kmin) & (kmax - kmin)) + kmin, out
    return min(max(k, kmin), kmax), out


@njit(inline="always", cache=True)
def _fixed_mac_loop(acc, a, brow, mul_grid, mul_rounded, acc_grid, mode, ctx):
    """One ``k`` step of a fixed-point row: products rounded to ``mul`` (when ``mul_rounded``),
    then ``acc[j] = round_acc(acc[j] + product[j])``. Returns the event counts
    ``(saturated, wrapped, underflowed, swamped, max |acc code|)``.

    Product codes have ``mul_shift`` fraction bits more than ``mul``'s (``mul_up``: shift left
    instead); the sum is formed on the finer of the two grids (``acc`` scaled up by ``acc_up``
    bits, the product by ``prod_up``) and rounded back down by ``acc_up`` bits.
    ``mul_grid = (mul_shift, mul_up, kmin, kmax, wrap)``, ``acc_grid = (acc_up, prod_up, kmin,
    kmax, wrap)``, ``ctx`` as in :func:`_accumulate_loop`."""
    mul_shift, mul_up, gm_kmin, gm_kmax, gm_wrap = mul_grid
    acc_up, prod_up, ga_kmin, ga_kmax, ga_wrap = acc_grid
    key, base, stride, event, shift, rand_scale = ctx
    sat = 0
    acc_out = 0
    under = 0
    swamp = 0
    peak = 0
    for j in range(acc.size):
        prod = a * np.int64(brow[j])
        if mul_rounded:
            rand = _rand(key, base + j * stride + event, shift, mode)
            q, out = _fixed_step(prod << mul_up, mul_shift, gm_kmin, gm_kmax, gm_wrap, mode, rand,
                                 rand_scale)
            under += (prod != 0) & (q == 0)
            sat += out
            prod = q
        rand = _rand(key, base + j * stride + event + 1, shift, mode)
        old = acc[j]
        q, out = _fixed_step((old << acc_up) + (prod << prod_up), acc_up, ga_kmin, ga_kmax, ga_wrap, mode,
                             rand, rand_scale)
        acc_out += out
        swamp += (prod != 0) & (q == old)
        peak = max(peak, abs(q))
        acc[j] = q
    if ga_wrap:
        return sat, acc_out, under, swamp, peak
    return sat + acc_out, 0, under, swamp, peak


@njit(inline="always", cache=True)
def _fixed_add_loop(acc, a, brow, acc_grid):
    """One ``k`` step of a fixed-point row when no step rounds (exact products on a grid no
    finer than the accumulator's): ``acc[j] = range_rule(acc[j] + a * brow[j] << prod_up)``.
    Returns the counts of :func:`_fixed_mac_loop`."""
    _, prod_up, kmin, kmax, wrap = acc_grid
    out_count = 0
    swamp = 0
    peak = 0
    for j in range(acc.size):
        prod = (a * np.int64(brow[j])) << prod_up
        old = acc[j]
        total = old + prod
        out_count += (total < kmin) | (total > kmax)
        q = ((total - kmin) & (kmax - kmin)) + kmin if wrap else min(max(total, kmin), kmax)
        swamp += (prod != 0) & (q == old)
        peak = max(peak, abs(q))
        acc[j] = q
    if wrap:
        return 0, out_count, 0, swamp, peak
    return out_count, 0, 0, swamp, peak


@njit(inline="always", cache=True)
def _tracked_step(t, high, low, swamp, a, x, rounding):
    """One int32 step of :func:`_tracked_sums`: ``t + a * x`` (``rounding = (shift, mask,
    half)`` with ``shift > 0``: the product has ``shift`` more fraction bits than ``t`` and
    the sum rounds to nearest-even, which only the tie case makes depend on ``t``), with the
    running max/min of ``t`` and the count of nonzero products that left it unchanged."""
    i32 = np.int32
    shift, mask, half = rounding
    product = i32(a * x)
    if shift == 0:
        t = i32(t + product)
    else:
        floor = i32(t + shift_right32(product, shift))
        rem = i32(product & mask)
        up = (rem > half) | ((rem == half) & (i32(floor & i32(1)) != i32(0)))
        new = i32(floor + i32(up))
        swamp = i32(swamp + i32((product != i32(0)) & (new == t)))
        t = new
    return t, max(high, t), min(low, t), swamp


@njit(inline="always", cache=True)
def _tracked_steps(state, a0, a1, a2, a3, x0, x1, x2, x3, rounding):
    """Four :func:`_tracked_step` on ``state = (t, high, low, swamp)``."""
    t, high, low, swamp = state
    t, high, low, swamp = _tracked_step(t, high, low, swamp, a0, x0, rounding)
    t, high, low, swamp = _tracked_step(t, high, low, swamp, a1, x1, rounding)
    t, high, low, swamp = _tracked_step(t, high, low, swamp, a2, x2, rounding)
    return _tracked_step(t, high, low, swamp, a3, x3, rounding)


@njit(inline="always", cache=True)
def _tracked_loop(sums, a0_row, a1_row, b, k0, k1, rounding):
    """:func:`_tracked_sums` with ``rounding[0]`` (the shift) a constant when it is 0."""
    i32 = np.int32
    n = b.shape[1]
    sums[:] = 0
    acc0, high0, low0, swamp0 = sums[0, :n], sums[1, :n], sums[2, :n], sums[3, :n]
    acc1, high1, low1, swamp1 = sums[4, :n], sums[5, :n], sums[6, :n], sums[7, :n]
    k = k0
    while k + 8 <= k1:
        a0, a1, a2, a3 = a0_row[k], a0_row[k + 1], a0_row[k + 2], a0_row[k + 3]
        a4, a5, a6, a7 = a0_row[k + 4], a0_row[k + 5], a0_row[k + 6], a0_row[k + 7]
        c0, c1, c2, c3 = a1_row[k], a1_row[k + 1], a1_row[k + 2], a1_row[k + 3]
        c4, c5, c6, c7 = a1_row[k + 4], a1_row[k + 5], a1_row[k + 6], a1_row[k + 7]
        b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
        b4, b5, b6, b7 = b[k + 4], b[k + 5], b[k + 6], b[k + 7]
        for j in range(acc0.size):
            x0, x1, x2, x3, x4, x5, x6, x7 = b0[j], b1[j], b2[j], b3[j], b4[j], b5[j], b6[j], b7[j]
            state = _tracked_steps((acc0[j], high0[j], low0[j], swamp0[j]), a0, a1, a2, a3, x0, x1, x2, x3,
                                   rounding)
            acc0[j], high0[j], low0[j], swamp0[j] = _tracked_steps(state, a4, a5, a6, a7, x4, x5, x6, x7,
                                                                   rounding)
            state = _tracked_steps((acc1[j], high1[j], low1[j], swamp1[j]), c0, c1, c2, c3, x0, x1, x2, x3,
                                   rounding)
            acc1[j], high1[j], low1[j], swamp1[j] = _tracked_steps(state, c4, c5, c6, c7, x4, x5, x6, x7,
                                                                   rounding)
        k += 8
    while k < k1:
        a0, c0, bk = a0_row[k], a1_row[k], b[k]
        for j in range(acc0.size):
            acc0[j], high0[j], low0[j], swamp0[j] = _tracked_step(acc0[j], high0[j], low0[j], swamp0[j], a0,
                                                                  bk[j], rounding)
            acc1[j], high1[j], low1[j], swamp1[j] = _tracked_step(acc1[j], high1[j], low1[j], swamp1[j], c0,
                                                                  bk[j], rounding)
        k += 1
    top0, bottom0, count0, top1, bottom1, count1 = i32(0), i32(0), np.int64(0), i32(0), i32(0), np.int64(0)
    for j in range(acc0.size):
        top0, bottom0, count0 = max(top0, high0[j]), min(bottom0, low0[j]), count0 + swamp0[j]
        top1, bottom1, count1 = max(top1, high1[j]), min(bottom1, low1[j]), count1 + swamp1[j]
    return np.int64(top0), np.int64(bottom0), count0, np.int64(top1), np.int64(bottom1), count1


@njit(cache=True)
def _tracked_sums(sums, a0_row, a1_row, b, k0, k1, shift):
    """Partial sums of two output rows ``r`` = 0, 1 over ``k0 <= k < k1`` in int32, as an
    accumulator with unbounded range computes them: ``sums[4 r, j]`` the sum of
    ``ar_row[k] * b[k, j]``, exact (``shift`` 0) or, when products have ``shift`` more
    fraction bits than the accumulator, rounded to nearest-even after every addition;
    ``sums[4 r + 1, j]`` / ``sums[4 r + 2, j]`` the largest / smallest value that output held
    (its initial 0 included); ``sums[4 r + 3, j]`` its additions of a nonzero product that
    left it unchanged. Returns ``(max0, min0, swamped0, max1, min1, swamped1)`` over each row.

    The caller guarantees that no value leaves int32 (``sum_k |a[k]| max_j |b[k, j]| <
    2**31``). When every value lies in the accumulator's range its range rule never acted,
    so these are exactly the saturating (or wrapping) accumulator's values. Every value is
    cast back to int32 (Numba widens int32 arithmetic to int64, which halves the SIMD lanes);
    eight ``k`` steps share one pass over the row, so values and extremes stay in registers
    across them, and each load of ``b`` serves both rows."""
    i32 = np.int32
    if shift == 0:
        return _tracked_loop(sums, a0_row, a1_row, b, k0, k1, (i32(0), i32(0), i32(0)))
    rounding = (i32(shift), i32((1 << shift) - 1), i32(1 << (shift - 1)))
    return _tracked_loop(sums, a0_row, a1_row, b, k0, k1, rounding)


@njit(cache=True)
def _fixed_mac(acc, a, brow, m, mul_rounded, s, mode, ctx):
    """:func:`_fixed_mac_loop`, specialised for ``nearest`` and ``stochastic``
    (:func:`_fixed_mac_stochastic_loop`); other modes branch per element."""
    if mode == NEAREST:
        return _fixed_mac_loop(acc, a, brow, m, mul_rounded, s, NEAREST, ctx)
    if mode == STOCHASTIC:
        if mul_rounded:
            return _fixed_mac_stochastic_loop(acc, a, brow, m, True, s, ctx)
        return _fixed_mac_stochastic_loop(acc, a, brow, m, False, s, ctx)
    return _fixed_mac_loop(acc, a, brow, m, mul_rounded, s, mode, ctx)


@njit(inline="always", cache=True)
def _stochastic_step(t, s, kmin, kmax, wrap, bits, nbits):
    """:func:`_fixed_step` in ``stochastic`` mode on integers only (so that it vectorizes on
    any x86, where uint64 -> float64 conversion needs AVX-512): ``bits`` are the event's 64
    random bits (uint64), of which :func:`_round_shift` uses ``R = bits >> (64 - nbits)`` and
    rounds up when ``rem * 2**(nbits - s) >= 2**nbits - R`` (``rem = t mod 2**s``). Both sides
    are multiples of ``2**(nbits - u)``, ``u = min(nbits, s)``, so this is exactly
    ``rem + ((bits >> (64 - u)) << (s - u)) >= 2**s``."""
    if s == 0:
        k = t
    else:
        floor = t >> s
        rem = t - (floor << s)
        used = min(nbits, s)
        top = np.int64((bits >> np.uint64(64 - used)) << np.uint64(s - used))
        k = floor + np.int64(rem + top >= (np.int64(1) << s))
    out = (k < kmin) | (k > kmax)
    if wrap:
        return ((k - kmin) & (kmax - kmin)) + kmin, out
    return min(max(k, kmin), kmax), out


@njit(inline="always", cache=True)
def _fixed_mac_stochastic_loop(acc, a, brow, mul_grid, mul_rounded, acc_grid, ctx):
    """:func:`_fixed_mac_loop` for ``stochastic`` rounding, with the same random numbers
    (element ``base + j * stride + event`` of the stream for the product, ``+ 1`` for the
    addition) computed arithmetically across ``j``: the counter ``key + (index + 1) * GOLDEN``
    of :func:`lpformats.rng.element_bits` advances by ``stride * GOLDEN`` per output (an
    induction variable: vector adds), then :func:`mix64`; roundings by
    :func:`_stochastic_step`."""
    mul_shift, mul_up, gm_kmin, gm_kmax, gm_wrap = mul_grid
    acc_up, prod_up, ga_kmin, ga_kmax, ga_wrap = acc_grid
    key, base, stride, event, shift, _ = ctx
    nbits = 64 - np.int64(shift)
    golden = np.uint64(GOLDEN)
    step = np.uint64(stride) * golden
    counter = key + (np.uint64(base + event) + np.uint64(1)) * golden  # output 0's product event
    sat = 0
    acc_out = 0
    under = 0
    swamp = 0
    peak = 0
    for j in range(acc.size):
        prod = a * np.int64(brow[j])
        if mul_rounded:
            q, out = _stochastic_step(prod << mul_up, mul_shift, gm_kmin, gm_kmax, gm_wrap, mix64(counter),
                                      nbits)
            under += (prod != 0) & (q == 0)
            sat += out
            prod = q
        old = acc[j]
        q, out = _stochastic_step((old << acc_up) + (prod << prod_up), acc_up, ga_kmin, ga_kmax, ga_wrap,
                                  mix64(counter + golden), nbits)
        acc_out += out
        swamp += (prod != 0) & (q == old)
        peak = max(peak, abs(q))
        acc[j] = q
        counter += step
    if ga_wrap:
        return sat, acc_out, under, swamp, peak
    return sat + acc_out, 0, under, swamp, peak


#: Steps of ``k`` per pass of :func:`_stochastic32_loop` over a row.
STOCHASTIC32_STEPS = 4
#: Distance of the random words of steps 1, 2, 3 of a pass from step 0's (two events a step).
_WORD_STEPS = tuple(2 * t * GOLDEN % 2**64 for t in range(1, STOCHASTIC32_STEPS))


@njit(inline="always", cache=True)
def _stochastic32_step(old, a, x, top, s, kmin, kmax, wrap, counts):
    """One addition of :func:`_stochastic32_loop` on int32 values: ``(code, counts)`` for
    ``old + a * x`` (codes with ``s`` fraction bits more than the accumulator's) rounded
    stochastically by ``top`` and brought into ``[kmin, kmax]``; ``counts = (out of range,
    swamped, largest |code|)``.

    ``top = (bits >> (64 - u)) << (s - u)``, ``u = min(nbits, s)``: :func:`_stochastic_step`
    rounds the sum ``t`` up exactly when ``rem + top >= 2**s`` (``rem = t mod 2**s``), and as
    ``rem, top < 2**s`` that is ``(t + top) >> s == floor(t / 2**s) + 1``: the rounded code
    is ``(t + top) >> s``. A code left the range exactly when the range rule changed it."""
    i32 = np.int32
    out, swamp, high = counts
    prod = i32(a * x)
    k = shift_right32(i32(i32(shift_left32(old, s) + prod) + top), s)
    q = i32(i32(i32(k - kmin) & i32(kmax - kmin)) + kmin) if wrap else min(max(k, kmin), kmax)
    return q, (i32(out + i32(q != k)), i32(swamp + i32((prod != i32(0)) & (q == old))), max(high, abs(q)))


@njit(inline="always", cache=True)
def _stochastic32_loop(acc, a, b, grid, wrap, words):
    """:data:`STOCHASTIC32_STEPS` steps of :func:`_fixed_mac_stochastic_loop` (exact
    products) on int32 codes in one pass over the row: ``acc[j]`` (int32) gets ``a[t] *
    b[t][j]`` added for each step ``t`` in turn (``a``: int32 codes, 0 for a step beyond the
    run: it leaves every code as it is, whatever its random bits), each addition rounded by
    :func:`_stochastic32_step`. ``grid = (s, used, kmin, kmax)`` (int32; ``used = min(nbits,
    s)``, at most 31: the bits come from :func:`lpformats.rng.mix64_top`); ``words = (w,
    step)``: the random word of output 0's first addition and the increment per output (a
    step of ``k`` adds ``2 * GOLDEN``: two events). Returns ``(out of range, swamped,
    largest |code|)`` (int32).

    The caller bounds every ``|acc << s| + |a * b| + 2**s`` below 2**31. Every value stays in
    int32 lanes; only the random words take uint64 lanes."""
    i32 = np.int32
    s, used, kmin, kmax = grid
    spare = i32(s - used)
    w, step = words
    g2, g4, g6 = np.uint64(_WORD_STEPS[0]), np.uint64(_WORD_STEPS[1]), np.uint64(_WORD_STEPS[2])
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b
    counts = (i32(0), i32(0), i32(0))
    for j in range(acc.size):
        q = acc[j]
        top0, top1 = i32(mix64_top(w, used)) << spare, i32(mix64_top(w + g2, used)) << spare
        top2, top3 = i32(mix64_top(w + g4, used)) << spare, i32(mix64_top(w + g6, used)) << spare
        q, counts = _stochastic32_step(q, a0, b0[j], top0, s, kmin, kmax, wrap, counts)
        q, counts = _stochastic32_step(q, a1, b1[j], top1, s, kmin, kmax, wrap, counts)
        q, counts = _stochastic32_step(q, a2, b2[j], top2, s, kmin, kmax, wrap, counts)
        q, counts = _stochastic32_step(q, a3, b3[j], top3, s, kmin, kmax, wrap, counts)
        acc[j] = q
        w += step
    return counts


@njit(cache=True)
def _stochastic32_run(acc, a_rows, b, pending, k0, k1, grid, wrap, key, row_base, stride, event, counts):
    """The steps ``k0 <= k < k1`` of the output rows ``r`` with ``pending[r]`` (``acc (R,
    N)`` int32 codes, zeros on entry; ``a_rows (R, K)`` / ``b (K, N)`` int32 codes, ``b``
    shifted to the sums' grid), every addition rounded stochastically by
    :func:`_stochastic32_loop` (``wrap`` made a constant): step ``k``'s addition for output
    ``j`` of row ``r`` takes random element ``row_base[r] + j * stride + event + 2 (k - k0) +
    1``, as in :func:`_fixed_mac_loop`. Adds ``(out of range, swamped)`` to ``counts[r, :2]``
    and keeps the largest ``|code|`` in ``counts[r, 2]``. Rows are the inner loop, so that
    the rows of ``b`` of a pass serve all of them from the cache."""
    i32 = np.int32
    step = np.uint64(stride) * np.uint64(GOLDEN)
    last = k1 - 1
    for k in range(k0, k1, STOCHASTIC32_STEPS):
        rows = (b[k], b[min(k + 1, last)], b[min(k + 2, last)], b[min(k + 3, last)])
        for r in range(acc.shape[0]):
            if not pending[r]:
                continue
            a_row = a_rows[r]
            a = (i32(a_row[k]), i32(a_row[k + 1]) if k + 1 < k1 else i32(0),
                 i32(a_row[k + 2]) if k + 2 < k1 else i32(0), i32(a_row[k + 3]) if k + 3 < k1 else i32(0))
            words = (stream_word(key, np.uint64(row_base[r] + event + 2 * (k - k0) + 1)), step)
            if wrap:
                out, swamp, high = _stochastic32_loop(acc[r], a, rows, grid, True, words)
            else:
                out, swamp, high = _stochastic32_loop(acc[r], a, rows, grid, False, words)
            counts[r, 0] += out
            counts[r, 1] += swamp
            counts[r, 2] = max(counts[r, 2], np.int64(high))


#: Accumulator elements of one tile of :func:`fixed_matmul_kernel` (int64: 32 KiB, within L1):
#: a tile has ``TILE_ELEMENTS // N`` output rows (2 to 64), each row of ``b`` is loaded once per
#: tile and used by all its rows, and per-tile set-up is shared by as many rows as fit.
TILE_ELEMENTS = 4096
#: Rows of a tile summed in int16 pairs: each column block of ``b`` (:func:`block_lanes`) is
#: read from the cache by all of them.
PAIR_TILE_ROWS = 32


@njit(cache=True)
def _running_sums_buffer(n):
    """The ``(8, N + 16)`` int32 rows of :func:`_tracked_sums` (used up to ``N``), each
    starting on a 64-byte boundary so that no vector access straddles two cache lines, and
    64 bytes longer than ``N`` values so that rows 1 KiB apart do not alias modulo 4 KiB."""
    stride = n + 16 if n else 0
    buffer = np.zeros(8 * stride + 16, dtype=np.int32)
    start = (-(buffer.ctypes.data // 4)) % 16  # int32 values to the next 64-byte boundary
    return buffer[start:start + 8 * stride].reshape(8, stride)


@njit(cache=True)
def _fixed_rows(a_rows, b, fast_rows, fast_b, pair_rows, pair_b, col_max, scale_a, sb, out_rows, run_bounds,
                combine_runs, mul_plan, acc_plan, acc_fl, gc, mode, key, nbits, row_base, events_per_output,
                stats, peaks, slack):
    """Output rows ``out_rows (R, N)`` of :func:`fixed_matmul_kernel` (``a_rows (R, K)``, row
    ``r`` with random-stream base ``row_base[r]`` and block exponent ``scale_a[r]``); event
    counts into ``stats (R, N_STATS)``, the largest accumulator code magnitude into
    ``peaks (R,)``. ``fast_rows``/``fast_b``: int32 copies of the codes (products
    pre-shifted) for :func:`_tracked_sums`, or empty. ``pair_rows``/``pair_b``: the codes
    packed for :func:`pair_sums` (``col_max[k]``: largest shifted ``|b[k, j]|``), or empty;
    a row they sum sets ``slack[r]`` to the bound on one product of the row, by which its
    peak, seen after even steps of ``k`` only, may fall short."""
    rows, n = out_rows.shape
    rand_scale = 2.0**nbits
    shift = np.uint64(64 - nbits)
    mul_grid = mul_plan[:5]
    kmin, kmax = acc_plan[2], acc_plan[3]
    acc = np.zeros((rows, n), dtype=np.int64)
    # fast_* serve _stochastic32_run when additions round stochastically, else _tracked_sums
    stochastic32 = fast_b.size and mode == STOCHASTIC and acc_plan[0] > 0
    tracked_pass = fast_b.size and not stochastic32
    tracked = _running_sums_buffer(n if tracked_pass else 0)
    acc32 = np.zeros((rows, n) if stochastic32 else (0, 0), dtype=np.int32)
    counts32 = np.zeros((rows, 3), dtype=np.int64)
    grid32 = (np.int32(acc_plan[0]), np.int32(min(nbits, acc_plan[0])), np.int32(kmin), np.int32(kmax))
    accf = np.zeros(n)
    v = np.zeros(n)
    stats[:] = 0.0
    out_rows[:] = 0.0
    peak = np.zeros(rows, dtype=np.int64)
    pending = np.ones(rows, dtype=np.bool_)
    event = 0
    exact_add = not mul_plan[5] and acc_plan[0] == 0  # no step rounds: the inlined fast loop
    width = pair_b.shape[1] // 2
    block = block_lanes(pair_b.shape[0], width) if pair_b.size else 1  # (1: no blocks, range step > 0)
    pair_state = state_buffer(block if pair_b.size else 0)
    even_top = np.zeros(rows, dtype=np.int64)
    even_bottom = np.zeros(rows, dtype=np.int64)
    slack[:] = 0
    for run in range(run_bounds.size - 1):
        k0, k1 = run_bounds[run], run_bounds[run + 1]
        pending[:] = True
        for j0 in range(0, width if pair_b.size else 0, block):  # one run of exact sums in int16 pairs
            j1 = min(j0 + block, width)
            for r in range(0, rows, 2):  # an odd last row is paired with itself
                r1 = min(r + 1, rows - 1)
                extremes = pair_sums(pair_state, pair_rows[r], pair_rows[r1], pair_b, j0, j1)
                for half, row in ((0, r), (1, r1)):
                    even_top[row] = max(even_top[row], np.int64(extremes[2 * half]))
                    even_bottom[row] = min(even_bottom[row], np.int64(extremes[2 * half + 1]))
                    sums = pair_state[3 * half]
                    scale = scale_a[row] - acc_fl
                    for j in range(j0, min(j1, n)):  # replaced by the step-by-step path if out of range
                        out_rows[row, j] = sums[j - j0] * pow2(scale + sb[j])
        for row in range(rows if pair_b.size else 0):
            bound = np.int64(0)  # |one product| of this row: odd steps lie within it of an even one
            for k in range(k0, k1):
                bound = max(bound, abs(np.int64(a_rows[row, k])) * col_max[k])
            if kmin <= even_bottom[row] - bound and even_top[row] + bound <= kmax:
                peak[row] = max(even_top[row], -even_bottom[row])
                slack[row] = bound
                pending[row] = False
        for r in range(0, rows if tracked_pass else 0, 2):  # exact sums; range rule where one left the range
            r1 = min(r + 1, rows - 1)  # an odd last row is paired with itself
            extremes = _tracked_sums(tracked, fast_rows[r], fast_rows[r1], fast_b, k0, k1, acc_plan[0])
            for half, row in ((0, r), (1, r1 if r1 > r else -1)):
                if row < 0:
                    continue
                top, bottom, swamped = extremes[3 * half], extremes[3 * half + 1], extremes[3 * half + 2]
                if kmin <= bottom and top <= kmax:
                    stats[row, STAT_SWAMPED] += swamped
                    sums = tracked[4 * half, :n]
                    if combine_runs:
                        acc[row] = sums
                    else:  # the only run: scaled straight into the output
                        scale = scale_a[row] - acc_fl
                        for j in range(n):
                            out_rows[row, j] = sums[j] * pow2(scale + sb[j])
                    peak[row] = max(peak[row], max(top, -np.int64(bottom)))
                    pending[row] = False
        if pending.any():
            for r in range(rows):
                if pending[r]:
                    acc[r] = 0
            if stochastic32:
                acc32[:] = 0
                counts32[:] = 0
                _stochastic32_run(acc32, fast_rows, fast_b, pending, k0, k1, grid32, acc_plan[4], key,
                                  row_base, events_per_output, event, counts32)
                for r in range(rows):
                    if not pending[r]:
                        continue
                    acc[r] = acc32[r]
                    stats[r, STAT_WRAPPED if acc_plan[4] else STAT_SATURATED] += counts32[r, 0]
                    stats[r, STAT_SWAMPED] += counts32[r, 1]
                    peak[r] = max(peak[r], counts32[r, 2])
            for k in range(k0, k0 if stochastic32 else k1):
                for r in range(rows):
                    if not pending[r]:
                        continue
                    if exact_add:
                        sat, wrp, under, swamp, top = _fixed_add_loop(acc[r], np.int64(a_rows[r, k]), b[k],
                                                                      acc_plan)
                    else:
                        sat, wrp, under, swamp, top = _fixed_mac(
                            acc[r], np.int64(a_rows[r, k]), b[k], mul_grid, mul_plan[5], acc_plan, mode,
                            (key, row_base[r], events_per_output, event + 2 * (k - k0), shift, rand_scale))
                    stats[r, STAT_SATURATED] += sat
                    stats[r, STAT_WRAPPED] += wrp
                    stats[r, STAT_UNDERFLOW] += under
                    stats[r, STAT_SWAMPED] += swamp
                    peak[r] = max(peak[r], top)
        event += 2 * (k1 - k0)
        for r in range(rows):
            if combine_runs or pending[r]:
                for j in range(n):
                    accf[j] = acc[r, j]
                _finish_run(out_rows[r], accf, v, scale_a[r] - acc_fl, sb, combine_runs, gc, mode,
                            (key, row_base[r], events_per_output, event, shift, rand_scale), stats[r])
        event += combine_runs
    for r in range(rows):
        stats[r, STAT_MAX_ABS] = max(stats[r, STAT_MAX_ABS], peak[r] * pow2(-acc_fl))
        peaks[r] = peak[r]


@njit(cache=True)
def _exact_peak(a_row, b, acc_plan):
    """The largest accumulator code magnitude of an output row over every step of ``k``,
    recomputed step by step (:func:`_fixed_add_loop`)."""
    acc = np.zeros(b.shape[1], dtype=np.int64)
    peak = np.int64(0)
    for k in range(b.shape[0]):
        peak = max(peak, _fixed_add_loop(acc, np.int64(a_row[k]), b[k], acc_plan)[4])
    return peak


@njit(cache=True)
def _column_max(b, shift):
    """``out[t, k] = max_j |b[t, k, j]| << shift``."""
    out = np.zeros(b.shape[:2], dtype=np.int64)
    for t in range(b.shape[0]):
        for k in range(b.shape[1]):
            largest = np.int64(0)
            row = b[t, k]
            for j in range(row.size):
                largest = max(largest, abs(np.int64(row[j])))
            out[t, k] = largest << shift
    return out


@njit(parallel=True, cache=True)
def fixed_matmul_kernel(a, b, fast_a, fast_b, pair_a, pair_b, sa, sb, out, run_bounds, combine_runs, mul_plan,
                        acc_plan, acc_fl, gc, mode, key, nbits, events_per_output, row_stats):
    """Fixed-point ``out[t] = a[t] @ b[t]`` on integer codes (``a (T, M, K)``, ``b (T, K, N)``),
    each output scaled by ``2**(sa[t, i] + sb[t, j])`` (block exponents constant along K).

    ``mul_plan = (mul_shift, mul_up, kmin, kmax, wrap, rounded)`` and
    ``acc_plan = (acc_up, prod_up, kmin, kmax, wrap)`` (see :func:`_fixed_mac_loop`);
    accumulator codes have ``acc_fl`` fraction bits. Runs are combined as in
    :func:`matmul_kernel`; the same rounding events use the same random numbers, so both
    kernels give identical bits. Rows are computed in tiles (:data:`TILE_ELEMENTS`).

    When products are exact and additions exact or rounded to nearest, ``fast_a (T, M, K)``
    and ``fast_b (T, K, N)`` may hold the codes as int32 (``b`` shifted left by ``prod_up``;
    every partial sum of ``|a| |b|`` below 2**31): each output row is then first accumulated
    without range limits by :func:`_tracked_sums`, and only a row whose values left the
    accumulator's range is recomputed step by step with the range rule. When additions
    round stochastically, they may hold the same codes for :func:`_stochastic32_run`
    (exact products; ``|acc code| << acc_up`` plus a product plus ``2**acc_up`` below
    2**31). Otherwise they are empty ``(T, 0, 0)`` arrays.

    With exact products and additions (no ``k`` step rounds) in one run, ``pair_a`` and
    ``pair_b`` may instead hold the codes packed for :func:`pair_sums` (int16 pairs, see
    :func:`pack_a`/:func:`pack_b`), which sums two steps of ``k`` per instruction and sees
    the running extremes after even steps only. A row is taken from it when even extremes
    widened by the largest product of the row stay in range (so no step saturated or
    wrapped). Its peak magnitude may then miss an odd step by up to that product: after all
    rows, the rows whose peak could exceed the largest one seen are recomputed step by
    step (:func:`_exact_peak`), so that ``max_abs_acc`` is exact.
    """
    batches, m, _ = a.shape
    n = b.shape[2]
    tile_rows = PAIR_TILE_ROWS if pair_b.size else max(2, min(64, TILE_ELEMENTS // max(n, 1)))
    tiles = (m + tile_rows - 1) // tile_rows
    peaks = np.zeros(batches * m, dtype=np.int64)
    slack = np.zeros(batches * m, dtype=np.int64)
    col_max = _column_max(b, acc_plan[1]) if pair_b.size else np.zeros((batches, 0), dtype=np.int64)
    for tile in prange(batches * tiles):
        t = tile // tiles
        i0 = (tile % tiles) * tile_rows
        i1 = min(i0 + tile_rows, m)
        rows = np.arange(t * m + i0, t * m + i1)
        first, last = t * m + i0, t * m + i1
        _fixed_rows(a[t, i0:i1], b[t], fast_a[t, i0:i1], fast_b[t], pair_a[t, i0:i1], pair_b[t],
                    col_max[t], sa[t, i0:i1, 0], sb[t, 0], out[t, i0:i1], run_bounds, combine_runs, mul_plan,
                    acc_plan, acc_fl, gc, mode, key, nbits, rows * n * events_per_output, events_per_output,
                    row_stats[first:last], peaks[first:last], slack[first:last])
    if pair_b.size:
        seen = peaks.max()
        for row in prange(batches * m):
            if slack[row] and peaks[row] + slack[row] > seen:
                exact = _exact_peak(a[row // m, row % m], b[row // m], acc_plan)
                row_stats[row, STAT_MAX_ABS] = exact * pow2(-acc_fl)
