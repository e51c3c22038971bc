"""Numba kernels for bit-serial matmul: bit-plane packing, AND/XOR + popcount tile products,
and the int64-accumulating integer matmul used as the reference baseline.

Layouts (all C-contiguous, ``W = ceil(K / 64)`` words along K, bit ``k % 64`` of word ``k // 64``):

- left operand planes ``(batch, P, M, W)`` uint64: plane ``p`` of row ``i``;
- right operand planes ``(batch, Q, W, N)`` uint64: word ``w`` of plane ``q`` for every column,
  so that the innermost loop runs over contiguous columns and vectorizes (``vpopcntq``).

Bits past K in the last word are zero in both operands, so they add nothing to AND or XOR
popcounts.
"""

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

#: Output tile (rows x columns) one thread computes; the right operand's tile of
#: ``Q x WORDS_PER_BLOCK x TILE_N`` words is reused across the TILE_M rows from L2.
TILE_M = 64
TILE_N = 256
#: Words of K per block for a 1-plane right operand (divided by the plane count), keeping
#: the right operand's tile at 256 KiB or less.
WORDS_PER_BLOCK = 128
#: int_matmul tiles: K block of the int16 baseline.
INT_TILE_K = 256


@intrinsic
def popcount64(typingctx, word):
    """Number of set bits of a 64-bit integer, as int64 (``llvm.ctpop.i64``: POPCNT, and
    VPOPCNTQ when the loop vectorizes on AVX-512 VPOPCNTDQ)."""
    if not isinstance(word, types.Integer) or word.bitwidth != 64:
        return None
    sig = types.int64(word)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


@njit(parallel=True, cache=True)
def pack_along_last(codes, planes, lo, hi, offset, shift, out, bad):
    """Pack ``codes`` (batch, R, K) along K into ``out`` (batch, planes, R, W) uint64.

    Plane p holds bit p of ``(v + offset) >> shift`` (an arithmetic shift: bit p of the two's
    complement pattern for offset = shift = 0; bipolar codes -(2**b-1), .., -1, 1, .., 2**b-1
    -> 0 .. 2**b-1 for offset = 2**b-1, shift = 1). ``bad[b, r]`` receives the number of codes
    of the row outside [lo, hi] or with ``v + offset`` not a multiple of ``2**shift``.
    """
    nb, nr, nk = codes.shape
    nw = out.shape[3]
    parity = (np.int64(1) << shift) - 1
    for task in prange(nb * nr):
        b = task // nr
        r = task - b * nr
        row = codes[b, r]
        nbad = 0
        for k in range(nk):
            v = np.int64(row[k])
            nbad += (v < lo) | (v > hi) | (((v + offset) & parity) != 0)
        bad[b, r] = nbad
        for p in range(planes):
            for w in range(nw):
                k0 = w * 64
                word = np.uint64(0)
                for k in range(k0, min(nk, k0 + 64)):
                    bit = (((np.int64(row[k]) + offset) >> shift) >> p) & 1
                    word |= np.uint64(bit) << np.uint64(k - k0)
                out[b, p, r, w] = word


@njit(parallel=True, cache=True)
def pack_along_rows(codes, planes, lo, hi, offset, shift, out, bad):
    """Pack ``codes`` (batch, K, C) along K into ``out`` (batch, planes, W, C) uint64.

    Same bit pattern and ``bad`` rule as :func:`pack_along_last`; ``bad[b, w]`` counts the
    invalid codes of rows ``64w .. 64w+63``.
    """
    nb, nk, nc = codes.shape
    nw = out.shape[2]
    parity = (np.int64(1) << shift) - 1
    for task in prange(nb * nw):
        b = task // nw
        w = task - b * nw
        k0 = w * 64
        nbad = 0
        for p in range(planes):
            out[b, p, w] = 0
        for k in range(k0, min(nk, k0 + 64)):
            row = codes[b, k]
            t = np.uint64(k - k0)
            for c in range(nc):
                v = np.int64(row[c])
                nbad += (v < lo) | (v > hi) | (((v + offset) & parity) != 0)
            for p in range(planes):
                words = out[b, p, w]
                for c in range(nc):
                    bit = (((np.int64(row[c]) + offset) >> shift) >> p) & 1
                    words[c] |= np.uint64(bit) << t
        bad[b, w] = nbad


@njit(cache=True)
def _plane_dot(tmp, arow, bplane, w0, w1, j0, jn, use_xor):
    """``tmp[j] += sum_{w0 <= w < w1} popcount(arow[w] OP bplane[w, j0 + j])`` for j < jn,
    OP = XOR or AND; four words per pass (fewer ``tmp`` loads and stores per popcount)."""
    j1 = j0 + jn
    w = w0
    while w + 4 <= w1:
        a0, a1, a2, a3 = arow[w], arow[w + 1], arow[w + 2], arow[w + 3]
        b0, b1, b2, b3 = bplane[w, j0:j1], bplane[w + 1, j0:j1], bplane[w + 2, j0:j1], bplane[w + 3, j0:j1]
        if use_xor:
            for j in range(jn):
                tmp[j] += (popcount64(a0 ^ b0[j]) + popcount64(a1 ^ b1[j])
                           + popcount64(a2 ^ b2[j]) + popcount64(a3 ^ b3[j]))
        elif (a0 | a1 | a2 | a3) != 0:
            for j in range(jn):
                tmp[j] += (popcount64(a0 & b0[j]) + popcount64(a1 & b1[j])
                           + popcount64(a2 & b2[j]) + popcount64(a3 & b3[j]))
        w += 4
    for w_left in range(w, w1):
        a0 = arow[w_left]
        b0 = bplane[w_left, j0:j1]
        if use_xor:
            for j in range(jn):
                tmp[j] += popcount64(a0 ^ b0[j])
        elif a0 != 0:
            for j in range(jn):
                tmp[j] += popcount64(a0 & b0[j])


