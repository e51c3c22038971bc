"""The one Numba kernel behind every quantizer.

The data is a C-contiguous 2-D array ``(rows, length)`` cut into blocks of ``block``
consecutive elements of a row (the last block of a row may be shorter). Each block has a
shared exponent ``X``: derived from the block's largest magnitude (block formats) or given
(``exps``; all zero for scalar formats, which use large blocks only to split the work).
The block's grid is the element grid scaled by ``2**X``.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from lpformats._bitcast import (
    bits_float32,
    bits_float64,
    exponent_of,
    float32_bits,
    float64_bits,
    pow2,
)
from lpformats._elements import fixed_value, float_value
from lpformats._elements32 import TOP_BITS, fixed_grid32, float_grid32, frame30, value32
from lpformats.rng import GOLDEN, mix64_top, random_float, stream_word
from lpformats.rounding import DOWN, NEAREST, NEAREST_AWAY, STOCHASTIC, UP, ZERO

#: Bit patterns of float64 / float32 +inf and the magnitude masks: |x| compares as its bits do.
_INF_BITS = 0x7FF0000000000000
_ABS_MASK = 0x7FFFFFFFFFFFFFFF
_INF_BITS32 = 0x7F800000
_ABS_MASK32 = 0x7FFFFFFF
#: The float32 quiet-NaN bit (a signalling NaN converted to float64 and back gains it).
_QUIET32 = 0x00400000


def _max_abs(xs):
    """``(max|x| ignoring NaN as float64, NaN count)`` of a 1-D float slice.

    Compares magnitudes as integer bit patterns (ordered like the values; NaN patterns are
    above +inf's): integer max reductions vectorize, float ones do not without fast-math,
    which would also drop the NaN test (measured: 0.10 instead of 0.62 ns/element). float32
    slices compare their own 32-bit patterns (twice the lanes, and AVX2 has no 64-bit max).
    Not inlined: Numba's parfor pass rejects inner loops that reassign a reduction.

    This Python body is the plain-numpy statement of the result (the reference the kernels
    are tested against); compiled code gets the dtype's loop through the overload below."""
    magnitudes = np.abs(np.asarray(xs, dtype=np.float64))
    nan = np.isnan(magnitudes)
    return float(np.max(magnitudes[~nan], initial=0.0)), int(np.count_nonzero(nan))


def _max_abs64(xs):
    m = 0
    nans = 0
    for c in range(xs.size):
        bits = float64_bits(np.float64(xs[c])) & _ABS_MASK
        is_nan = bits > _INF_BITS
        nans += is_nan
        m = max(m, 0 if is_nan else bits)
    return bits_float64(m), nans


@njit(inline="always", cache=True)
def _fold_magnitude32(m, nans, v):
    """One float32 ``v`` folded into ``(m, nans)``: the largest magnitude's bit pattern (int32,
    NaN left out) and the NaN count (int32), for :func:`_max_abs32` and the block loops."""
    bits = np.int32(float32_bits(v) & _ABS_MASK32)
    is_nan = bits > _INF_BITS32
    return max(m, np.int32(0) if is_nan else bits), np.int32(nans + is_nan)


def _max_abs32(xs):
    m = np.int32(0)
    nans = np.int32(0)
    for c in range(xs.size):
        m, nans = _fold_magnitude32(m, nans, xs[c])
    return np.float64(bits_float32(m)), np.int64(nans)


@overload(_max_abs)
def _max_abs_by_dtype(xs):
    return _max_abs32 if xs.dtype == types.float32 else _max_abs64


@njit(parallel=True, cache=True)
def block_max_abs(x2, block, amax):
    """Per block of ``block`` elements of each row of ``x2``: the largest magnitude,
    ignoring NaN, into ``amax``. Returns the number of NaNs."""
    rows, length = x2.shape
    nblk = (length + block - 1) // block
    nans = 0
    for p in prange(rows * nblk):
        r = p // nblk
        start = (p % nblk) * block
        m, n = _max_abs(x2[r, start:min(start + block, length)])
        amax[p] = m
        nans += n
    return nans


@njit(cache=True)
def group_exponents(amax, groups, lo, hi, exps):
    """Shared exponent of each block ``p`` of group ``p % groups`` into ``exps``:
    ``clamp(floor(log2(m)), lo, hi)`` with ``m`` the group's largest ``amax`` (block maxima,
    no NaN); ``lo`` for an all-zero group, ``hi`` for an infinite one. Needs ``lo > -1023``
    (``exponent_of`` reads zero and float64 subnormals as -1023)."""
    gmax = np.zeros(groups)
    for p in range(amax.size):
        gmax[p % groups] = max(gmax[p % groups], amax[p])
    for p in range(amax.size):
        exps[p] = min(max(exponent_of(gmax[p % groups]), lo), hi)


@njit(inline="always", cache=True)
def _element_loop(
    xs, os, base, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
    kmin, kmax, fl, wrap, mode, key, nbits, nan_value,
):
    """Quantize the 1-D slice ``xs`` into ``os`` on a grid already shifted to the block;
    returns the NaN count. ``base``: flat index of ``xs[0]`` (for the random stream).

    Inlined with constant ``is_float`` and ``mode`` so that LLVM folds the branches and
    vectorizes the loop (a loop from 0 over 1-D slices also avoids index wrap-around checks).
    """
    rand_scale = 2.0**nbits
    shift = np.uint64(64 - nbits)
    word = stream_word(key, np.uint64(base))
    count = 0
    for c in range(xs.size):
        v = np.float64(xs[c])
        rand = 0.0
        if mode == STOCHASTIC:
            rand = random_float(word, shift)
            word += np.uint64(GOLDEN)
        if is_float:
            q = float_value(v, man, emin, maxval, flush, no_negative_zero, overflow,
                            mode, rand, rand_scale)
        else:
            q = fixed_value(v, fl, kmin, kmax, wrap, mode, rand, rand_scale)
        is_nan = v != v
        count += is_nan
        kept = nan_value if nan_value == nan_value else v  # NaN nan_value: keep the input NaN
        os[c] = kept if is_nan else q
    return count


#: Elements per parallel work item when blocks are small: one call and one rounding-mode
#: dispatch run many blocks (a call per block of 32 cost about 27 ns, measured).
_GROUP = 1 << 13


@njit(inline="always", cache=True)
def _block_loop(
    xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
    kmin, kmax, fl, wrap, mode, key, nbits, nan_value,
):
    """Blocks ``b0 .. b1 - 1`` of the row ``xrow`` -> ``orow`` (block ``b`` is kernel block
    ``p0 + b - b0``; ``row_base``: flat index of ``xrow[0]``). Inlined with constant
    ``is_float`` and ``mode`` (see :func:`_element_loop`)."""
    length = xrow.size
    for b in range(b0, b1):
        start = b * block
        xs = xrow[start:min(start + block, length)]
        os = orow[start:min(start + block, length)]
        p = p0 + b - b0
        if derive:
            m, nans = _max_abs(xs)
            exps[p] = min(max(exponent_of(m) - offset, lo), hi)
            if (poison_nan and nans > 0) or (poison_inf and m == np.inf):
                os[:] = np.nan
                block_nans[p] = 0
                continue
        X = exps[p]
        block_nans[p] = _element_loop(
            xs, os, row_base + start, is_float, man, emin + X, maxval * pow2(X), flush,
            no_negative_zero, overflow, kmin, kmax, fl - X, wrap, mode, key, nbits, nan_value,
        )


@njit(cache=True)
def _quantize_group(
    xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
    kmin, kmax, fl, wrap, mode, key, nbits, nan_value,
):
    """One work item of :func:`quantize_blocks`: :func:`_block_loop` with one loop copy per
    (element kind, rounding mode), so that constant arguments fold the branches."""
    if is_float:
        if mode == NEAREST:
            return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                               offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                               no_negative_zero, overflow, kmin, kmax, fl, wrap, NEAREST,
                               key, nbits, nan_value)
        if mode == NEAREST_AWAY:
            return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                               offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                               no_negative_zero, overflow, kmin, kmax, fl, wrap, NEAREST_AWAY,
                               key, nbits, nan_value)
        if mode == ZERO:
            return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                               offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                               no_negative_zero, overflow, kmin, kmax, fl, wrap, ZERO,
                               key, nbits, nan_value)
        if mode == DOWN:
            return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                               offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                               no_negative_zero, overflow, kmin, kmax, fl, wrap, DOWN,
                               key, nbits, nan_value)
        if mode == UP:
            return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                               offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                               no_negative_zero, overflow, kmin, kmax, fl, wrap, UP,
                               key, nbits, nan_value)
        return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                           offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                           no_negative_zero, overflow, kmin, kmax, fl, wrap, STOCHASTIC,
                           key, nbits, nan_value)
    if mode == NEAREST:
        return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                           offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                           no_negative_zero, overflow, kmin, kmax, fl, wrap, NEAREST,
                           key, nbits, nan_value)
    if mode == NEAREST_AWAY:
        return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                           offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                           no_negative_zero, overflow, kmin, kmax, fl, wrap, NEAREST_AWAY,
                           key, nbits, nan_value)
    if mode == ZERO:
        return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                           offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                           no_negative_zero, overflow, kmin, kmax, fl, wrap, ZERO,
                           key, nbits, nan_value)
    if mode == DOWN:
        return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                           offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                           no_negative_zero, overflow, kmin, kmax, fl, wrap, DOWN,
                           key, nbits, nan_value)
    if mode == UP:
        return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                           offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                           no_negative_zero, overflow, kmin, kmax, fl, wrap, UP,
                           key, nbits, nan_value)
    return _block_loop(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi,
                       offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                       no_negative_zero, overflow, kmin, kmax, fl, wrap, STOCHASTIC,
                       key, nbits, nan_value)


