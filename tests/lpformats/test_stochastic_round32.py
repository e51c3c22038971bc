"""Stochastic rounding on float32 lanes decides from the top 30 random bits
(``lpformats._elements32.stochastic_round32``): the decision is ``floor(y + R / 2**n)`` of the
Fraction reference and of the float64 kernels' ``round_to_integer`` for every ``y`` it does not
flag, for any ``n`` up to 30 always, and where the low random bits would decide (``n > 30``)
the kernels rerun the block on float64 lanes and give the same bits."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from numba import njit

import lpformats as lp
from lpformats._elements32 import TOP_BITS, stochastic_round32
from lpformats.rng import random_bits
from lpformats.rounding import STOCHASTIC, round_to_integer
from tests.lpformats.reference import round_int


@njit(cache=True)
def _round32(y, top, kbits):
    return stochastic_round32(y, top, kbits)


@njit(cache=True)
def _round64(y, rand, nbits):
    return round_to_integer(y, STOCHASTIC, rand, 2.0**nbits)


def float32s() -> st.SearchStrategy:
    """float32 values where the decision is delicate: exact midpoints and near-integers of
    every size, fractions with bits down to 2**-149 (subnormals), huge values, infinities."""
    grid = st.tuples(st.integers(-(2**24), 2**24), st.integers(-149, 104)).map(
        lambda me: float(np.float32(math.ldexp(me[0], me[1]))))
    midpoint = st.tuples(st.integers(-(2**22), 2**22), st.integers(-10, 0)).map(
        lambda ke: float(np.float32((ke[0] + 0.5) * 2.0 ** ke[1])))
    return st.one_of(grid, midpoint, st.floats(width=32, allow_nan=False),
                     st.sampled_from([0.0, -0.0, 2.0**-149, -(2.0**-149), 1 - 2.0**-24, -(1 - 2.0**-24)]))


@st.composite
def random_numbers(draw, y: float):
    """``(nbits, R)``: any ``R``, or one whose top bits put ``y`` at the edge."""
    nbits = draw(st.integers(1, 53))
    kbits = min(nbits, TOP_BITS)
    if draw(st.booleans()):
        return nbits, draw(st.integers(0, 2**nbits - 1))
    scaled = math.floor((abs(y) - math.floor(abs(y))) * 2**kbits) if math.isfinite(y) else 0
    top = 2**kbits - 1 - scaled if y >= 0 else scaled  # top + floor(u) = 2**kbits - 1 after the flip
    top = min(max(top, 0), 2**kbits - 1)
    low = draw(st.integers(0, 2 ** (nbits - kbits) - 1))
    return nbits, top * 2 ** (nbits - kbits) + low


@given(data=st.data(), y=float32s())
@example(data=None, y=-(2.0**-149))
def test_decision_is_floor_of_y_plus_random_fraction(data, y):
    nbits, rand = (53, 0) if data is None else data.draw(random_numbers(y))
    kbits = min(nbits, TOP_BITS)
    k, at_edge = _round32(np.float32(y), np.int32(rand >> (nbits - kbits)), kbits)
    expected = _round64(y, float(rand), nbits)
    assert math.isinf(expected) == math.isinf(k)
    if nbits <= TOP_BITS or not at_edge:
        assert k == expected, (y, nbits, rand, k, expected)
        if math.isfinite(y):
            assert k == round_int(Fraction(y), "stochastic", rand, nbits)
    if at_edge:  # only where the top bits really leave it open
        frac = Fraction(abs(y)) - math.floor(abs(y))
        assert (frac * 2**kbits).denominator != 1


def _edge_inputs(seed: int, count: int, negative: bool) -> tuple[np.ndarray, int]:
    """float32 values in (-2**-7, 2**-7) that sit at the edge for their element's random
    number (``int8``: the value is its own scaled value): only the low 23 random bits decide."""
    tops = random_bits(seed, count, 53) >> np.uint64(53 - TOP_BITS)
    x = np.zeros(count, dtype=np.float32)
    hits = 0
    for i, top in enumerate(tops.astype(np.int64)):
        below = int(top) if negative else 2**TOP_BITS - 1 - int(top)  # floor(u) at the edge
        if below < 2**23:
            value = (below + 0.5) * 2.0**-TOP_BITS
            x[i] = -value if negative else value
            hits += 1
    return x, hits


#: The grid step of each format for the edge test (bfp8: with the tensor's largest magnitude 1.0).
STEPS = {"int8": 1.0, "fixed(8,4)": 2.0**-4, "bfp8": 2.0**-6}


@pytest.mark.parametrize("fmt", sorted(STEPS))
@pytest.mark.parametrize("negative", [False, True])
def test_edge_cases_rerun_on_float64_lanes_give_the_same_bits(fmt, negative):
    edges, hits = _edge_inputs(seed=2024, count=1 << 14, negative=negative)
    assert hits > 50
    x = edges * np.float32(STEPS[fmt])  # exact: a power of two, far from the float32 range ends
    x[-1] = 1.0  # bfp8's shared exponent 0
    got = lp.quantize(x, fmt, "stochastic", seed=2024)
    expected = lp.quantize(x.astype(np.float64), fmt, "stochastic", seed=2024).astype(np.float32)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    # the exact answer: floor(y + R / 2**53) with y = x / step, which only the low bits of R decide
    rand = random_bits(2024, x.size, 53)
    exact = [round_int(Fraction(float(v)) / Fraction(STEPS[fmt]), "stochastic", int(r), 53) * STEPS[fmt]
             for v, r in zip(x, rand, strict=True)]
    assert np.array_equal(got, np.array(exact, dtype=np.float32))
    at_edge = edges != 0
    assert 0 < np.count_nonzero(got[at_edge]) < hits  # both outcomes occur among the edge values
