"""Exact int16 x int16 multiply-adds in pairs of ``k`` on 16 int32 lanes, for Numba kernels.

``pair_mac_pass`` is an intrinsic written in portable LLVM vector IR: each of its steps
sign-extends 32 int16 values (16 lanes of ``(b[k, j], b[k + 1, j])`` pairs) and a broadcast
pair ``(a[k], a[k + 1])``, multiplies them in int32 and adds the even and odd products. x86
code generation turns exactly this pattern into one ``vpmaddwd`` (``vpdpwssd``, fused with
the accumulation, where AVX-512 VNNI is present): on AVX-512 one instruction per 16 lanes, on
AVX2 two of 8; other targets get the plain widening multiply-add. Numba does not find the
pattern in scalar loops (it widens to int32 first and multiplies with ``vpmulld``), hence the
intrinsic. Sixteen lanes suit both ISAs: a whole 64-byte cache line of int32 sums per step.

Exactness: the sum of two products of int16 values is exact in int32 unless all four are
-32768; callers bound every partial sum below 2**31, which excludes that case.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

#: int32 lanes of one step (sums of 16 outputs of a row).
LANES = 16
#: Pairs of ``k`` (``2 * PAIRS_PER_PASS`` steps of ``k``) per call of :func:`pair_mac_pass`.
PAIRS_PER_PASS = 4
#: Rows of the ``state`` array: sum, running max and running min of row 0, then of row 1.
STATE_ROWS = 6

_I16, _I32 = ir.IntType(16), ir.IntType(32)


def _vector_at(builder, data, index, element, lanes):
    """Pointer to ``lanes`` elements of type ``element`` starting at ``data[index]``."""
    return builder.bitcast(builder.gep(data, [index]), ir.VectorType(element, lanes).as_pointer())


@intrinsic
def pair_mac_pass(typingctx, state, b_pairs, j, width, b_offsets, a0_pairs, a1_pairs):
    """Four pair steps of two output rows on lanes ``j .. j + 15``.

    ``state``: C-contiguous int32 array, flat index ``r * width + j`` for row ``r`` of
    ``(sum0, max0, min0, sum1, max1, min1)``. ``b_pairs``: C-contiguous int16 array;
    ``b_offsets[t] + 2 * l + h`` (flat index) holds ``b[2 kk_t + h, j + l]``. ``a0_pairs`` /
    ``a1_pairs``: four int32 words, each two int16 halves ``(a[2 kk_t], a[2 kk_t + 1])``
    (low half first) of row 0 / row 1. After each pair step ``t`` every sum gets
    ``a[2 kk_t] b[2 kk_t, j] + a[2 kk_t + 1] b[2 kk_t + 1, j]`` and its running max/min the
    new sum; the loads of ``b`` serve both rows."""
    for name, arr, dtype in (("state", state, types.int32), ("b_pairs", b_pairs, types.int16)):
        if not (isinstance(arr, types.Array) and arr.dtype == dtype and arr.layout == "C"):
            raise TypingError(f"pair_mac_pass: {name} must be a C-contiguous {dtype} array, got {arr}")
    for name, given in (("b_offsets", b_offsets), ("a0_pairs", a0_pairs), ("a1_pairs", a1_pairs)):
        if not (isinstance(given, types.UniTuple) and given.count == PAIRS_PER_PASS
                and isinstance(given.dtype, types.Integer)):
            raise TypingError(f"pair_mac_pass: {name} must be a tuple of {PAIRS_PER_PASS} integers")
    pair_words = types.UniTuple(types.int32, PAIRS_PER_PASS)
    sig = types.void(state, b_pairs, types.intp, types.intp, types.UniTuple(types.intp, PAIRS_PER_PASS),
                     pair_words, pair_words)

    def codegen(context, builder, signature, args):
        state_arr = context.make_array(signature.args[0])(context, builder, args[0])
        b_arr = context.make_array(signature.args[1])(context, builder, args[1])
        j, width = args[2], args[3]
        offsets, pairs = args[4], (args[5], args[6])
        wide = ir.VectorType(_I32, 2 * LANES)
        even = ir.Constant(ir.VectorType(_I32, LANES), list(range(0, 2 * LANES, 2)))
        odd = ir.Constant(ir.VectorType(_I32, LANES), list(range(1, 2 * LANES, 2)))
        splat_mask = ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES)
        index_type = context.get_value_type(types.intp)
        b_vectors = []
        for t in range(PAIRS_PER_PASS):
            offset = builder.extract_value(offsets, t)
            vector = builder.load(_vector_at(builder, b_arr.data, offset, _I16, 2 * LANES), align=2)
            b_vectors.append(builder.sext(vector, wide))
        for row in range(2):
            pointers = [_vector_at(builder, state_arr.data, builder.add(builder.mul(
                ir.Constant(index_type, 3 * row + r), width), j), _I32, LANES) for r in range(3)]
            total, high, low = (builder.load(p, align=4) for p in pointers)
            for t in range(PAIRS_PER_PASS):
                words = builder.insert_element(ir.Constant(ir.VectorType(_I32, LANES), None),
                                               builder.extract_value(pairs[row], t), ir.Constant(_I32, 0))
                words = builder.shuffle_vector(words, words, splat_mask)
                halves = builder.sext(builder.bitcast(words, ir.VectorType(_I16, 2 * LANES)), wide)
                products = builder.mul(b_vectors[t], halves)
                total = builder.add(total, builder.add(builder.shuffle_vector(products, products, even),
                                                       builder.shuffle_vector(products, products, odd)))
                high = builder.select(builder.icmp_signed(">", total, high), total, high)
                low = builder.select(builder.icmp_signed("<", total, low), total, low)
            for pointer, value in zip(pointers, (total, high, low), strict=True):
                builder.store(value, pointer, align=4)
        return context.get_dummy_value()

    return sig, codegen


def padded_widths(k: int, n: int) -> tuple[int, int]:
    """``(pairs, width)``: pairs of ``k`` rounded up to a whole number of passes, and ``n``
    rounded up to whole vectors of :data:`LANES` (the padding holds zeros)."""
    pairs = -(-k // 2)
    return -(-pairs // PAIRS_PER_PASS) * PAIRS_PER_PASS, -(-n // LANES) * LANES


@njit(cache=True)
def pack_a(x, f, out):
    """``out[t, i, k] = x[t, i, k] * 2**f`` as int16 (integer-valued, within int16), zero beyond
    ``K``: viewed as int32, word ``kk`` of a row is the pair ``(a[2 kk], a[2 kk + 1])``."""
    scale = 2.0**f
    out[...] = 0
    for t in range(x.shape[0]):
        for i in range(x.shape[1]):
            row = out[t, i]
            values = x[t, i]
            for k in range(values.size):
                row[k] = np.int32(values[k] * scale)
    return out


@njit(cache=True)
def pack_b(x, f, shift, out):
    """``out[t, kk, 2 j + h] = (x[t, 2 kk + h, j] * 2**f) << shift`` as int16 (within int16),
    zero beyond ``K`` and ``N``: the ``b_pairs`` layout of :func:`pair_mac_pass`."""
    scale = 2.0**f
    out[...] = 0
    for t in range(x.shape[0]):
        for k in range(x.shape[1]):
            row = out[t, k // 2]
            half = k % 2
            values = x[t, k]
            for j in range(values.size):
                row[2 * j + half] = np.int32(values[j] * scale) << shift
    return out


@njit(cache=True)
def pair_sums(state, a0_pairs, a1_pairs, b_pairs, j0, j1):
    """Exact int32 sums of two output rows over all pairs (``a*_pairs`` int32 words of
    :func:`pack_a`, ``b_pairs (pairs, 2 * width)`` of :func:`pack_b`) for the outputs
    ``j0 <= j < j1`` (multiples of :data:`LANES`) into ``state[0, j - j0]`` and
    ``state[3, j - j0]`` (``state (STATE_ROWS, >= j1 - j0)``). Returns ``(max0, min0, max1,
    min1)``: the largest and smallest value any of these outputs of each row held after an
    even number of steps of ``k`` (its initial 0 included). The caller bounds every partial
    sum below 2**31."""
    row_length = b_pairs.shape[1]
    lanes = j1 - j0
    state[:, :lanes] = 0
    width = state.shape[1]
    for kk in range(0, a0_pairs.size, PAIRS_PER_PASS):
        words0 = (a0_pairs[kk], a0_pairs[kk + 1], a0_pairs[kk + 2], a0_pairs[kk + 3])
        words1 = (a1_pairs[kk], a1_pairs[kk + 1], a1_pairs[kk + 2], a1_pairs[kk + 3])
        base = kk * row_length + 2 * j0
        for j in range(0, lanes, LANES):
            start = base + 2 * j
            pair_mac_pass(state, b_pairs, j, width,
                          (start, start + row_length, start + 2 * row_length, start + 3 * row_length),
                          words0, words1)
    top0, bottom0, top1, bottom1 = state[1, 0], state[2, 0], state[4, 0], state[5, 0]
    for j in range(lanes):
        top0, bottom0 = max(top0, state[1, j]), min(bottom0, state[2, j])
        top1, bottom1 = max(top1, state[4, j]), min(bottom1, state[5, j])
    return top0, bottom0, top1, bottom1


#: Bytes of ``b_pairs`` one block of columns may span, so that it stays in the (L2) cache
#: while every row of a tile streams it.
BLOCK_BYTES = 1 << 18


@njit(cache=True)
def block_lanes(pairs, width):
    """Outputs per column block of :func:`pair_sums` (a multiple of :data:`LANES`, at most
    ``width``): as many as keep the block's ``pairs x lanes`` int16 pairs within
    :data:`BLOCK_BYTES`."""
    lanes = BLOCK_BYTES // (4 * max(pairs, 1)) // LANES * LANES
    return min(max(lanes, LANES), width)


@njit(cache=True)
def state_buffer(width):
    """The ``(STATE_ROWS, width)`` int32 state of :func:`pair_sums`, on a 64-byte boundary."""
    buffer = np.zeros(STATE_ROWS * width + LANES, dtype=np.int32)
    start = (-(buffer.ctypes.data // 4)) % LANES
    return buffer[start:start + STATE_ROWS * width].reshape(STATE_ROWS, width)
