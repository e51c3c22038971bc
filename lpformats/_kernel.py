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


def _max_abs32(xs):
    m = np.int32(0)
    nans = np.int32(0)
    for c in range(xs.size):
        bits = np.int32(float32_bits(xs[c]) & _ABS_MASK32)
        is_nan = bits > _INF_BITS32
        nans = np.int32(nans + is_nan)
        m = max(m, np.int32(0) if is_nan else bits)
    return np.float64(bits_float32(m)), np.int64(nans)


@overload(_max_abs)
def _max_abs_by_dtype(xs):
    return _max_abs32 if xs.dtype == types.float32 else _max_abs64


#: :func:`_max_abs` of a float32 slice inlined, for the (not parallel) block loops: a call per
#: MX block of 32 costs as much as the block's arithmetic.
_max_abs32_inlined = njit(inline="always", cache=True)(_max_abs32)


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


#: Random numbers drawn ahead of the float32 element loop, per pass (see :func:`_element_loop32`).
_TOPS = 512


@njit(inline="always", cache=True)
def _draw_tops(tops, size, word, kbits):
    """``tops[j]`` = the top ``kbits`` bits of ``mix64(word + j * GOLDEN)`` for ``j < size``
    (int32); returns the word after the last."""
    for j in range(size):
        tops[j] = np.int32(mix64_top(word, kbits))
        word += np.uint64(GOLDEN)
    return word


@njit(inline="always", cache=True)
def _element_loop32(xs, os, base, is_float, grid, mode, key, nbits, nan_value, tops):
    """:func:`_element_loop` on float32 lanes (:mod:`lpformats._elements32`): ``xs``/``os``
    float32, ``mode`` ``NEAREST`` or ``STOCHASTIC``, ``grid`` the block's float32 constants
    from :func:`_grid32`. Returns ``(NaN count, undecided)``: where stochastic rounding
    left some element undecided (:func:`~lpformats._elements32.round_below_step32`) the
    caller reruns the block on float64 lanes. Counts are kept in int32 so that no lane widens.

    Stochastic rounding draws the random numbers of up to :data:`_TOPS` elements into
    ``tops`` (int32) first, in a loop of its own: the generator's 64-bit words would
    otherwise set the vector width of the whole loop (4 lanes on AVX2 instead of 8).
    ``nearest`` runs the element loop once over the block."""
    kbits = min(nbits, TOP_BITS)
    if mode != STOCHASTIC:
        return _elements32(xs, os, tops, is_float, grid, mode, kbits, nan_value)[0], False
    word = stream_word(key, np.uint64(base))
    count = np.int32(0)
    edges = np.int32(0)
    size = xs.size
    for first in range(0, size, _TOPS):
        n = min(_TOPS, size - first)
        word = _draw_tops(tops, n, word, kbits)
        nans, at_edge = _elements32(xs[first:first + n], os[first:first + n], tops, is_float, grid, mode,
                                    kbits, nan_value)
        count = np.int32(count + nans)
        edges = np.int32(edges + at_edge)
    return count, nbits > TOP_BITS and edges > 0


@njit(inline="always", cache=True)
def _elements32(xs, os, tops, is_float, grid, mode, kbits, nan_value):
    """The element loop of :func:`_element_loop32` over ``xs``/``os`` (``tops[c]``: element
    ``c``'s top ``kbits`` random bits in stochastic ``mode``; ``grid`` from :func:`_grid32`);
    returns ``(NaN count, at-edge count)``."""
    element_grid = grid[0] if is_float else grid[1]
    keep_input_nan = nan_value != nan_value  # NaN nan_value: keep the input NaN, quieted
    kept_mask = np.int32(-1 if keep_input_nan else 0)
    kept_bits = np.int32(_QUIET32 if keep_input_nan else float32_bits(nan_value))
    if element_grid.simple:
        return _element_run32(xs, os, tops, is_float, element_grid, mode, kbits, kept_mask, kept_bits, True)
    return _element_run32(xs, os, tops, is_float, element_grid, mode, kbits, kept_mask, kept_bits, False)


@njit(inline="always", cache=True)
def _element_run32(xs, os, tops, is_float, grid, mode, kbits, kept_mask, kept_bits, simple):
    """The loop of :func:`_elements32` with ``simple`` a constant; a NaN element becomes
    ``(its bits & kept_mask) | kept_bits`` (no branch in the loop), as float64 round trips do."""
    count = np.int32(0)
    edges = np.int32(0)
    for c in range(xs.size):
        v = xs[c]
        r30 = frame30(tops[c], kbits) if mode == STOCHASTIC else np.int32(0)
        q, at_edge = value32(v, grid, is_float, mode, r30, simple)
        is_nan = v != v
        count = np.int32(count + is_nan)
        edges = np.int32(edges + at_edge)
        kept = bits_float32(np.int32(np.int32(float32_bits(v) & kept_mask) | kept_bits))
        os[c] = kept if is_nan else q
    return count, edges


