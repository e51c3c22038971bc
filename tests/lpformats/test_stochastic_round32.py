"""Rounding on float32 lanes works on the float32 bit pattern in int32
(``lpformats._elements32.value32``): for every float32 ``x`` (NaN, inf, signed zero,
subnormals, both signs), every float or fixed-point grid a block can reach, ``nearest`` and
``stochastic`` with ``n`` random bits (fewer than, exactly or more than the 30 it reads), the
result is the float64 kernels' element value stored as float32 and, for fixed point, the
Fraction reference ``clamp(floor(x * 2**fl + R / 2**n)) * 2**-fl``; only where ``n > 30``
and the bits of ``R`` below its top 30 decide does it flag the element (``at_edge``), and
the kernels then rerun the block on float64 lanes and give the same bits."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from numba import njit

import lpformats as lp
from lpformats import _kernel
from lpformats._elements import OVERFLOW_INF, OVERFLOW_NAN, OVERFLOW_SATURATE, fixed_value, float_value
from lpformats._elements32 import TOP_BITS, frame30, value32
from lpformats.rng import random_bits
from lpformats.rounding import NEAREST, STOCHASTIC
from tests.lpformats.reference import round_int

#: The element grid arguments of ``_kernel._grid32`` after ``X``: (man, emin, maxval, flush,
#: no_negative_zero, overflow, kmin, kmax, fl).
_NO_FIXED = (-1.0, 1.0, 0)
_NO_FLOAT = (0, 0, 0.0, False, False, OVERFLOW_SATURATE)


@njit(cache=True)
def _value32(x, is_float, mode, top, kbits, general, X, man, emin, maxval, flush, no_negative_zero,
             overflow, kmin, kmax, fl):
    grids = _kernel._grid32(X, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl)
    grid = grids[0] if is_float else grids[1]
    r30 = frame30(np.int32(top), np.int32(kbits))
    if grid.simple and not general:
        return value32(x, grid, is_float, mode, r30, True)
    return value32(x, grid, is_float, mode, r30, False)


@njit(cache=True)
def _float64_value(x, is_float, mode, rand, nbits, man, emin, maxval, flush, no_negative_zero, overflow,
                   kmin, kmax, fl):
    if is_float:
        return float_value(x, man, emin, maxval, flush, no_negative_zero, overflow, mode, rand, 2.0**nbits)
    return fixed_value(x, fl, kmin, kmax, False, mode, rand, 2.0**nbits)


def float32s() -> st.SearchStrategy:
    """float32 values of every class: grid-like ``m * 2**e`` (subnormals to huge), exact
    midpoints, any float32, and the special values."""
    grid = st.tuples(st.integers(-(2**24), 2**24), st.integers(-149, 104)).map(
        lambda me: float(np.float32(math.ldexp(me[0], me[1]))))
    midpoint = st.tuples(st.integers(-(2**22), 2**22), st.integers(-10, 0)).map(
        lambda ke: float(np.float32((ke[0] + 0.5) * 2.0 ** ke[1])))
    special = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 2.0**-149, -(2.0**-149), 2.0**-126,
                               1 - 2.0**-24, -(1 - 2.0**-24), 3.4028234663852886e38, -3.4028234663852886e38])
    return st.one_of(grid, midpoint, st.floats(width=32), special)


@st.composite
def float_grids(draw):
    """A float grid as a block sees it: ``man``, ``emin`` (below -126 for MX blocks of tiny
    scale, which the kernel lifts), a finite float32 ``maxval``, flush, signed zero, overflow."""
    man = draw(st.integers(0, 23))
    emin = draw(st.integers(-135, 60))
    emax = draw(st.integers(max(emin, -126), 127 - max(0, -126 - emin)))  # lifted, still finite
    maxval = float(np.float32((2 - 2.0**-man) * 2.0**emax))
    assume(math.isfinite(maxval))
    overflow = draw(st.sampled_from([OVERFLOW_SATURATE, OVERFLOW_INF, OVERFLOW_NAN]))
    return (man, emin, maxval, draw(st.booleans()), draw(st.booleans()), overflow)


@st.composite
def fixed_grids(draw):
    """A saturating fixed-point grid: ``wl`` up to 25 bits (``|k| <= 2**24``), signed or not,
    ``fl`` from 149 (step ``2**-149``) down to -252."""
    signed = draw(st.booleans())
    wl = draw(st.integers(2, 25 if signed else 24))
    kmin, kmax = (-(2.0 ** (wl - 1)), 2.0 ** (wl - 1) - 1) if signed else (0.0, 2.0**wl - 1)
    return kmin, kmax, draw(st.integers(-252, 149))


@st.composite
def random_numbers(draw, scaled_fraction: Fraction | None, negative: bool):
    """``(nbits, R)``: any ``R``, or where ``scaled_fraction`` (``|x|`` over the grid step,
    below 1) is given, sometimes one whose top 30 bits put it at the edge."""
    nbits = draw(st.sampled_from([1, 2, 8, 29, 30, 31, 40, 53]) | st.integers(1, 53))
    kbits = min(nbits, TOP_BITS)
    if scaled_fraction is None or draw(st.booleans()):
        return nbits, draw(st.integers(0, 2**nbits - 1))
    below = math.floor(scaled_fraction * 2**TOP_BITS)
    top = below if negative else 2**TOP_BITS - 1 - below
    top >>= TOP_BITS - kbits
    return nbits, top * 2 ** (nbits - kbits) + draw(st.integers(0, 2 ** (nbits - kbits) - 1))


def _step(is_float: bool, grid: tuple) -> Fraction:
    """The grid step of the finest binade: ``2**(emin - man)`` or ``2**-fl``."""
    if is_float:
        man, emin = grid[0], grid[1]
        return Fraction(2) ** (emin - man)
    return Fraction(2) ** -grid[2]


@given(data=st.data(), is_float=st.booleans(), x=float32s(), mode=st.sampled_from([NEAREST, STOCHASTIC]),
       general=st.booleans())
@example(data=None, is_float=False, x=-(2.0**-149), mode=STOCHASTIC, general=False)
@example(data=None, is_float=True, x=0.75, mode=NEAREST, general=False)
@example(data=None, is_float=True, x=-1.5 * 2.0**-133, mode=NEAREST, general=False)
def test_value32_is_the_float64_element_value(data, is_float, x, mode, general):
    if data is None:
        # int8 with R = 0 of 53 bits: a tiny negative value grows to -1 only if R < |x| * 2**53;
        # fp4_e2m1: the step of [0.5, 1) is 0.5, and the tie 0.75 goes to the even 1.0;
        # bf16: the subnormal tie 1.5 * 2**-133 goes to the even 2**-132
        grid = ((-128.0, 127.0, 0) if not is_float else (1, 0, 6.0, False, False, OVERFLOW_SATURATE) if x > 0
                else (7, -126, 3.3895313892515355e38, False, False, OVERFLOW_INF))
        nbits, rand = 53, 0
    else:
        grid = data.draw(float_grids() if is_float else fixed_grids())
        step = _step(is_float, grid)
        tiny = math.isfinite(x) and Fraction(abs(x)) < step
        nbits, rand = data.draw(random_numbers(Fraction(abs(x)) / step if tiny else None, x < 0))
    args = (*grid, *_NO_FIXED) if is_float else (*_NO_FLOAT, *grid)
    if is_float and grid[1] < -126:  # MX blocks lift their tiny-scale grids; the caller keeps x * lift finite
        assume(abs(x) < 2.0 ** (128 + 126 + grid[1]) or not math.isfinite(x))
    kbits = min(nbits, TOP_BITS)
    x32 = np.float32(x)
    got, at_edge = _value32(x32, is_float, mode, rand >> (nbits - kbits), kbits, general, 0, *args)
    got = np.float32(got)
    with np.errstate(over="ignore"):  # beyond float32 the stored float64 result is inf, as ours
        expected = np.float32(_float64_value(float(x32), is_float, mode, float(rand), nbits, *args))
    if at_edge and nbits > TOP_BITS:  # the top 30 bits may leave it open: only below the step, at its edge
        scaled = Fraction(abs(float(x32))) / _step(is_float, grid) * 2**TOP_BITS
        top = rand >> (nbits - TOP_BITS)
        assert mode == STOCHASTIC and scaled < 2**TOP_BITS
        assert math.floor(scaled) + (2**TOP_BITS - 1 - top if np.signbit(x32) else top) == 2**TOP_BITS - 1
        return
    if math.isnan(x):
        return  # the caller replaces NaN
    assert got.view(np.uint32) == expected.view(np.uint32), (x, grid, mode, nbits, rand, got, expected)
    if not is_float and math.isfinite(x):  # the definition, in exact arithmetic
        kmin, kmax, fl = grid
        mode_name = "stochastic" if mode == STOCHASTIC else "nearest"
        k = round_int(Fraction(float(x32)) * Fraction(2) ** fl, mode_name, rand, nbits)
        with np.errstate(over="ignore"):  # a saturation value beyond float32 stores as inf
            exact = np.float32(float(min(max(k, kmin), kmax) * Fraction(2) ** -fl))
        assert got == exact


def test_a_value_tiny_against_its_grid_keeps_its_sign_in_the_decision():
    """``-2**-149`` in int8 with ``R = 0``: ``floor(y + 0) = -1`` (the magnitude grows); with
    ``R = 1`` of 1 bit (``R / 2 = 0.5``) it is 0, and so is ``+2**-149``."""
    fixed = (*_NO_FLOAT, -128.0, 127.0, 0)
    assert _value32(np.float32(-(2.0**-149)), False, STOCHASTIC, 0, 30, False, 0, *fixed)[0] == -1.0
    assert _value32(np.float32(-(2.0**-149)), False, STOCHASTIC, 1, 1, False, 0, *fixed)[0] == 0.0
    assert _value32(np.float32(2.0**-149), False, STOCHASTIC, 1, 1, False, 0, *fixed)[0] == 0.0


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
