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
from numba.core import cgutils
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


def _load_pairs(builder, data, index):
    """The :data:`LANES` int16 pairs at ``data[index]`` (an int16 pointer), sign-extended to
    ``2 * LANES`` int32 values."""
    vector = builder.load(_vector_at(builder, data, index, _I16, 2 * LANES), align=2)
    return builder.sext(vector, ir.VectorType(_I32, 2 * LANES))


def _splat_pair(builder, word):
    """An int32 ``word`` holding two int16 halves, broadcast to every lane and sign-extended
    to ``2 * LANES`` int32 values (low half first)."""
    lanes = ir.VectorType(_I32, LANES)
    words = builder.insert_element(ir.Constant(lanes, None), word, ir.Constant(_I32, 0))
    words = builder.shuffle_vector(words, words, ir.Constant(lanes, [0] * LANES))
    halves = builder.bitcast(words, ir.VectorType(_I16, 2 * LANES))
    return builder.sext(halves, ir.VectorType(_I32, 2 * LANES))


def _pair_madd(builder, b_pairs, a_halves):
    """``LANES`` int32 sums ``b[2 l] a[2 l] + b[2 l + 1] a[2 l + 1]`` of two sign-extended pair
    vectors (:func:`_load_pairs`, :func:`_splat_pair`): the pattern x86 code generation turns
    into one ``vpmaddwd`` (or folds with the following add into ``vpdpwssd``)."""
    products = builder.mul(b_pairs, a_halves)
    even = ir.Constant(ir.VectorType(_I32, LANES), list(range(0, 2 * LANES, 2)))
    odd = ir.Constant(ir.VectorType(_I32, LANES), list(range(1, 2 * LANES, 2)))
    return builder.add(builder.shuffle_vector(products, products, even),
                       builder.shuffle_vector(products, products, odd))


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
        index_type = context.get_value_type(types.intp)
        b_vectors = [_load_pairs(builder, b_arr.data, builder.extract_value(offsets, t))
                     for t in range(PAIRS_PER_PASS)]
        for row in range(2):
            pointers = [_vector_at(builder, state_arr.data, builder.add(builder.mul(
                ir.Constant(index_type, 3 * row + r), width), j), _I32, LANES) for r in range(3)]
            total, high, low = (builder.load(p, align=4) for p in pointers)
            for t in range(PAIRS_PER_PASS):
                halves = _splat_pair(builder, builder.extract_value(pairs[row], t))
                total = builder.add(total, _pair_madd(builder, b_vectors[t], halves))
                high = builder.select(builder.icmp_signed(">", total, high), total, high)
                low = builder.select(builder.icmp_signed("<", total, low), total, low)
            for pointer, value in zip(pointers, (total, high, low), strict=True):
                builder.store(value, pointer, align=4)
        return context.get_dummy_value()

    return sig, codegen


def _literal(value, name):
    """The value of an integer literal argument of an intrinsic."""
    if not isinstance(value, types.IntegerLiteral) or value.literal_value < 1:
        raise TypingError(f"{name} must be a positive integer constant, got {value}")
    return value.literal_value


@intrinsic
def pair_tile(typingctx, out, out_rows, x_pairs, x_rows, taps, pairs, panel, panel_start, rows, vectors):
    """Exact int32 sums of a register tile: ``rows`` outputs x ``vectors * LANES`` lanes.

    For ``m < rows`` and ``j < vectors * LANES``::

        out.flat[out_rows[m] + j] = sum over t < taps.size, kk < pairs of a[0] b[2 j] + a[1] b[2 j + 1]
        a = x_pairs.flat[x_rows[m] + taps[t] + kk]    (an int32 word: two int16 halves)
        b = panel.flat[panel_start + 2 * LANES * vectors * (t * pairs + kk):]

    ``out`` int32 and ``x_pairs`` int32 (each word two int16 halves, low half first),
    ``panel`` int16, all C-contiguous; ``out_rows``, ``x_rows``: 1-D intp arrays of at least
    ``rows`` flat indices; ``taps``: 1-D intp array of offsets added to every ``x_rows[m]``;
    ``rows``, ``vectors``: integer constants (the tile, held in ``rows * vectors`` vector
    registers for the whole reduction). Every pair product is one ``vpmaddwd``/``vpdpwssd``
    lane; the sums wrap modulo 2**32, so a result is exact whenever its true value fits int32
    (the caller's range condition)."""
    n_rows, n_vectors = _literal(rows, "rows"), _literal(vectors, "vectors")
    for name, arr, dtype in (("out", out, types.int32), ("x_pairs", x_pairs, types.int32),
                             ("panel", panel, types.int16), ("out_rows", out_rows, types.intp),
                             ("x_rows", x_rows, types.intp), ("taps", taps, types.intp)):
        if not (isinstance(arr, types.Array) and arr.dtype == dtype and arr.layout == "C"):
            raise TypingError(f"pair_tile: {name} must be a C-contiguous {dtype} array, got {arr}")
    sig = types.void(out, out_rows, x_pairs, x_rows, taps, types.intp, panel, types.intp, rows, vectors)

    def codegen(context, builder, signature, args):
        out_arr, out_rows_arr, x_arr, x_rows_arr, taps_arr, panel_arr = (
            context.make_array(signature.args[i])(context, builder, args[i]) for i in (0, 1, 2, 3, 4, 6))
        pairs_count, start = args[5], args[7]
        index_type = context.get_value_type(types.intp)

        def index(i):
            return ir.Constant(index_type, i)

        def element(arr, i):
            return builder.load(builder.gep(arr.data, [i]))

        step = index(2 * LANES * n_vectors)  # int16 values of the panel per pair step
        x_bases = [element(x_rows_arr, index(m)) for m in range(n_rows)]
        zero = ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES)
        sums = [[cgutils.alloca_once_value(builder, zero) for _ in range(n_vectors)] for _ in range(n_rows)]
        with cgutils.for_range(builder, taps_arr.nitems, intp=index_type) as tap_loop:
            tap = element(taps_arr, tap_loop.index)
            bases = [builder.add(base, tap) for base in x_bases]
            first = builder.add(start, builder.mul(builder.mul(tap_loop.index, pairs_count), step))
            with cgutils.for_range(builder, pairs_count, intp=index_type) as pair_loop:
                b_index = builder.add(first, builder.mul(pair_loop.index, step))
                b_vectors = [_load_pairs(builder, panel_arr.data, builder.add(b_index, index(2 * LANES * v)))
                             for v in range(n_vectors)]
                for m in range(n_rows):
                    halves = _splat_pair(builder, element(x_arr, builder.add(bases[m], pair_loop.index)))
                    for v in range(n_vectors):
                        madd = _pair_madd(builder, b_vectors[v], halves)
                        builder.store(builder.add(builder.load(sums[m][v]), madd), sums[m][v])
        for m in range(n_rows):
            row = element(out_rows_arr, index(m))
            for v in range(n_vectors):
                target = _vector_at(builder, out_arr.data, builder.add(row, index(LANES * v)), _I32, LANES)
                builder.store(builder.load(sums[m][v]), target, align=4)
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