@njit(parallel=True, cache=True)
def quantize_blocks(
    x2, out2, block, exps, block_nans, derive, lo, hi, offset, poison_nan, poison_inf,
    is_float, man, emin, maxval, flush, no_negative_zero, overflow,
    kmin, kmax, fl, wrap,
    mode, key, nbits, nan_value,
):
    """Quantize ``x2`` into ``out2`` (same shape, any float dtypes); the NaN count of each
    block goes to ``block_nans[p]`` (int32; per block, so that no parallel reduction is needed).

    Shared exponent per block ``p``: when ``derive``, ``X = clamp(floor(log2(max|x|)) -
    offset, lo, hi)`` is computed and stored in ``exps[p]``; else ``exps[p]`` is read.
    A derived block holding NaN (``poison_nan``) or an infinity (``poison_inf``) becomes all
    NaN (MX); otherwise each NaN element becomes ``nan_value``.

    Element grid: float (``is_float``: ``man``, ``emin``, ``maxval``, ``flush``,
    ``no_negative_zero``, ``overflow`` as in :func:`float_value`) or fixed (``kmin``,
    ``kmax``, ``fl``, ``wrap`` as in :func:`fixed_value`).

    Rounding ``mode``; stochastic rounding draws ``nbits`` bits from stream ``key`` for the
    element at flat position ``r * length + c``. Work items are runs of consecutive blocks of
    one row of about :data:`_GROUP` elements.
    """
    rows, length = x2.shape
    nblk = (length + block - 1) // block
    per_item = max(1, _GROUP // block)
    items = (nblk + per_item - 1) // per_item
    for q in prange(rows * items):
        r = q // items
        b0 = (q % items) * per_item
        b1 = min(b0 + per_item, nblk)
        _quantize_group(x2[r], out2[r], r * length, b0, b1, block, r * nblk + b0, exps, block_nans,
                        derive, lo, hi, offset, poison_nan, poison_inf, is_float, man, emin, maxval,
                        flush, no_negative_zero, overflow, kmin, kmax, fl, wrap, mode, key, nbits,
                        nan_value)


@njit(inline="always", cache=True)
def _draw_tops(tops, size, word, kbits):
    """``tops[j]`` = the top ``kbits`` bits of ``mix64(word + j * GOLDEN)`` for ``j < size``
    (int32); returns the word after the last."""
    for j in range(size):
        tops[j] = np.int32(mix64_top(word, kbits))
        word += np.uint64(GOLDEN)
    return word


@njit(inline="always", cache=True)
def _element32(v, top, is_float, grid, mode, kbits, kept_mask, kept_bits, simple):
    """One float32 element ``v`` on float32 lanes (:func:`lpformats._elements32.value32`,
    ``grid`` of its kind, ``simple`` a constant): ``(q, is_nan, at_edge)``; ``top``: the
    element's top ``kbits`` random bits in stochastic ``mode``. A NaN element becomes ``(its
    bits & kept_mask) | kept_bits`` (no branch in the loop), as float64 round trips do."""
    r30 = frame30(top, kbits) if mode == STOCHASTIC else np.int32(0)
    q, at_edge = value32(v, grid, is_float, mode, r30, simple)
    is_nan = v != v
    kept = bits_float32(np.int32(np.int32(float32_bits(v) & kept_mask) | kept_bits))
    return (kept if is_nan else q), is_nan, at_edge


@njit(cache=True)
def _stochastic_block64(xs, os, base, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
                        kmin, kmax, fl, key, nbits, nan_value):
    """Stochastic rounding of one block on float64 lanes (the block's grid already shifted),
    for a float32 block that :func:`_block_loop32` left undecided; returns the NaN count.
    Not inlined: it runs rarely (an element is undecided with probability ``2**-30``, and
    only where its scaled value has fraction bits below ``2**-30``, so ``is_float`` stays a
    run-time flag here)."""
    return _element_loop(xs, os, base, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
                         kmin, kmax, fl, False, STOCHASTIC, key, nbits, np.float64(nan_value))


@njit(inline="always", cache=True)
def _grid32(X, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl):
    """The element grid shifted by the shared exponent ``X`` as the constants of
    :func:`lpformats._elements32.value32`: ``(float grid, fixed grid)``
    (:func:`~lpformats._elements32.float_grid32` with ``emin + X`` and ``maxval * 2**X``,
    :func:`~lpformats._elements32.fixed_grid32` with ``fl - X``); :func:`_block_loop32` reads
    the one of its kind, so the other folds away where the kind is a constant."""
    return (float_grid32(man, emin + X, maxval * pow2(X), flush, no_negative_zero, overflow),
            fixed_grid32(fl - X, kmin, kmax))


#: Blocks of at most this many elements (MX: 32) are run by loops whose trip count has this
#: constant bound, so that LLVM vectorizes them for it: an unbounded loop gets 4-fold
#: interleaved vectors (64 elements on AVX-512) that a block of 32 never reaches, and runs in
#: the narrow remainder loops instead.
_SHORT = 32


@njit(inline="always", cache=True)
def _block_span(p, length, nblk, block):
    """``(start, stop)``: flat C-order indices of kernel block ``p`` of a ``(rows, length)``
    array cut into ``nblk`` blocks of ``block`` per row (the last of a row may be shorter)."""
    r = p // nblk
    first = (p - r * nblk) * block
    return r * length + first, r * length + min(first + block, length)


@njit(inline="always", cache=True)
def _block_loop32(
    xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value, span,
):
    """Kernel blocks ``p0 .. p1 - 1`` of the flat C-order float32 data ``xf`` -> ``of`` (rows
    of ``length``, ``nblk`` blocks per row; see :func:`_block_span`); a flat index is the
    element's random-stream index. Inlined with constant ``is_float``, ``mode`` and ``span``.

    Per block, on index ranges: when ``derive``, the largest magnitude and NaN count give the
    shared exponent ``exps[p]`` (as :func:`_max_abs`), and a poisoned MX block becomes all NaN;
    then :func:`_grid32` and the element loop (:func:`_element32`) in passes of at most
    ``span`` elements (a constant: :data:`_SHORT` for blocks that short, so that each loop's
    trip count has that bound, else :data:`_GROUP`); the NaN count goes to
    ``block_nans[p]``. Stochastic rounding draws the random bits ahead in loops of their own
    (:func:`_draw_tops`; the generator's 64-bit words would otherwise set the vector width of
    the element loop: 4 lanes on AVX2 instead of 8): of the whole work item at once when
    blocks are short, else of each pass. A block that stochastic rounding left undecided
    (:func:`~lpformats._elements32.round_below_step32`) is rerun on float64 lanes
    (:func:`_stochastic_block64`).

    The loops over the blocks call only functions of scalars: an inlined function with array
    arguments costs a reference-count increment and decrement per array and call (Numba's
    pruning misses them in this loop), as much as a short block's arithmetic (measured)."""
    kbits = min(nbits, TOP_BITS)
    keep_input_nan = nan_value != nan_value  # NaN nan_value: keep the input NaN, quieted
    kept_mask = np.int32(-1 if keep_input_nan else 0)
    kept_bits = np.int32(_QUIET32 if keep_input_nan else float32_bits(nan_value))
    tops = np.empty(_GROUP if mode == STOCHASTIC else 1, dtype=np.int32)
    tops_start = _block_span(p0, length, nblk, block)[0]
    if mode == STOCHASTIC and span == _SHORT:  # the whole item (at most _GROUP elements)
        _draw_tops(tops, _block_span(p1 - 1, length, nblk, block)[1] - tops_start,
                   stream_word(key, np.uint64(tops_start)), kbits)
    row_start = p0 // nblk * length
    first_in_row = p0 % nblk * block
    for p in range(p0, p1):  # the next block's position by additions (a division costs more)
        start = row_start + first_in_row
        stop = row_start + min(first_in_row + block, length)
        first_in_row += block
        if first_in_row >= length:
            first_in_row = 0
            row_start += length
        poisoned = False
        if derive:
            m = np.int32(0)
            nans = np.int32(0)
            for j in range(min(stop - start, _SHORT) if span == _SHORT else stop - start):
                m, nans = _fold_magnitude32(m, nans, xf[np.uint64(start + j)])
            largest = np.float64(bits_float32(m))
            exps[p] = min(max(exponent_of(largest) - offset, lo), hi)
            poisoned = (poison_nan and nans > 0) or (poison_inf and largest == np.inf)
        count = np.int32(0)
        if poisoned:
            for c in range(start, stop):
                of[c] = np.nan
        else:
            X = exps[p]
            grids = _grid32(X, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl)
            grid = grids[0] if is_float else grids[1]
            edges = np.int32(0)
            for first in range(start, stop, span):
                if mode == STOCHASTIC and span != _SHORT:
                    tops_start = first
                    _draw_tops(tops, min(stop - first, span), stream_word(key, np.uint64(first)), kbits)
                size = min(stop - first, span)
                if grid.simple:  # one loop per value of the flag, so that value32 specialises
                    for j in range(size):
                        c = np.uint64(first + j)
                        top = tops[np.uint64(first - tops_start + j)] if mode == STOCHASTIC else np.int32(0)
                        q, is_nan, at_edge = _element32(xf[c], top, is_float, grid, mode, kbits, kept_mask,
                                                        kept_bits, True)
                        of[c] = q
                        count = np.int32(count + is_nan)
                        edges = np.int32(edges + at_edge)
                else:
                    for j in range(size):
                        c = np.uint64(first + j)
                        top = tops[np.uint64(first - tops_start + j)] if mode == STOCHASTIC else np.int32(0)
                        q, is_nan, at_edge = _element32(xf[c], top, is_float, grid, mode, kbits, kept_mask,
                                                        kept_bits, False)
                        of[c] = q
                        count = np.int32(count + is_nan)
                        edges = np.int32(edges + at_edge)
            if mode == STOCHASTIC and nbits > TOP_BITS and edges > 0:
                count = _stochastic_block64(xf[start:stop], of[start:stop], start, is_float, man, emin + X,
                                            maxval * pow2(X), flush, no_negative_zero, overflow, kmin, kmax,
                                            fl - X, key, nbits, nan_value)
        block_nans[p] = count


@njit(inline="always", cache=True)
def _dispatch32(
    xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value, span,
):
    """One work item of :func:`quantize_blocks32`, one loop copy per (element kind, mode), with
    the passes' ``span`` (a constant; see :func:`_block_loop32`)."""
    if is_float:
        if mode == NEAREST:
            return _block_loop32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi,
                                 offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                                 no_negative_zero, overflow, kmin, kmax, fl, NEAREST, key, nbits, nan_value,
                                 span)
        return _block_loop32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi,
                             offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                             no_negative_zero, overflow, kmin, kmax, fl, STOCHASTIC, key, nbits, nan_value,
                             span)
    if mode == NEAREST:
        return _block_loop32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi,
                             offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                             no_negative_zero, overflow, kmin, kmax, fl, NEAREST, key, nbits, nan_value,
                             span)
    return _block_loop32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi,
                         offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                         no_negative_zero, overflow, kmin, kmax, fl, STOCHASTIC, key, nbits, nan_value,
                         span)


