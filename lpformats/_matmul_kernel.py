"""Numba kernel of :func:`lpformats.matmul`: per-step rounded products and accumulations.

Operands arrive as mantissas with per-segment power-of-two shifts (scalar formats: one
segment, shift 0). For output row ``i`` the kernel walks ``k`` in runs (a segment, or a chunk
of one); within a run every product is rounded to ``mul`` and every addition to ``acc``, in
the accumulator's own units (the mantissa domain), vectorized across the ``N`` outputs of
the row; a finished run is scaled by ``2**(shift_a + shift_b)`` and, when results of several
runs must be combined, added into a ``combine``-format total.

Grid arguments (``g``) are the 11-tuple of :func:`lpformats.quantize._element_args`:
``(is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl, wrap)``.
"""

import numpy as np
from numba import literally, njit, prange

from lpformats._bitcast import bits_float64, float64_bits, pow2
from lpformats._elements import fixed_code, fixed_in_range, float_finish, float_round
from lpformats.rng import element_bits
from lpformats.rounding import STOCHASTIC

#: Accumulation orders (kernel codes).
SEQUENTIAL, PAIRWISE = 0, 1
#: Columns of the per-row statistics array.
STAT_SATURATED, STAT_WRAPPED, STAT_UNDERFLOW, STAT_SWAMPED, STAT_MAX_ABS = range(5)
N_STATS = 5


@njit(inline="always", cache=True)
def _round_on_grid(x, g, is_float, mode, rand, rand_scale):
    """``(value, out_of_range)``: ``x`` rounded onto grid ``g`` (float when the compile-time
    constant ``is_float``); ``out_of_range`` says the rounded value lay beyond the format's
    range (then saturated, wrapped, or inf/NaN)."""
    if is_float:
        q = float_round(x, g[1], g[2], mode, rand, rand_scale)
        return float_finish(q, x, g[2], g[3], g[4], g[5], g[6], mode), abs(q) > g[3]
    k = fixed_code(x, g[9], mode, rand, rand_scale)
    return fixed_in_range(k, g[7], g[8], g[10]) * pow2(-g[9]), k < g[7] or k > g[8]


