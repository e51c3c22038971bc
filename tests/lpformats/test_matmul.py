"""lpformats.matmul: every product rounded to ``mul``, every addition to ``acc``, in a stated order.

The oracle is :func:`reference_matmul`, a slow loop in exact rational arithmetic that rounds
with the Fraction reference of ``reference.py`` and draws stochastic rounding's random
numbers from the documented event indexing (``random_bits``)."""

from __future__ import annotations

import dataclasses
import math
import sys
from fractions import Fraction

import hypothesis.strategies as st
import numba
import numpy as np
import pytest
import torch
from hypothesis import given

from lpformats import FixedPoint, FloatFormat, MatmulStats, matmul, parse, quantize
from lpformats.rng import random_bits
from tests.lpformats.reference import MODES, ref_scalar, round_int

matmul_module = sys.modules["lpformats.matmul"]


def _runs(k: int, order: str) -> list[tuple[int, int]]:
    chunk = int(order[len("chunked("):-1]) if order.startswith("chunked") else k
    return [(k0, min(k0 + chunk, k)) for k0 in range(0, k, max(chunk, 1))]


def reference_matmul(a, b, acc, mul=None, order="sequential", rounding="nearest", seed=0, combine="fp32"):
    """``(c, stats)`` of ``a @ b`` (2-D) computed one rounding at a time with Fractions.

    Random numbers: output ``(i, j)`` owns ``events = 2K + runs + 2`` consecutive elements of
    the call's stream; products take event ``e``, additions ``e + 1`` (sequential; pairwise:
    products one event each, then tree additions), each run's combine one more."""
    acc, combine = parse(acc), parse(combine)
    mul = None if mul is None else parse(mul)
    m, k = a.shape
    n = b.shape[1]
    runs = _runs(k, order) if order != "pairwise" else [(0, k)]
    combining = len(runs) > 1 or order.startswith("chunked")
    events = 2 * k + (len(runs) + 1 if k else 2) + 1
    count = m * n * events
    rand = random_bits(seed, count) if rounding == "stochastic" else np.zeros(count, np.uint64)
    stats = dict(saturated=0, wrapped=0, product_underflows=0, swamped=0, max_abs_acc=0.0)
    c = np.zeros((m, n))

    def rnd(x, fmt, index):
        return ref_scalar(x, fmt, rounding, int(rand[index]))

    def add(old, p, index, fmt):
        """``old + p`` rounded to ``fmt``, with its events counted."""
        if not (math.isfinite(old) and math.isfinite(p)):  # inf/NaN propagate as in IEEE arithmetic
            q = rnd(float(old) + float(p), fmt, index)
            stats["max_abs_acc"] = max(stats["max_abs_acc"], abs(q))
            return q
        exact = Fraction(old) + Fraction(p)
        q = rnd(exact, fmt, index)
        if isinstance(fmt, FixedPoint):
            code = round_int(exact * 2**fmt.fl, rounding, int(rand[index]))
            if not fmt.kmin <= code <= fmt.kmax:
                stats["wrapped" if fmt.overflow == "wrap" else "saturated"] += 1
        stats["swamped"] += p != 0 and q == old
        stats["max_abs_acc"] = max(stats["max_abs_acc"], abs(q))
        return q

    for i in range(m):
        for j in range(n):
            base = (i * n + j) * events
            e = 0
            total = 0.0
            for k0, k1 in runs:
                products = []
                s = 0.0
                for kk in range(k0, k1):
                    p = Fraction(float(a[i, kk])) * Fraction(float(b[kk, j]))
                    if mul is not None:
                        q = rnd(p, mul, base + e)
                        stats["product_underflows"] += p != 0 and q == 0
                        p = q
                    e += 1
                    if order == "pairwise":
                        products.append(p)
                    else:
                        s = add(s, p, base + e, acc)
                        e += 1
                if order == "pairwise":
                    step = 1
                    while step < len(products):
                        for t in range(0, len(products) - step, 2 * step):
                            products[t] = add(products[t], products[t + step], base + e, acc)
                            e += 1
                        step *= 2
                    if len(products) == 1:
                        s = add(0.0, products[0], base + e, acc)
                        e += 1
                    elif products:
                        s = products[0]
                if combining:
                    total = add(total, s, base + e, combine)
                    e += 1
                else:
                    total = s
            c[i, j] = float(total)
    return c, stats


