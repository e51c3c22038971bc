"""``matmul``: matrix products as low-precision hardware computes them, bit for bit.

Each product ``a[i,k] * b[k,j]`` is rounded to ``mul`` (None: kept exact) and each addition
to the accumulator format ``acc`` (with its overflow rule: saturate or wrap), in a stated
order. Block-format operands (BFP, MX) multiply their integer/element mantissas; the sum is
kept in ``acc`` units and scaled by the shared exponents at the end of each block, as a
hardware MAC array does.

Orders, for one output with K = 8 terms ``p0..p7`` (each ``+`` rounds to ``acc``)::

    sequential   ((((((p0 + p1) + p2) + p3) + p4) + p5) + p6) + p7      one systolic column
    pairwise     ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))      balanced tree; an odd
                                                                         term waits a level
    chunked(4)   [((p0 + p1) + p2) + p3]  ⊕  [((p4 + p5) + p6) + p7]     chunk sums in acc,
                                                                         ⊕ rounds to `combine`

With MX operands (blocks along K) each K-block is a run whose sum is scaled by its two
scales and combined into a ``combine``-format total (``chunked`` splits blocks further).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpformats import _matmul_kernel as kernel
from lpformats._elements import OVERFLOW_INF, OVERFLOW_NAN, OVERFLOW_SATURATE
from lpformats._int16_pairs import pack_a, pack_b, padded_widths
from lpformats.arrays import as_operand, is_torch_tensor
from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, Format, MXFormat
from lpformats.quantize import grid_args, quantize
from lpformats.rng import check_seed, fresh_seed, stream_key
from lpformats.rounding import NEAREST, STOCHASTIC, check_stochastic_bits, rounding_code
from lpformats.spelling import parse

_CHUNKED = re.compile(r"^chunked\((\d+)\)$")


@dataclass(frozen=True)
class MatmulStats:
    """Events counted over the whole product (all outputs, all steps).

    Attributes:
        saturated: roundings whose result lay beyond the range of ``acc``/``mul``/``combine``
            and was clamped (or became inf/NaN in a float format that overflows so).
        wrapped: accumulator additions that wrapped around (fixed point with ``wrap``).
        product_underflows: nonzero products that ``mul`` rounded to zero.
        swamped: additions of a nonzero addend that left the sum unchanged (the addend was
            lost entirely: swamping in float accumulators, sub-step addends in fixed ones).
        max_abs_acc: largest magnitude any accumulator (or combine total) held, in its own
            units (for block-format operands: the mantissa domain).
        additions: accumulator additions performed (``rows * cols * (K - 1 or K)``).
    """

    saturated: int
    wrapped: int
    product_underflows: int
    swamped: int
    max_abs_acc: float
    additions: int


def _order(order: str, k: int) -> tuple[int, int | None]:
    """``(kernel order, chunk length or None)``."""
    if order == "sequential":
        return kernel.SEQUENTIAL, None
    if order == "pairwise":
        return kernel.PAIRWISE, None
    match = _CHUNKED.match(order.replace(" ", "")) if isinstance(order, str) else None
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"order must be 'sequential', 'pairwise' or 'chunked(n)' with n >= 1; got {order!r}")
    return kernel.SEQUENTIAL, int(match.group(1))


def _scalar_format(fmt: Any, name: str) -> FixedPoint | FloatFormat:
    fmt = parse(fmt)
    if not isinstance(fmt, (FixedPoint, FloatFormat)):
        raise ValueError(f"{name} must be a scalar format (FixedPoint or FloatFormat), got {fmt}")
    if isinstance(fmt, FloatFormat) and fmt.man > 51:
        raise ValueError(f"{name} may have at most 51 mantissa bits (float64 emulation), got {fmt}")
    return fmt


@dataclass
class _Prepared:
    """An operand as mantissas plus shifts per (row or column, K-segment)."""

    mantissa: np.ndarray
    shifts: np.ndarray | None  # per element, same shape as mantissa (int64); None: all 0
    k_block: int | None  # length of runs of constant shift along K (None: constant)
    bits: tuple[int, int, int, int, int]  # kernel.operand_bits of mantissa


def _exact_operand(x: np.ndarray, name: str, bits: tuple | None = None) -> tuple[int, int, int, int, int]:
    """``kernel.operand_bits(x)`` (``bits``, when already known), after checking that no
    element has more than 26 significant bits (products of two such are exact in float64)."""
    bits = kernel.operand_bits(x) if bits is None else bits
    if bits[2] > 26:
        frac, _ = np.frexp(x)
        scaled = np.ldexp(frac, 26)
        bad = (scaled != np.trunc(scaled)) & np.isfinite(x)
        first = np.unravel_index(int(np.argmax(bad)), x.shape)
        raise ValueError(
            f"{name} has {int(bad.sum())} element(s) with more than 26 significant bits (first: "
            f"{x[first]!r} at {tuple(int(i) for i in first)}); products would not be exact: "
            f"pass {name}_fmt= or float32 values"
        )
    return bits


def _prepare(x: np.ndarray, fmt: Format | None, name: str, k_axis: int, strict: bool,
             float_path: bool) -> _Prepared:
    """Validate/quantize operand ``x`` (float64, ndim >= 2; K along ``k_axis`` in -2/-1).

    NaN operands are accepted only where every step can hold NaN (``float_path``: float
    ``mul``/``acc``/``combine``, and an operand format that is None or a float with NaN); they
    then propagate to the outputs that use them, as IEEE arithmetic does."""
    nan_ok = float_path and (fmt is None or (isinstance(fmt, FloatFormat) and fmt.has_nan))
    bits = kernel.operand_bits(x)
    if not nan_ok and bits[4]:
        first = np.unravel_index(int(np.argmax(np.isnan(x))), x.shape)
        raise ValueError(f"{name} contains {bits[4]} NaN (first at "
                         f"{tuple(int(i) for i in first)}); NaN has no value in this product's formats "
                         f"(fixed-point or block steps)")
    if fmt is None:
        return _Prepared(x, None, None, _exact_operand(x, name, bits))
    q = quantize(x, fmt)
    if strict:
        bad = ~((q == x) | (np.isnan(q) & np.isnan(x)))
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), x.shape)
            raise ValueError(
                f"{name} has {int(bad.sum())} element(s) not representable in {fmt} (first: {x[first]!r} "
                f"at {tuple(int(i) for i in first)}); drop strict=True to round them on entry"
            )
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        bits = _exact_operand(q, name)
        return _Prepared(q, None, None, bits)
    return _prepare_block(x, q, fmt, name, k_axis)


def _prepare_block(x: np.ndarray, q: np.ndarray, fmt: BlockFloat | MXFormat, name: str,
                   k_axis: int) -> _Prepared:
    from lpformats.codec import _grid_shift, _per_element, encode

    ndim = x.ndim
    k_axis %= ndim
    if isinstance(fmt, MXFormat) or fmt.block_size is not None:
        along = fmt.axis % ndim if isinstance(fmt, MXFormat) else ndim - 1
        if along != k_axis:
            raise ValueError(
                f"{name}_fmt {fmt}: its blocks must run along K (axis {k_axis - ndim} of {name}) so that "
                f"one scale covers a run of K, as in MX hardware; got axis {along - ndim}"
            )
        k_block = fmt.block_size
    else:
        if fmt.block_axis is not None and fmt.block_axis % ndim == k_axis:
            raise ValueError(
                f"{name}_fmt {fmt}: one exponent per index of K cannot be factored out of a dot "
                f"product; use block_axis over {'M (-2)' if name == 'a' else 'N (-1)'} or block_size"
            )
        k_block = None
    codes = encode(x, fmt)
    shifts = _grid_shift(fmt, _per_element(codes.exponents.astype(np.int64)
                                           - (127 if isinstance(fmt, MXFormat) else 0), fmt, x.shape))
    mantissa = np.ldexp(q, -shifts)
    bits = _exact_operand(mantissa, name)
    return _Prepared(mantissa, np.ascontiguousarray(shifts, dtype=np.int64), k_block, bits)


def _batched(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``x`` broadcast to ``shape`` (batch dims, then two) as a C-contiguous ``(T, ., .)``."""
    if x.shape != shape:
        x = np.broadcast_to(x, shape)
    return np.ascontiguousarray(x).reshape(math.prod(shape[:-2]), *shape[-2:])