@njit(parallel=True, cache=True)
def bitserial_tiles(ap, bp, a_batch, b_batch, weights, use_xor, const, row_terms, col_terms, out):
    """``out[o, i, j] = const + row_terms[a_batch[o], i] + col_terms[b_batch[o], j]
    + sum_{p,q} weights[p, q] * sum_w popcount(ap[., p, i, w] OP bp[., q, w, j])``

    with OP = XOR when ``use_xor`` else AND. ``ap``: (BA, P, M, W), ``bp``: (BB, Q, W, N),
    ``out``: (BO, M, N) int64. Tiles of TILE_M x TILE_N outputs run in parallel; K is blocked
    so the right operand's tile stays in L2; one TILE_N scratch row per tile.
    """
    nbo, m, n = out.shape
    nplanes_a = ap.shape[1]
    nplanes_b = bp.shape[1]
    nw = ap.shape[3]
    tiles_m = (m + TILE_M - 1) // TILE_M
    tiles_n = (n + TILE_N - 1) // TILE_N
    wblock = max(4, WORDS_PER_BLOCK // nplanes_b)
    for task in prange(nbo * tiles_m * tiles_n):
        o = task // (tiles_m * tiles_n)
        rest = task - o * (tiles_m * tiles_n)
        i0 = (rest // tiles_n) * TILE_M
        j0 = (rest % tiles_n) * TILE_N
        i1 = min(m, i0 + TILE_M)
        jn = min(n, j0 + TILE_N) - j0
        ba = a_batch[o]
        bb = b_batch[o]
        tmp = np.empty(jn, np.int64)
        cols = col_terms[bb, j0:j0 + jn]
        for i in range(i0, i1):
            base = const + row_terms[ba, i]
            orow = out[o, i, j0:j0 + jn]
            for j in range(jn):
                orow[j] = base + cols[j]
        for w0 in range(0, nw, wblock):
            w1 = min(nw, w0 + wblock)
            for i in range(i0, i1):
                orow = out[o, i, j0:j0 + jn]
                for p in range(nplanes_a):
                    arow = ap[ba, p, i]
                    for q in range(nplanes_b):
                        tmp[:] = 0
                        _plane_dot(tmp, arow, bp[bb, q], w0, w1, j0, jn, use_xor)
                        weight = weights[p, q]
                        for j in range(jn):
                            orow[j] += weight * tmp[j]


@njit(parallel=True, cache=True)
def int_tiles(a, b, a_batch, b_batch, out):
    """``out[o] = a[a_batch[o]] @ b[b_batch[o]]`` with int64 products and sums.

    ``a``: (BA, M, K), ``b``: (BB, K, N) of any integer dtypes up to 32 bits, ``out``:
    (BO, M, N) int64. Loop order i, k, j over TILE_M x TILE_N output tiles and INT_TILE_K
    blocks of K, four k per pass: the innermost loop runs over contiguous columns and
    vectorizes (int16 loads widened to int64 lanes, VPMULDQ).
    """
    nbo, m, n = out.shape
    nk = a.shape[2]
    tiles_m = (m + TILE_M - 1) // TILE_M
    tiles_n = (n + TILE_N - 1) // TILE_N
    for task in prange(nbo * tiles_m * tiles_n):
        o = task // (tiles_m * tiles_n)
        rest = task - o * (tiles_m * tiles_n)
        i0 = (rest // tiles_n) * TILE_M
        j0 = (rest % tiles_n) * TILE_N
        i1 = min(m, i0 + TILE_M)
        j1 = min(n, j0 + TILE_N)
        ba = a_batch[o]
        bb = b_batch[o]
        for i in range(i0, i1):
            out[o, i, j0:j1] = 0
        for k0 in range(0, nk, INT_TILE_K):
            k1 = min(nk, k0 + INT_TILE_K)
            for i in range(i0, i1):
                _int_row(out[o, i, j0:j1], a[ba, i], b[bb], k0, k1, j0, j1)


@njit(cache=True)
def _int_row(orow, arow, bmat, k0, k1, j0, j1):
    """``orow[j] += sum_{k0 <= k < k1} arow[k] * bmat[k, j0 + j]`` in int64, four k per pass."""
    k = k0
    while k + 4 <= k1:
        a0, a1 = np.int64(arow[k]), np.int64(arow[k + 1])
        a2, a3 = np.int64(arow[k + 2]), np.int64(arow[k + 3])
        b0, b1, b2, b3 = bmat[k, j0:j1], bmat[k + 1, j0:j1], bmat[k + 2, j0:j1], bmat[k + 3, j0:j1]
        for j in range(orow.size):
            orow[j] += (a0 * np.int64(b0[j]) + a1 * np.int64(b1[j])
                        + a2 * np.int64(b2[j]) + a3 * np.int64(b3[j]))
        k += 4
    for k_left in range(k, k1):
        a0 = np.int64(arow[k_left])
        b0 = bmat[k_left, j0:j1]
        for j in range(orow.size):
            orow[j] += a0 * np.int64(b0[j])