@njit(inline="always", cache=True)
def _nudged_sum(a, b):
    """``a + b`` in float64, moved one ulp toward the exact sum when the addition was inexact,
    so that rounding it to any grid of at most 51 significant bits rounds the exact sum."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    step = 0 if err == 0.0 else (1 if (err > 0.0) == (s > 0.0) else -1)  # +1: away from zero
    return bits_float64(float64_bits(s) + step)


@njit(inline="always", cache=True)
def _rand(key, index, shift, mode):
    """Random integer for one rounding event (0 unless ``mode`` is stochastic)."""
    if mode == STOCHASTIC:
        return np.float64(element_bits(key, np.uint64(index)) >> shift)
    return 0.0


@njit(inline="always", cache=True)
def _accumulate(acc, v, g, is_float, mode, key, base, stride, event, shift, rand_scale, stats):
    """``acc[j] = round_acc(acc[j] + v[j])`` for every ``j``, counting events in ``stats``."""
    for j in range(acc.size):
        rand = _rand(key, base + j * stride + event, shift, mode)
        old = acc[j]
        q, out = _round_on_grid(_nudged_sum(old, v[j]), g, is_float, mode, rand, rand_scale)
        stats[STAT_SATURATED] += out and not g[10]
        stats[STAT_WRAPPED] += out and g[10]
        stats[STAT_SWAMPED] += v[j] != 0.0 and q == old
        stats[STAT_MAX_ABS] = max(stats[STAT_MAX_ABS], abs(q))
        acc[j] = q


@njit(cache=True)
def _row(a_row, b, sa_row, sb, out_row, run_bounds, seg_len, order, combine_runs,
         mul_kind, gm, ga, acc_float, gc, mode, key, nbits, row_base, events_per_output, stats):
    """One output row: ``out_row[j] = sum_k a_row[k] * b[k, j]`` as the hardware computes it.

    ``mode``, ``order``, ``mul_kind`` (0: exact products, 1: fixed, 2: float) and
    ``acc_float`` are compile-time constants (``literally``), so each combination gets its
    own vectorized loop."""
    literally(mode)
    literally(acc_float)
    literally(order)
    literally(mul_kind)
    n = out_row.size
    rand_scale = 2.0**nbits
    shift = np.uint64(64 - nbits)
    acc = np.zeros(n)
    v = np.zeros(n)
    total = np.zeros(n)
    longest = 0
    for r in range(run_bounds.size - 1):
        longest = max(longest, run_bounds[r + 1] - run_bounds[r])
    tree = np.zeros((longest if order == PAIRWISE else 0, n))
    event = 0
    for r in range(run_bounds.size - 1):
        k0, k1 = run_bounds[r], run_bounds[r + 1]
        acc[:] = 0.0
        for k in range(k0, k1):
            a = a_row[k]
            for j in range(n):
                p = a * b[k, j]  # exact: significands of at most 26 bits
                if mul_kind:
                    rand = _rand(key, row_base + j * events_per_output + event, shift, mode)
                    q, out = _round_on_grid(p, gm, mul_kind == 2, mode, rand, rand_scale)
                    stats[STAT_UNDERFLOW] += p != 0.0 and q == 0.0
                    stats[STAT_SATURATED] += out
                    p = q
                v[j] = p
            event += 1
            if order == PAIRWISE:
                tree[k - k0, :] = v
            else:
                _accumulate(acc, v, ga, acc_float, mode, key, row_base, events_per_output, event, shift,
                            rand_scale, stats)
                event += 1
        if order == PAIRWISE:
            width = k1 - k0
            step = 1
            while step < width:
                for t in range(0, width - step, 2 * step):
                    _accumulate(tree[t], tree[t + step], ga, acc_float, mode, key, row_base, events_per_output,
                                event, shift, rand_scale, stats)
                    event += 1
                step *= 2
            if width == 1:  # a lone product still enters the accumulator through an addition
                _accumulate(acc, tree[0], ga, acc_float, mode, key, row_base, events_per_output, event, shift,
                            rand_scale, stats)
                event += 1
            elif width > 1:
                acc[:] = tree[0]
        seg = k0 // seg_len
        for j in range(n):
            v[j] = acc[j] * pow2(sa_row[seg] + sb[seg, j])
        if combine_runs:
            _accumulate(total, v, gc, gc[0], mode, key, row_base, events_per_output, event, shift,
                        rand_scale, stats)
            event += 1
        else:
            total[:] = v
    out_row[:] = total


@njit(parallel=True, cache=True)
def matmul_kernel(a, b, sa, sb, out, run_bounds, seg_len, order, combine_runs,
                  mul_kind, gm, ga, acc_float, gc, mode, key, nbits, events_per_output, row_stats):
    """``out[t] = a[t] @ b[t]`` for every batch ``t`` with per-step rounding (see module doc).

    Shapes: ``a (T, M, K)``, ``b (T, K, N)``, ``sa (T, M, S)``, ``sb (T, S, N)`` (S segments of
    ``seg_len``), ``out (T, M, N)``, ``row_stats (T*M, N_STATS)``. ``run_bounds``: increasing
    ``k`` offsets delimiting runs, ``0 ... K``.
    """
    batches, m, _ = a.shape
    n = b.shape[2]
    for row in prange(batches * m):
        t = row // m
        i = row % m
        row_stats[row, :] = 0.0
        _row(a[t, i], b[t], sa[t, i], sb[t], out[t, i], run_bounds, seg_len, order, combine_runs,
             mul_kind, gm, ga, acc_float, gc, mode, key, nbits, row * n * events_per_output,
             events_per_output,
             row_stats[row])