@njit(cache=True)
def _stochastic_block64(xs, os, base, is_float, man, emin, maxval, flush, no_negative_zero, overflow,
                        kmin, kmax, fl, key, nbits, nan_value):
    """Stochastic rounding of one block on float64 lanes (the block's grid already shifted),
    for a float32 block that :func:`_element_loop32` left undecided; returns the NaN count.
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
    :func:`~lpformats._elements32.fixed_grid32` with ``fl - X``); :func:`_elements32` reads
    the one of its kind, so the other folds away where the kind is a constant."""
    return (float_grid32(man, emin + X, maxval * pow2(X), flush, no_negative_zero, overflow),
            fixed_grid32(fl - X, kmin, kmax))


@njit(inline="always", cache=True)
def _block_loop32(
    xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value,
):
    """:func:`_block_loop` with :func:`_element_loop32`."""
    length = xrow.size
    tops = np.empty(_TOPS, dtype=np.int32)
    for b in range(b0, b1):
        start = b * block
        xs = xrow[start:min(start + block, length)]
        os = orow[start:min(start + block, length)]
        p = p0 + b - b0
        if derive:
            m, nans = _max_abs32_inlined(xs)
            exps[p] = min(max(exponent_of(m) - offset, lo), hi)
            if (poison_nan and nans > 0) or (poison_inf and m == np.inf):
                os[:] = np.nan
                block_nans[p] = 0
                continue
        X = exps[p]
        grid = _grid32(X, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl)
        nans, undecided = _element_loop32(xs, os, row_base + start, is_float, grid, mode, key,
                                          nbits, nan_value, tops)
        if undecided:
            nans = _stochastic_block64(xs, os, row_base + start, is_float, man, emin + X, maxval * pow2(X),
                                       flush, no_negative_zero, overflow, kmin, kmax, fl - X, key, nbits,
                                       nan_value)
        block_nans[p] = nans


@njit(cache=True)
def _quantize_group32(
    xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo, hi, offset, poison_nan,
    poison_inf, is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value,
):
    """One work item of :func:`quantize_blocks32`, one loop copy per (element kind, mode)."""
    if is_float:
        if mode == NEAREST:
            return _block_loop32(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo,
                                 hi, offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                                 no_negative_zero, overflow, kmin, kmax, fl, NEAREST, key, nbits, nan_value)
        return _block_loop32(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo,
                             hi, offset, poison_nan, poison_inf, True, man, emin, maxval, flush,
                             no_negative_zero, overflow, kmin, kmax, fl, STOCHASTIC, key, nbits, nan_value)
    if mode == NEAREST:
        return _block_loop32(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo,
                             hi, offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                             no_negative_zero, overflow, kmin, kmax, fl, NEAREST, key, nbits, nan_value)
    return _block_loop32(xrow, orow, row_base, b0, b1, block, p0, exps, block_nans, derive, lo,
                         hi, offset, poison_nan, poison_inf, False, man, emin, maxval, flush,
                         no_negative_zero, overflow, kmin, kmax, fl, STOCHASTIC, key, nbits, nan_value)


@njit(parallel=True, cache=True)
def quantize_blocks32(
    x2, out2, block, exps, block_nans, derive, lo, hi, offset, poison_nan, poison_inf,
    is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl,
    mode, key, nbits, nan_value,
):
    """:func:`quantize_blocks` for float32 ``x2``/``out2`` on float32 lanes, for ``nearest``
    and ``stochastic`` rounding (``mode``), without ``wrap``; the caller checks that every
    grid the shared exponents can reach lies inside float32
    (:func:`lpformats.quantize.float32_lanes_fit`). Same arguments and results."""
    rows, length = x2.shape
    nblk = (length + block - 1) // block
    per_item = max(1, _GROUP // block)
    items = (nblk + per_item - 1) // per_item
    for q in prange(rows * items):
        r = q // items
        b0 = (q % items) * per_item
        b1 = min(b0 + per_item, nblk)
        _quantize_group32(x2[r], out2[r], r * length, b0, b1, block, r * nblk + b0, exps, block_nans,
                          derive, lo, hi, offset, poison_nan, poison_inf, is_float, man, emin, maxval,
                          flush, no_negative_zero, overflow, kmin, kmax, fl, mode, key, nbits, nan_value)


@njit(parallel=True, cache=True)
def count_nans(flat):
    """Number of NaNs in a 1-D array."""
    n = 0
    for i in prange(flat.size):
        n += flat[i] != flat[i]
    return n