def representable(rng, shape, fmt, scale=1.0):
    return quantize(rng.standard_normal(shape) * scale, fmt)


# ---------------------------------------------------------------- the worked example


def test_an_8_bit_saturating_accumulator_sums_100_100_minus_100_to_27():
    """100 + 100 = 200 saturates to 127; 127 - 100 = 27 (exact arithmetic: 100)."""
    c, stats = matmul(np.array([[100.0, 100.0, -100.0]]), np.ones((3, 1)), acc="fixed(8,0)")
    assert c[0, 0] == 27.0
    assert stats == MatmulStats(saturated=1, wrapped=0, product_underflows=0, swamped=0, max_abs_acc=127.0,
                                additions=3)


def test_a_wrapping_accumulator_gives_the_twos_complement_result():
    """200 wraps to 200 - 256 = -56; -56 - 100 = -156 wraps to 100: two wraps, back to 100."""
    wrapping = FixedPoint(8, 0, overflow="wrap")
    c, stats = matmul(np.array([[100.0, 100.0, -100.0]]), np.ones((3, 1)), acc=wrapping)
    assert c[0, 0] == 100.0
    assert (stats.wrapped, stats.saturated) == (2, 0)
    c, stats = matmul(np.array([[100.0, 100.0]]), np.ones((2, 1)), acc="fixed(8,0,wrap)")
    assert c[0, 0] == -56.0 and stats.wrapped == 1


# ---------------------------------------------------------------- against the Fraction reference