def _aligned_empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """``np.empty(shape, dtype)`` starting on a 64-byte boundary (numpy guarantees 16): rows
    of a width that is a multiple of 64 bytes are then read by whole cache lines, where a
    vector load straddling two lines costs twice (up to 2x on the kernels' inner loops)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(math.prod(shape) * itemsize + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + math.prod(shape) * itemsize].view(dtype).reshape(shape)


def _code_bits(bits: tuple[int, int, int, int, int]) -> tuple[int, int]:
    """``(f, b)`` from :func:`kernel.operand_bits`: the fewest fraction bits ``f >= 0`` that make
    every value times ``2**f`` an integer, and the bit length ``b`` of the largest such integer
    magnitude (``b`` > 62: too wide)."""
    f, top = bits[:2]
    return f, (0 if top == -1075 else top + 1 + f)


#: Values below this magnitude fit in int32 (the bound for the kernel's int32 pass).
_INT32_SUM_LIMIT = 2**31
#: Bit length of the largest code magnitude (``b``'s shifted) that int16 pairs hold.
_INT16_PAIR_BITS = 15


def _stochastic32_fits(acc: FixedPoint, acc_up: int, product_bits: int) -> bool:
    """Whether stochastic accumulation (exact products of magnitude below
    ``2**product_bits`` on the sums' grid, the accumulator scaled up by ``acc_up`` bits) keeps
    every value of ``kernel._stochastic32_step`` in int32: a code times ``2**acc_up``, plus a
    product, plus the random addend (below ``2**acc_up``)."""
    largest_code = max(-int(acc.kmin), int(acc.kmax))
    return (largest_code << acc_up) + (1 << product_bits) + (1 << acc_up) < _INT32_SUM_LIMIT


def _fixed_plan(A: np.ndarray, B: np.ndarray, bits_a: tuple, bits_b: tuple, acc: FixedPoint | FloatFormat,
                mul: FixedPoint | FloatFormat | None, mode: int, one_run: bool) -> tuple | None:
    """Integer codes and shift plans for :func:`kernel.fixed_matmul_kernel`, or None when the
    product must take the float64 kernel (a float ``acc``/``mul``, a non-finite operand, or
    codes whose shifted sums would not fit in int64). ``bits_*``: operand_bits of A and B;
    ``one_run``: K is summed in one run (no chunks, no blocks along K).

    When products are exact, every partial sum of ``|a| |b|`` fits in int32 and ``b``'s
    shifted codes in int16, with exact additions in one run, the codes go to the kernel
    packed in int16 pairs (:mod:`lpformats._int16_pairs`); otherwise, when the additions
    are exact or round to nearest, as int32 (``b`` pre-shifted) for its int32 pass
    (``kernel._tracked_sums``), and when they round stochastically with every value within
    int32 (:func:`_stochastic32_fits`), in the same form for ``kernel._stochastic32_run``.
    Unused forms are empty ``(T, 0, 0)`` arrays."""
    if not isinstance(acc, FixedPoint) or isinstance(mul, FloatFormat):
        return None
    if bits_a[3] or bits_b[3]:
        return None
    fa, ba = _code_bits(bits_a)
    fb, bb = _code_bits(bits_b)
    flp, prod_bits = fa + fb, ba + bb
    mul_plan = (0, 0, 0, 0, False, False)
    if mul is not None:
        mul_shift, mul_up = max(0, flp - mul.fl), max(0, mul.fl - flp)
        mul_plan = (mul_shift, mul_up, int(mul.kmin), int(mul.kmax), mul.overflow == "wrap", True)
        if prod_bits + mul_up > 62 or (mode == STOCHASTIC and mul_shift > 53):
            return None
        flp, prod_bits = mul.fl, mul.wl
    fine = max(flp, acc.fl)
    acc_up, prod_up = fine - acc.fl, fine - flp
    if max(acc.wl + acc_up, prod_bits + prod_up) > 61 or (mode == STOCHASTIC and acc_up > 53):
        return None
    dtype = np.int32 if max(ba, bb) <= 31 else np.int64
    codes_a = kernel.scaled_codes(A, fa, 0, np.empty(A.shape, dtype))
    codes_b = kernel.scaled_codes(B, fb, 0, np.empty(B.shape, dtype))
    acc_plan = (acc_up, prod_up, int(acc.kmin), int(acc.kmax), acc.overflow == "wrap")
    fast_a = fast_b = pair_a = np.zeros((A.shape[0], 0, 0), np.int32)
    pair_b = np.zeros((A.shape[0], 0, 0), np.int16)
    int32_pass = mul is None and (acc_up == 0 or (mode == NEAREST and acc_up <= 30))
    if mul is None and mode == STOCHASTIC and acc_up and dtype == np.int32 and _stochastic32_fits(
            acc, acc_up, ba + bb + prod_up):
        fast_a = codes_a
        fast_b = kernel.scaled_codes(B, fb, prod_up, _aligned_empty(B.shape, np.int32))
    elif (int32_pass and dtype == np.int32 and A.size and B.size
            and int(kernel.partial_sum_bound(codes_a, codes_b)) << prod_up < _INT32_SUM_LIMIT):
        if one_run and acc_up == 0 and max(ba, bb + prod_up) <= _INT16_PAIR_BITS:
            (t, m, k), n = A.shape, B.shape[-1]
            pairs, width = padded_widths(k, n)
            pair_a = pack_a(A, fa, np.empty((t, m, 2 * pairs), np.int16)).view(np.int32)
            pair_b = pack_b(B, fb, prod_up, _aligned_empty((t, pairs, 2 * width), np.int16))
        else:
            fast_a = codes_a
            fast_b = kernel.scaled_codes(B, fb, prod_up, _aligned_empty(B.shape, np.int32))
    return codes_a, codes_b, fast_a, fast_b, pair_a, pair_b, mul_plan, acc_plan


_FLT_MAX = float(np.finfo(np.float32).max)
#: ``(plan, kind)`` of :func:`_float32_plan` when float32 lanes are not used.
_NO_FLOAT32_PLAN = ((0, 0, 0, 0, 0.0, 0.0, 0.0), kernel.F32_GRID)


def _float32_plan(acc: Format, mul: Format | None, mode: int, sequential: bool, bits_a: tuple,
                  bits_b: tuple) -> tuple | None:
    """``(plan, kind)`` for :func:`kernel._accumulate32_loop` (see there), or None when a float
    accumulator must take the float64 loop: only ``nearest``, exact products, sequential runs,
    an accumulator with subnormals, negative zero and its whole grid inside float32, and
    operands whose products are exact in float32 (``bits_*``: ``kernel.operand_bits``)."""
    if not (isinstance(acc, FloatFormat) and mul is None and mode == NEAREST and sequential):
        return None
    if not acc.subnormals or not acc.has_negative_zero or acc.max_value > _FLT_MAX:
        return None
    (fa, top_a, sig_a), (fb, top_b, sig_b) = bits_a[:3], bits_b[:3]
    if sig_a + sig_b > 24 or fa + fb > 149 or max(top_a, top_b) > 127 or top_a + top_b + 2 > 128:
        return None
    over = {OVERFLOW_SATURATE: acc.max_value, OVERFLOW_INF: np.inf, OVERFLOW_NAN: np.nan}[grid_args(acc)[6]]
    over_bits = int(np.float32(over).view(np.int32))
    if (acc.man, acc.emin) == (23, -126):  # IEEE binary32: the float32 addition rounds
        return (1, 0, -1, over_bits, 0.0, 0.0, acc.max_value), kernel.F32_NATIVE
    if not 1 <= acc.man <= 21 or acc.emin - acc.man < -147:  # room for the nudge
        return None
    cut = 23 - acc.man
    plan = (1 << cut, (1 << (cut - 1)) - 1, -(1 << cut), over_bits, 2.0**acc.emin,
            1.5 * 2.0 ** (acc.emin - acc.man + 23), acc.max_value)
    if (acc.man, acc.emin, acc.max_value) == (10, -14, 65504.0):
        return plan, kernel.F32_HALF
    return plan, kernel.F32_EMIN_126 if acc.emin == -126 else kernel.F32_GRID


def _float32_operand(x: np.ndarray, nonfinite: int) -> np.ndarray:
    """``x`` as float32 (exact, checked by :func:`_float32_plan`; 64-byte aligned), every NaN
    the default quiet NaN, whose payload no rounding of :func:`kernel._accumulate32_loop` can
    change."""
    x32 = _aligned_empty(x.shape, np.float32)
    x32[...] = x
    if nonfinite:
        x32[np.isnan(x32)] = np.float32(np.nan)
    return x32


def matmul(
    a: Any,
    b: Any,
    *,
    acc: Format | str,
    mul: Format | str | None = None,
    order: str = "sequential",
    rounding: str = "nearest",
    seed: int | None = None,
    a_fmt: Format | str | None = None,
    b_fmt: Format | str | None = None,
    combine: Format | str = "fp32",
    strict: bool = False,
    stochastic_bits: int | None = None,
    counter: int = 0,
) -> tuple[Any, MatmulStats]:
    """``a @ b`` with every product rounded to ``mul`` and every addition to ``acc``.

    Args:
        a, b: float arrays (numpy or CPU torch) of shapes ``(..., M, K)`` and ``(..., K, N)``;
            leading (batch) dimensions broadcast.
        acc: accumulator format (FixedPoint with saturate/wrap, or FloatFormat).
        mul: product format (None: exact products).
        order: ``sequential``, ``pairwise`` or ``chunked(n)`` (see module docstring).
        rounding: one rounding mode for every step (stochastic: seeded, counter-based; every
            rounding event has its own random number).
        a_fmt, b_fmt: operand formats; the operand is quantized on entry (nearest), or with
            ``strict=True`` must already be representable. None: values taken as they are
            (at most 26 significant bits, e.g. float32, so products are exact).
        combine: format in which chunk (and MX block) results are summed.

    Returns:
        ``(c, stats)``: ``c`` float64 (numpy, or torch when ``a`` is a tensor) of shape
        ``(..., M, N)``, and :class:`MatmulStats`.
    """
    acc_fmt = _scalar_format(acc, "acc")
    mul_fmt = None if mul is None else _scalar_format(mul, "mul")
    combine_fmt = _scalar_format(combine, "combine")
    mode = rounding_code(rounding)
    nbits = check_stochastic_bits(stochastic_bits)
    key = 0
    if mode == STOCHASTIC:
        key = stream_key(fresh_seed() if seed is None else check_seed(seed), check_seed(counter, "counter"))
    a_arr = as_operand(a, "a").array.astype(np.float64)
    b_arr = as_operand(b, "b").array.astype(np.float64)
    if a_arr.ndim < 2 or b_arr.ndim < 2:
        raise ValueError(f"a and b must have at least 2 dimensions, got shapes {a_arr.shape} and "
                         f"{b_arr.shape}")
    if a_arr.shape[-1] != b_arr.shape[-2]:
        raise ValueError(f"a is {a_arr.shape} and b is {b_arr.shape}: a's last dimension "
                         f"(K={a_arr.shape[-1]}) must equal b's second-to-last ({b_arr.shape[-2]})")
    try:
        batch = np.broadcast_shapes(a_arr.shape[:-2], b_arr.shape[:-2])
    except ValueError:
        raise ValueError(f"batch dimensions of a {a_arr.shape[:-2]} and b {b_arr.shape[:-2]} "
                         "do not broadcast") from None
    float_path = all(isinstance(f, FloatFormat) for f in (acc_fmt, mul_fmt or acc_fmt, combine_fmt))
    pa = _prepare(a_arr, None if a_fmt is None else parse(a_fmt), "a", -1, strict, float_path)
    pb = _prepare(b_arr, None if b_fmt is None else parse(b_fmt), "b", -2, strict, float_path)
    m, k = a_arr.shape[-2:]
    n = b_arr.shape[-1]
    kernel_order, chunk = _order(order, k)
    blocks = {blk for blk in (pa.k_block, pb.k_block) if blk is not None}
    if len(blocks) > 1:
        raise ValueError(f"a_fmt and b_fmt have different block sizes along K: {sorted(blocks)}")
    seg_len = blocks.pop() if blocks else max(k, 1)
    bounds = sorted({*range(0, k, seg_len), *(range(0, k, chunk) if chunk else ()), k})
    runs = np.array(bounds if k else [0, 0], dtype=np.int64)
    combine_runs = chunk is not None or len(runs) > 2
    nseg = max(1, math.ceil(k / seg_len))
    t = math.prod(batch)
    A = _batched(pa.mantissa, (*batch, m, k))
    B = _batched(pb.mantissa, (*batch, k, n))
    seg_starts = np.arange(nseg) * seg_len
    # shifts at each segment's start (constant within it)
    SA = np.zeros((t, m, nseg), np.int64) if pa.shifts is None or not k else \
        _batched(pa.shifts[..., seg_starts], (*batch, m, nseg))
    SB = np.zeros((t, nseg, n), np.int64) if pb.shifts is None or not k else \
        _batched(pb.shifts[..., seg_starts, :], (*batch, nseg, n))
    out = np.zeros((t, m, n))
    stats = np.zeros((t * m, kernel.N_STATS))
    events = 2 * k + len(runs) + 1
    fixed_plan = None
    if kernel_order == kernel.SEQUENTIAL and pa.k_block is None and pb.k_block is None:
        fixed_plan = _fixed_plan(A, B, pa.bits, pb.bits, acc_fmt, mul_fmt, mode, not combine_runs)
    if t * m * n and fixed_plan is not None:
        *codes, mul_plan, acc_plan = fixed_plan
        kernel.fixed_matmul_kernel(
            *codes, SA, SB, out, runs, combine_runs, mul_plan, acc_plan, acc_fmt.fl,
            grid_args(combine_fmt), mode, np.uint64(key), nbits, events, stats,
        )
    elif t * m * n:
        mul_kind = kernel.MUL_EXACT if mul_fmt is None else (
            kernel.MUL_FLOAT if isinstance(mul_fmt, FloatFormat) else kernel.MUL_FIXED)
        float32_plan = _float32_plan(acc_fmt, mul_fmt, mode, kernel_order == kernel.SEQUENTIAL, pa.bits,
                                     pb.bits)
        if float32_plan is None:
            A32, B32 = np.zeros((t, m, 0), np.float32), np.zeros((t, 0, 0), np.float32)
            float32_plan = _NO_FLOAT32_PLAN
        else:
            A32, B32 = _float32_operand(A, pa.bits[3]), _float32_operand(B, pb.bits[3])
        kernel.matmul_kernel(
            A, B, A32, B32, *float32_plan, SA, SB, out, runs, seg_len, kernel_order, combine_runs, mul_kind,
            grid_args(mul_fmt or acc_fmt), grid_args(acc_fmt),
            isinstance(acc_fmt, FloatFormat), grid_args(combine_fmt), mode,
            np.uint64(key), nbits, events, stats,
        )
    c = out.reshape(*batch, m, n)
    additions = t * m * n * (max(k - 1, 0) if kernel_order == kernel.PAIRWISE else k)
    totals = stats.sum(axis=0)
    result = MatmulStats(
        saturated=int(totals[kernel.STAT_SATURATED]),
        wrapped=int(totals[kernel.STAT_WRAPPED]),
        product_underflows=int(totals[kernel.STAT_UNDERFLOW]),
        swamped=int(totals[kernel.STAT_SWAMPED]),
        max_abs_acc=float(stats[:, kernel.STAT_MAX_ABS].max()) if stats.size else 0.0,
        additions=additions,
    )
    if is_torch_tensor(a):
        import torch

        return torch.from_numpy(c), result
    return c, result
