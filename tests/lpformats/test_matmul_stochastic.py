"""Stochastic accumulation in ``lpformats.matmul`` on fixed-point accumulators, against a direct
reference: every addition ``x = acc + a[i, k] * b[k, j]`` (exact rational) becomes
``floor(x * 2**fl + R / 2**r)`` with ``R`` the ``r``-bit random number of its event
(``random_bits``), then saturates or wraps; the statistics count what the reference saw.

The kernel decides each rounding from the top ``d = min(r, dropped bits)`` random bits only
(``kernel._stochastic_step``, ``kernel._stochastic32_step``) and computes those bits without
SplitMix64's last step (``rng.mix64_top``); these tests check both shortcuts against the
definition, over shapes that exercise the int32 path (and its remainder steps of ``k``),
and accumulators too wide for it."""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import hypothesis.strategies as st
import numpy as np
from hypothesis import given
from numba import njit

from lpformats import FixedPoint, matmul
from lpformats.rng import FULL_PRECISION_BITS, mix64, mix64_top, random_bits

matmul_module = sys.modules["lpformats.matmul"]


def stochastic_reference(a, b, acc: FixedPoint, seed: int, nbits: int):
    """``(c, (out of range, swamped, max |acc|))`` of ``a @ b`` (2-D, sequential), each
    addition rounded stochastically onto ``acc``'s grid, one addition at a time."""
    m, k = a.shape
    n = b.shape[1]
    events = 2 * k + 3  # per output: a product and an addition per step, one run, one combine
    rand = random_bits(seed, m * n * events, nbits)
    c = np.zeros((m, n))
    out_of_range = swamped = 0
    peak = Fraction(0)
    for i in range(m):
        for j in range(n):
            code = 0
            for kk in range(k):
                product = Fraction(float(a[i, kk])) * Fraction(float(b[kk, j]))
                exact = Fraction(code, 2**acc.fl) + product
                r = int(rand[(i * n + j) * events + 2 * kk + 1])
                new = math.floor(exact * 2**acc.fl + Fraction(r, 2**nbits))
                if not acc.kmin <= new <= acc.kmax:
                    out_of_range += 1
                    span = acc.kmax - acc.kmin + 1
                    new = (new - acc.kmin) % span + acc.kmin if acc.overflow == "wrap" else \
                        min(max(new, acc.kmin), acc.kmax)
                swamped += product != 0 and new == code
                code = new
                peak = max(peak, Fraction(abs(code), 2**acc.fl))
            c[i, j] = code / 2**acc.fl
    return c, (out_of_range, swamped, float(peak))


@st.composite
def stochastic_cases(draw):
    """Operands of up to 9 bits with 0..6 fraction bits and an accumulator of 3..26 bits (int32
    path, or too wide for it), so that additions drop 1..12 bits and often saturate or wrap."""
    m, k, n = draw(st.integers(1, 5)), draw(st.integers(1, 11)), draw(st.integers(1, 40))
    fa, fb = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    bits = draw(st.integers(2, 9))
    values = st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    a = np.array(draw(st.lists(values, min_size=m * k, max_size=m * k)), float).reshape(m, k) / 2**fa
    b = np.array(draw(st.lists(values, min_size=k * n, max_size=k * n)), float).reshape(k, n) / 2**fb
    acc = FixedPoint(draw(st.integers(3, 26)), draw(st.integers(0, fa + fb - 1 if fa + fb else 0)),
                     signed=draw(st.booleans()), overflow=draw(st.sampled_from(["saturate", "wrap"])))
    nbits = draw(st.sampled_from([None, 1, 2, 3, 7, 31, 53]))
    return a, b, acc, nbits, draw(st.integers(0, 2**64 - 1))


@given(stochastic_cases())
def test_stochastic_fixed_accumulation_equals_the_definition(case):
    a, b, acc, nbits, seed = case
    got, stats = matmul(a, b, acc=acc, rounding="stochastic", seed=seed, stochastic_bits=nbits)
    want, (out_of_range, swamped, peak) = stochastic_reference(a, b, acc, seed, nbits or FULL_PRECISION_BITS)
    np.testing.assert_array_equal(got, want)
    counted = stats.wrapped if acc.overflow == "wrap" else stats.saturated
    assert (counted, stats.swamped, stats.max_abs_acc) == (out_of_range, swamped, peak)
    assert (stats.wrapped if acc.overflow != "wrap" else stats.saturated) == 0


def test_the_int32_stochastic_path_takes_accumulators_whose_values_fit_int32():
    """16-bit accumulator, 4 dropped bits, 8-bit x 8-bit products: 2**19 + 2**16 + 2**4 fits;
    a 28-bit accumulator with 4 dropped bits (2**31) does not."""
    assert matmul_module._stochastic32_fits(FixedPoint(16, 4), 4, 16)
    assert not matmul_module._stochastic32_fits(FixedPoint(28, 4), 4, 16)
    assert not matmul_module._stochastic32_fits(FixedPoint(16, 4), 4, 31)
    assert matmul_module._stochastic32_fits(FixedPoint(16, 4, signed=False), 14, 16)
    assert not matmul_module._stochastic32_fits(FixedPoint(16, 4, signed=False), 15, 16)


@njit(cache=True)
def _top_bits(words, used):
    out = np.empty((2, words.size), dtype=np.uint64)
    for i in range(words.size):
        out[0, i] = mix64_top(words[i], used)
        out[1, i] = mix64(words[i]) >> np.uint64(64 - used)
    return out


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50), st.integers(1, 31))
def test_mix64_top_gives_the_top_bits_of_mix64(words, used):
    tops, full = _top_bits(np.array(words, dtype=np.uint64), used)
    np.testing.assert_array_equal(tops, full)