ACCS = ["fixed(8,2)", "fixed(12,3,wrap)", "fixed(16,6)", "fp16", "bf16", "float(4,3)"]
ORDERS = ["sequential", "pairwise", "chunked(3)"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("acc", ACCS)
@pytest.mark.parametrize("rounding", MODES)
def test_equals_fraction_reference(acc, order, rounding):
    rng = np.random.default_rng(abs(hash((acc, order, rounding))) % 2**32)
    a = representable(rng, (3, 7), "fixed(8,3)", 4.0)
    b = representable(rng, (7, 4), "fixed(8,3)", 4.0)
    got, stats = matmul(a, b, acc=acc, order=order, rounding=rounding, seed=11)
    want, ref_stats = reference_matmul(a, b, acc, order=order, rounding=rounding, seed=11)
    np.testing.assert_array_equal(got, want)
    counted = ("saturated", "wrapped", "swamped", "max_abs_acc") if acc.startswith("fixed") else ("swamped",)
    assert {name: getattr(stats, name) for name in counted} == {name: ref_stats[name] for name in counted}


@pytest.mark.parametrize("mul", ["fixed(8,2)", "fixed(10,5,wrap)", "fp8_e4m3", "float(3,2)"])
@pytest.mark.parametrize("rounding", ["nearest", "down", "stochastic"])
def test_rounded_products_equal_fraction_reference(mul, rounding):
    rng = np.random.default_rng(5)
    a = representable(rng, (4, 6), "fp8_e4m3", 2.0)
    b = representable(rng, (6, 3), "fixed(8,4)", 2.0)
    for acc in ("fixed(16,4)", "fp16"):
        got, stats = matmul(a, b, acc=acc, mul=mul, rounding=rounding, seed=2)
        want, ref_stats = reference_matmul(a, b, acc, mul=mul, rounding=rounding, seed=2)
        np.testing.assert_array_equal(got, want)
        assert stats.product_underflows == ref_stats["product_underflows"]


fixed_accs = st.builds(
    lambda wl, fl, wrap: FixedPoint(wl, fl, overflow="wrap" if wrap else "saturate"),
    st.integers(4, 20), st.integers(0, 8), st.booleans(),
)
float_accs = st.builds(lambda e, m: FloatFormat(e, m), st.integers(3, 8), st.integers(1, 10))


@given(
    m=st.integers(1, 4), k=st.integers(0, 9), n=st.integers(1, 4),
    acc=st.one_of(fixed_accs, float_accs),
    order=st.sampled_from(["sequential", "pairwise", "chunked(1)", "chunked(2)", "chunked(4)"]),
    rounding=st.sampled_from(MODES),
    scale=st.sampled_from([0.25, 4.0, 64.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_equals_reference_including_saturation(m, k, n, acc, order, rounding, scale, seed):
    rng = np.random.default_rng(seed)
    a = representable(rng, (m, k), "fixed(10,4)", scale)
    b = representable(rng, (k, n), "fixed(10,4)", scale)
    got, _ = matmul(a, b, acc=acc, order=order, rounding=rounding, seed=seed)
    want, _ = reference_matmul(a, b, acc, order=order, rounding=rounding, seed=seed)
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- exact cases


def test_a_wide_accumulator_equals_the_exact_integer_product():
    rng = np.random.default_rng(0)
    a_codes = rng.integers(-128, 128, (2, 17, 40))
    b_codes = rng.integers(-128, 128, (40, 9))
    got, stats = matmul(a_codes / 16.0, b_codes / 16.0, acc="fixed(32,8)")
    np.testing.assert_array_equal(got, (a_codes @ b_codes) / 256.0)
    assert (stats.saturated, stats.wrapped, stats.swamped) == (0, 0, 0)
    assert stats.additions == 2 * 17 * 9 * 40


def test_fp32_accumulator_in_sequential_order_equals_a_float32_loop():
    """Half-precision operands have exact float32 products; each float32 addition rounds once."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 300)).astype(np.float16).astype(np.float32) * np.float32(1024)
    b = rng.standard_normal((300, 6)).astype(np.float16).astype(np.float32)
    loop = np.zeros((8, 6), np.float32)
    for kk in range(300):
        loop = loop + a[:, kk:kk + 1] * b[kk:kk + 1, :]
    got, _ = matmul(a, b, acc="fp32")
    np.testing.assert_array_equal(got, loop)
    got, _ = matmul(a.astype(np.float64), b, acc="fp32", mul="fp32")
    np.testing.assert_array_equal(got, loop)


def test_fp32_products_and_sums_equal_float32_arithmetic_for_any_float32_operands():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 64)).astype(np.float32)
    b = rng.standard_normal((64, 7)).astype(np.float32)
    loop = np.zeros((5, 7), np.float32)
    for kk in range(64):
        loop = loop + a[:, kk:kk + 1] * b[kk:kk + 1, :]
    got, _ = matmul(a, b, acc="fp32", mul="fp32")
    np.testing.assert_array_equal(got, loop)


def test_swamping_is_counted_when_an_addend_is_lost():
    """fp16 has 11 significant bits: 2048 + 1 rounds (ties to even) back to 2048."""
    c, stats = matmul(np.array([[2048.0, 1.0, 1.0]]), np.ones((3, 1)), acc="fp16")
    assert c[0, 0] == 2048.0 and stats.swamped == 2


def test_chunked_order_spills_partial_sums_to_the_combine_format():
    """Chunks of two in an 8-bit accumulator never saturate; one long run does."""
    a, b = np.full((1, 6), 60.0), np.ones((6, 1))
    assert matmul(a, b, acc="fixed(8,0)")[0][0, 0] == 127.0
    c, stats = matmul(a, b, acc="fixed(8,0)", order="chunked(2)", combine="fixed(16,0)")
    assert c[0, 0] == 360.0 and stats.saturated == 0


# ---------------------------------------------------------------- two kernels, one answer


@pytest.mark.parametrize("rounding", MODES)
@pytest.mark.parametrize("mul", [None, "fixed(9,3)", "fixed(8,1,wrap)"])
@pytest.mark.parametrize(
    "acc", ["fixed(8,2)", "fixed(16,8)", "fixed(12,1,wrap)", "fixed(10,7)", "fixed(10,7,wrap)"])
def test_integer_kernel_equals_float_kernel(acc, mul, rounding, monkeypatch):
    """fixed(16,8) and fixed(10,7) take no rounding step (products have 7 fraction bits): the
    integer kernel's exact-add loop, which fixed(10,7) drives into saturation and wrapping."""
    rng = np.random.default_rng(3)
    a = representable(rng, (5, 33), "fixed(8,4)", 4.0)
    b = representable(rng, (2, 33, 6), "fixed(8,3)", 4.0)
    fast = matmul(a, b, acc=acc, mul=mul, rounding=rounding, seed=9, order="chunked(8)")
    monkeypatch.setattr(matmul_module, "_fixed_plan", lambda *args: None)
    slow = matmul(a, b, acc=acc, mul=mul, rounding=rounding, seed=9, order="chunked(8)")
    np.testing.assert_array_equal(fast[0], slow[0])
    assert fast[1] == slow[1]


@pytest.mark.parametrize("order", ["sequential", "chunked(5)"])
@pytest.mark.parametrize("acc", ["fixed(12,7)", "fixed(12,7,wrap)", "fixed(14,7)", "fixed(24,7)",
                                 "fixed(10,4)", "fixed(10,4,wrap)", "fixed(16,1)", "fixed(24,5)"])
def test_int32_pass_equals_the_step_by_step_range_rule(acc, order, monkeypatch):
    """With exact products, each row is first accumulated in int32 without range limits
    (exactly, or for an accumulator with fewer fraction bits than the products, rounding to
    nearest-even at every addition, ties included) and redone step by step only if a value
    left the range: rows that saturate (or wrap) and rows that do not, side by side in one
    tile, give the bits and counts (swamping too) of the step-by-step loop alone."""
    rng = np.random.default_rng(6)
    a = representable(rng, (9, 37), "fixed(8,4)", 4.0)
    a[::2] /= 16  # even rows stay in range, odd rows overflow the narrow accumulators
    b = representable(rng, (37, 21), "fixed(8,3)", 4.0)
    fast = matmul(a, b, acc=acc, order=order)
    monkeypatch.setattr(matmul_module, "_INT32_SUM_LIMIT", 0)
    slow = matmul(a, b, acc=acc, order=order)
    np.testing.assert_array_equal(fast[0], slow[0])
    assert fast[1] == slow[1]
    if acc in ("fixed(12,7)", "fixed(10,4)"):
        assert 0 < fast[1].saturated < 9 * 21 * 37
    if acc == "fixed(16,1)":
        assert fast[1].swamped > 0


def test_partial_sums_at_the_range_limits_do_not_saturate_and_one_step_beyond_does():
    ones = np.ones((3, 1))
    for row, c, saturated, peak in [([100.0, 27.0, 0.0], 127.0, 0, 127.0),
                                    ([-100.0, -28.0, 0.0], -128.0, 0, 128.0),
                                    ([100.0, 28.0, -1.0], 126.0, 1, 127.0),
                                    ([-100.0, -29.0, 1.0], -127.0, 1, 128.0)]:
        got, stats = matmul(np.array([row]), ones, acc="fixed(8,0)")
        assert (got[0, 0], stats.saturated, stats.max_abs_acc) == (c, saturated, peak)


def test_a_32_bit_accumulator_saturates_sums_that_overflow_int32():
    """3 * 32767**2 > 2**31 - 1: the third addition saturates (int32 arithmetic would wrap
    to a negative, in-range value)."""
    a = np.full((2, 3), 32767.0)
    a[1] *= -1
    b = np.full((3, 2), 32767.0)
    got, stats = matmul(a, b, acc="fixed(32,0)")
    np.testing.assert_array_equal(got, [[2**31 - 1] * 2, [-(2**31)] * 2])
    assert (stats.saturated, stats.max_abs_acc) == (4, 2.0**31)


FLOAT32_LANE_ACCS = ["fp16", "bf16", "fp32", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp4_e2m1", "float(5,21)",
                     "float(8,21)", "float(3,1)"]


def _without_float32_lanes(monkeypatch) -> None:
    monkeypatch.setattr(matmul_module, "_float32_plan", lambda *args: None)


@pytest.mark.parametrize("acc", FLOAT32_LANE_ACCS)
@pytest.mark.parametrize("scale", [2.0**-60, 2.0**-10, 1.0, 2.0**10, 2.0**60])
def test_float32_lanes_equal_the_float64_loop(acc, scale, monkeypatch):
    """Float accumulators in ``nearest`` run on float32 lanes when every product is exact in
    float32; sums that swamp, fall into the accumulator's subnormals, overflow it (to inf,
    NaN or its largest value) and pass through inf must give the float64 loop's bits and
    counts. Scales of 2**+-60 push bf16/fp32 sums far beyond the small formats' range."""
    rng = np.random.default_rng(7)
    a = representable(rng, (6, 45), "fp8_e4m3", 1.0) * np.float32(scale)
    b = representable(rng, (45, 19), "fp8_e5m2", 1.0)
    a[0, :3] = [np.inf, -np.inf, np.nan]
    plan = matmul_module._float32_plan(parse(acc), None, matmul_module.NEAREST, True,
                                       matmul_module.kernel.operand_bits(a.astype(np.float64)),
                                       matmul_module.kernel.operand_bits(b.astype(np.float64)))
    assert plan is not None
    for order in ("sequential", "chunked(7)"):
        fast = matmul(a, b, acc=acc, order=order)
        with monkeypatch.context() as patch:
            _without_float32_lanes(patch)
            slow = matmul(a, b, acc=acc, order=order)
        np.testing.assert_array_equal(fast[0], slow[0])
        assert fast[1] == slow[1]


@given(
    exp=st.integers(2, 8), man=st.integers(1, 21), style=st.sampled_from(["ieee", "fn", "finite"]),
    scale=st.sampled_from([2.0**-40, 2.0**-8, 1.0, 2.0**8, 2.0**40]), seed=st.integers(0, 2**32 - 1),
)
def test_property_float32_lanes_equal_the_float64_loop(exp, man, style, scale, seed):
    fmt = FloatFormat(exp, man, style=style)
    if fmt.max_value > float(np.finfo(np.float32).max) or fmt.emin - man < -147:
        return  # outside float32 lanes
    rng = np.random.default_rng(seed)
    a = representable(rng, (3, 20), "float(5,5)", scale)
    b = representable(rng, (20, 5), "float(5,5)", 1.0)
    fast = matmul(a, b, acc=fmt)
    original = matmul_module._float32_plan
    matmul_module._float32_plan = lambda *args: None
    try:
        slow = matmul(a, b, acc=fmt)
    finally:
        matmul_module._float32_plan = original
    np.testing.assert_array_equal(fast[0], slow[0])
    assert fast[1] == slow[1]


@pytest.mark.parametrize("old, addend, want", [
    (1.0, (1 + 2.0**-20) * 2.0**-8, 1 + 2.0**-7),  # just above the midpoint: up
    (1 + 2.0**-7, (1 - 2.0**-20) * 2.0**-8, 1 + 2.0**-7),  # just below it: stays
])
def test_a_sum_rounded_twice_is_not_pulled_to_a_midpoint(old, addend, want):
    """In bf16, ``old + addend`` lies 2**-28 off the midpoint between two neighbours; its float32
    sum, one rounding away, is the midpoint itself, where ties-to-even would pick the wrong
    neighbour: the sum is first moved one float32 ulp toward the exact value."""
    c, _ = matmul(np.array([[old, addend * 2**8]]), np.array([[1.0], [2.0**-8]]), acc="bf16")
    assert c[0, 0] == want


# ---------------------------------------------------------------- randomness


def test_stochastic_rounding_is_reproducible_and_independent_of_thread_count():
    rng = np.random.default_rng(4)
    a = representable(rng, (16, 50), "fixed(8,4)", 4.0)
    b = representable(rng, (50, 12), "fixed(8,4)", 4.0)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = matmul(a, b, acc="fixed(12,2)", rounding="stochastic", seed=7)[0]
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = matmul(a, b, acc="fixed(12,2)", rounding="stochastic", seed=7)[0]
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)
    other = matmul(a, b, acc="fixed(12,2)", rounding="stochastic", seed=8)[0]
    assert not np.array_equal(one, other)


def test_stochastic_accumulation_is_unbiased():
    """Adding 0.25 to a 1-bit-fraction accumulator 4 times: on average the exact 1.0."""
    a, b = np.full((400, 4), 0.5), np.full((4, 1), 0.5)
    sums = [matmul(a, b, acc="fixed(8,0)", rounding="stochastic", seed=s)[0].mean() for s in range(5)]
    assert abs(np.mean(sums) - 1.0) < 4 * 0.5 / math.sqrt(2000)


# ---------------------------------------------------------------- block operands


def test_block_floating_point_operands_accumulate_integer_mantissas():
    """Per-row (a) and per-column (b) exponents factor out of each dot product: with a wide
    accumulator the result is the exact product of the quantized operands."""
    rng = np.random.default_rng(6)
    a = rng.standard_normal((4, 20)) * 10
    b = rng.standard_normal((20, 3))
    a_fmt, b_fmt = "bfp(8, axis=0)", "bfp(8, axis=1)"
    got, _ = matmul(a, b, acc="fixed(32,0)", a_fmt=a_fmt, b_fmt=b_fmt)
    np.testing.assert_array_equal(got, quantize(a, a_fmt) @ quantize(b, b_fmt))


def test_mx_operands_scale_each_k_block_and_combine():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 64))
    b = rng.standard_normal((64, 2))
    b_fmt = dataclasses.replace(parse("mxint8"), axis=-2)  # blocks of b run down its columns (K)
    # elements are fixed(8,6) values: their products have 12 fraction bits, kept by fixed(32,12)
    got, _ = matmul(a, b, acc="fixed(32,12)", a_fmt="mxint8", b_fmt=b_fmt)
    want = quantize(a, "mxint8") @ quantize(b, b_fmt)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="blocks must run along K"):
        matmul(a, b, acc="fixed(32,0)", a_fmt="mxint8", b_fmt="mxint8")