@njit(cache=True)
def _quantize_group32(
    xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value,
):
    """:func:`_dispatch32` for blocks of any length, in passes of :data:`_GROUP`."""
    return _dispatch32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset,
                       poison_nan, poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
                       kmin, kmax, fl, mode, key, nbits, nan_value, _GROUP)


@njit(cache=True)
def _quantize_short_group32(
    xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value,
):
    """:func:`_dispatch32` for blocks of at most :data:`_SHORT` elements (a function of its
    own: LLVM merges the loops of two spans in one function, and the bound is lost)."""
    return _dispatch32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset,
                       poison_nan, poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
                       kmin, kmax, fl, mode, key, nbits, nan_value, _SHORT)


@njit(parallel=True, cache=True)
def quantize_blocks32(
    x2, out2, block, exps, block_nans, derive, lo, hi, offset, poison_nan, poison_inf,
    is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value,
):
    """:func:`quantize_blocks` for C-contiguous float32 ``x2``/``out2`` on float32 lanes, for
    ``nearest`` and ``stochastic`` rounding (``mode``), without ``wrap``; the caller checks
    that every grid the shared exponents can reach lies inside float32
    (:func:`lpformats.quantize.float32_lanes_fit`). Same arguments and results.

    Work items are runs of consecutive kernel blocks in C order, about :data:`_GROUP`
    elements each, which may span rows (short rows of small blocks would otherwise give
    items of a few blocks, each paying for its call and its random-number buffer)."""
    rows, length = x2.shape
    nblk = (length + block - 1) // block
    blocks = rows * nblk
    per_item = max(1, _GROUP // block)
    items = (blocks + per_item - 1) // per_item
    xf = x2.reshape(-1)
    of = out2.reshape(-1)
    for q in prange(items):
        p0 = q * per_item
        p1 = min(p0 + per_item, blocks)
        if block <= _SHORT:
            _quantize_short_group32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi,
                                    offset, poison_nan, poison_inf, is_float, man, emin, maxval, flush,
                                    no_negative_zero, overflow, kmin, kmax, fl, mode, key, nbits, nan_value)
        else:
            _quantize_group32(xf, of, length, nblk, block, p0, p1, exps, block_nans, derive, lo, hi, offset,
                              poison_nan, poison_inf, is_float, man, emin, maxval, flush, no_negative_zero,
                              overflow, kmin, kmax, fl, mode, key, nbits, nan_value)


@njit(parallel=True, cache=True)
def count_nans(flat):
    """Number of NaNs in a 1-D array."""
    n = 0
    for i in prange(flat.size):
        n += flat[i] != flat[i]
    return n