# ---------------------------------------------------------------- types and shapes


def test_batches_broadcast_and_torch_in_gives_torch_out():
    rng = np.random.default_rng(8)
    a = representable(rng, (2, 1, 3, 5), "fixed(8,4)")
    b = representable(rng, (4, 5, 2), "fixed(8,4)")
    c, _ = matmul(a, b, acc="fixed(24,8)")
    assert c.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(c, a @ b)
    t, _ = matmul(torch.from_numpy(a), torch.from_numpy(b), acc="fixed(24,8)")
    assert isinstance(t, torch.Tensor) and torch.equal(t, torch.from_numpy(c))


def test_empty_reduction_gives_zeros():
    c, stats = matmul(np.zeros((2, 0)), np.zeros((0, 3)), acc="fp16")
    np.testing.assert_array_equal(c, np.zeros((2, 3)))
    assert stats.additions == 0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(a=np.ones((2, 3)), b=np.ones((4, 2)), acc="fp16"), "K=3"),
        (dict(a=np.ones(3), b=np.ones((3, 2)), acc="fp16"), "at least 2 dimensions"),
        (dict(a=np.ones((2, 2, 3)), b=np.ones((3, 3, 2)), acc="fp16"), "do not broadcast"),
        (dict(a=np.ones((2, 3)), b=np.ones((3, 2)), acc="bfp8"), "acc must be a scalar format"),
        (dict(a=np.ones((2, 3)), b=np.ones((3, 2)), acc="fp16", order="zigzag"), "order must be"),
        (dict(a=np.ones((2, 3)), b=np.ones((3, 2)), acc="fp16", rounding="sideways"), "rounding"),
        (dict(a=np.full((2, 3), 0.1), b=np.ones((3, 2)), acc="fp16", a_fmt="fixed(8,4)", strict=True),
         "a has 6 element(s) not representable in fixed(8, 4)"),
        (dict(a=np.full((2, 3), 1 + 2.0**-40), b=np.ones((3, 2)), acc="fp16"), "more than 26 significant"),
        (dict(a=np.array([[1.0, np.nan]]), b=np.ones((2, 1)), acc="fixed(8,0)"), "a contains 1 NaN"),
        (dict(a=np.ones((2, 3)), b=np.ones((3, 2)), acc="fp16", b_fmt="mxint8"), "blocks must run along K"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    with pytest.raises(ValueError) as info:
        matmul(**kwargs)
    assert message in str(info.value)


def test_nan_propagates_through_float_accumulators_to_the_outputs_that_use_it():
    a = np.array([[1.0, np.nan], [2.0, 3.0]])
    c, _ = matmul(a, np.ones((2, 2)), acc="fp16")
    assert np.isnan(c[0]).all() and np.array_equal(c[1], [5.0, 5.0])
    with pytest.raises(ValueError, match="a contains 1 NaN"):
        matmul(a, np.ones((2, 2)), acc="fp16", mul="fixed(8,2)")
    with pytest.raises(ValueError, match="b contains 1 NaN"):
        matmul(np.ones((2, 2)), a, acc="fp16", b_fmt="bfp8")


def test_infinite_operands_saturate_a_fixed_accumulator_and_overflow_a_float_one():
    a = np.array([[np.inf, 1.0]])
    assert matmul(a, np.ones((2, 1)), acc="fixed(8,0)")[0][0, 0] == 127.0
    assert matmul(a, np.ones((2, 1)), acc="fp16")[0][0, 0] == np.inf


def test_integer_arrays_are_refused():
    with pytest.raises(TypeError):
        matmul(np.ones((2, 2), np.int32), np.ones((2, 2)), acc="fp16")
