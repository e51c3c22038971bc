"""Properties every format family must have, checked with Hypothesis on generated formats
(fixed point, small floats of every style, block floating point in every layout, MX):
idempotence, monotonicity, ``down(x) <= x <= up(x)`` with both on the grid and adjacent,
stochastic rounding landing on one of them and unbiased (within ``ulp * 2**-r`` for ``r``
random bits), ``decode(encode(x)) == quantize(x)``, and results independent of the thread
count and of how the work is chunked."""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from unittest import mock

import numba
import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import lpformats as lp
from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from lpformats.testing.boundaries import clip_to_range
from lpformats.testing.compare import assert_same_values
from lpformats.testing.strategies import (
    any_formats,
    block_float_formats,
    finite_arrays,
    fixed_formats,
    float_formats,
    mx_formats,
    scalar_formats,
)

lp_quantize = importlib.import_module("lpformats.quantize")  # the module (the package exports the function)
DETERMINISTIC = ("nearest", "nearest_away", "zero", "down", "up")
seeds = st.integers(0, 2**64 - 1)


@given(fmt=scalar_formats(), x=finite_arrays(), mode=st.sampled_from([*DETERMINISTIC, "stochastic"]),
       seed=seeds)
def test_quantize_is_idempotent_for_scalar_formats(fmt, x, mode, seed):
    q = lp.quantize(x, fmt, mode, seed=seed)
    assert_same_values(lp.quantize(q, fmt, mode, seed=seed ^ 1), q, x, str(fmt))


@given(fmt=st.one_of(block_float_formats(), mx_formats()), x=finite_arrays(),
       mode=st.sampled_from([*DETERMINISTIC, "stochastic"]), seed=seeds)
def test_quantize_is_idempotent_for_block_formats_while_the_block_exponent_stays(fmt, x, mode, seed):
    """Blocks whose shared exponent ``X`` is the same for ``q`` as for ``x`` are fixed points.
    The only way ``X`` changes is the negative end of a two's-complement mantissa (BFP, MXINT8):
    ``-2**(wl-1) * step = -2**(X + emax + 1)`` has the next exponent, so requantizing moves
    that block onto a grid twice as coarse (as SWALP's and QPyTorch's block quantizers do)."""
    q = lp.quantize(x, fmt, mode, seed=seed)
    again = lp.quantize(q, fmt, mode, seed=seed ^ 1)
    kept = _block_exponents(fmt, q) == _block_exponents(fmt, x)
    assert_same_values(again[kept], q[kept], x[kept], str(fmt))
    if not kept.all():
        moved = _block_exponents(fmt, x)[~kept]
        assert (_block_exponents(fmt, q)[~kept] == moved + 1).all(), (fmt, x, q)
        negative_end = -np.ldexp(1.0, moved + 1 + _element_emax(fmt))
        assert np.isin(negative_end, q[~kept]).all(), (fmt, x, q)


def test_block_requantization_example_from_the_negative_mantissa_end():
    """``bfp(2)``: ``[1, -3]`` has ``E = 1``, step 2, mantissas ``[-2, 1]``; ``nearest_away``
    gives ``[2, -4]``, whose maximum 4 has ``E = 2``: requantized with step 4, 2 becomes 4."""
    fmt = BlockFloat(2, exp_bits=3)
    q = lp.quantize(np.array([1.0, -3.0]), fmt, "nearest_away")
    assert q.tolist() == [2.0, -4.0]
    assert lp.quantize(q, fmt, "nearest_away").tolist() == [4.0, -4.0]


@given(fmt=any_formats(), x=finite_arrays(), mode=st.sampled_from([*DETERMINISTIC, "stochastic"]),
       seed=seeds, nbits=st.sampled_from([None, 1, 4]))
def test_decode_of_encode_is_quantize(fmt, x, mode, seed, nbits):
    q = lp.quantize(x, fmt, mode, seed=seed, stochastic_bits=nbits)
    codes = lp.encode(x, fmt, mode, seed=seed, stochastic_bits=nbits)
    assert_same_values(lp.decode(codes, fmt), q, x, str(fmt))


def _one_block(fmt, n: int):
    """A format whose blocks hold all ``n`` elements of a 1-D array (scalar formats as is)."""
    if isinstance(fmt, BlockFloat):
        return BlockFloat(fmt.wl, exp_bits=fmt.exp_bits)
    if isinstance(fmt, MXFormat):
        return MXFormat(fmt.element, block_size=max(n, 1), axis=-1)
    if isinstance(fmt, FixedPoint) and fmt.overflow == "wrap":
        return FixedPoint(fmt.wl, fmt.fl, fmt.signed)  # wrapping is not monotone
    return fmt


@given(fmt=any_formats(), x=finite_arrays(shape=st.integers(1, 40)), mode=st.sampled_from(DETERMINISTIC))
def test_deterministic_modes_are_monotone(fmt, x, mode):
    fmt = _one_block(fmt, x.size)
    q = lp.quantize(np.sort(x), fmt, mode).astype(np.float64)
    q = q[~np.isnan(q)]  # NaN beyond the overflow threshold (fn/fnuz) has no order
    assert (q[1:] >= q[:-1]).all(), (fmt, mode, np.sort(x), q)


def _block_exponents(fmt, x: np.ndarray) -> np.ndarray:
    """Per-element shared exponent (BFP ``E``, MX scale exponent) from ``encode``."""
    exps = np.asarray(lp.encode(x, fmt).exponents, dtype=np.int64)
    if isinstance(fmt, MXFormat):
        axis = fmt.axis % x.ndim
        return np.take(np.repeat(exps - 127, fmt.block_size, axis=axis), np.arange(x.shape[axis]), axis=axis)
    if fmt.block_size is not None:
        return np.repeat(exps, fmt.block_size, axis=-1)[..., : x.shape[-1]]
    if fmt.block_axis is None:
        return np.broadcast_to(exps, x.shape)
    axis = fmt.block_axis % x.ndim
    return np.broadcast_to(exps.reshape([-1 if d == axis else 1 for d in range(x.ndim)]), x.shape)


def _element_emax(fmt) -> int:
    """``floor(log2)`` of the largest element at shared exponent 0 (BFP: 0)."""
    return fmt.element_emax if isinstance(fmt, MXFormat) else 0


def _finite(values: np.ndarray) -> np.ndarray:
    return np.unique(values[np.isfinite(values)])


def _grids(fmt, x: np.ndarray):
    """For each element: the sorted finite value grid it is rounded onto (block formats
    saturate their elements, so an element format's infinities are not on it)."""
    if not isinstance(fmt, (BlockFloat, MXFormat)):
        grid = _finite(fmt.values())
        return lambda i: grid
    exps = _block_exponents(fmt, x)
    cache: dict[int, np.ndarray] = {}

    def grid_of(i):
        e = int(exps[i])
        if e not in cache:
            cache[e] = _finite(fmt.values(e))
        return cache[e]

    return grid_of


def _flushed(fmt, x: np.ndarray) -> np.ndarray:
    """Where ``x`` lies strictly between 0 and the smallest normal of a float format without
    subnormals: there rounding happens on the subnormal grid and the result is then flushed
    to zero (DESIGN.md), so results are 0 or +-smallest normal, not neighbours of ``x``."""
    if not isinstance(fmt, FloatFormat) or fmt.subnormals:
        return np.zeros(x.shape, dtype=bool)
    return (x != 0) & (np.abs(x) < fmt.smallest_normal)


@given(fmt=st.one_of(scalar_formats(), block_float_formats(), mx_formats()), x=finite_arrays(), seed=seeds)
def test_down_and_up_are_adjacent_grid_values_around_x(fmt, x, seed):
    """``down(x) <= x <= up(x)``, both on the element's grid with nothing in between, and
    stochastic rounding gives one of the two. Scalar inputs are kept inside the range; block
    elements above the largest mantissa/element saturate (checked: they equal the grid end).
    In the flush-to-zero range every mode gives 0 or +-smallest normal."""
    if not isinstance(fmt, (BlockFloat, MXFormat)):
        x = clip_to_range(x, fmt)
    down = lp.quantize(x, fmt, "down").astype(np.float64)
    up = lp.quantize(x, fmt, "up").astype(np.float64)
    sto = lp.quantize(x, fmt, "stochastic", seed=seed).astype(np.float64)
    assume(np.isfinite(up).all() and np.isfinite(down).all())
    flushed = _flushed(fmt, x)
    if flushed.any():
        for result in (down, up, sto):
            assert np.isin(np.abs(result[flushed]), [0.0, fmt.smallest_normal]).all(), (fmt, x, result)
    grid_of = _grids(fmt, x)
    for i in map(tuple, np.argwhere(~flushed)):
        grid = grid_of(i)
        lo, hi = np.searchsorted(grid, down[i]), np.searchsorted(grid, up[i])
        assert grid[lo] == down[i] and grid[hi] == up[i], (fmt, x[i], down[i], up[i])
        assert hi - lo in (0, 1), (fmt, x[i], down[i], up[i])
        v = float(x[i])
        assert down[i] <= v or lo == 0, (fmt, v, down[i])
        assert v <= up[i] or hi == grid.size - 1, (fmt, v, up[i])
        assert sto[i] in (down[i], up[i]), (fmt, v, sto[i], down[i], up[i])
        assert (hi == lo) == (down[i] == up[i])


def _repeated_in_one_block(fmt, x: float, n: int) -> tuple[object, np.ndarray]:
    """``n`` copies of ``x`` after an anchor ``2**a > |x|`` that fixes the block's exponent, so
    that ``x`` lies inside the block's range (no saturation) in block formats."""
    if not isinstance(fmt, (BlockFloat, MXFormat)):
        return fmt, np.full(n, x)
    anchor = 2.0 ** (np.floor(np.log2(abs(x))) + 1) if x else 1.0
    return _one_block(fmt, n + 1), np.concatenate([[anchor], np.full(n, x)])


@example(fmt=FixedPoint(2, 0), x=-2.0**-52, seed=1, nbits=5)  # p ~ 1 drawn as 31/32
@example(fmt=FixedPoint(2, 0), x=-2.0**-149, seed=1, nbits=5)  # p rounds to 1 in float64
@given(fmt=st.one_of(fixed_formats(overflow=("saturate",)), float_formats(), block_float_formats(),
                     mx_formats()),
       x=st.floats(-1e4, 1e4, width=32), seed=seeds, nbits=st.sampled_from([None, 2, 5]))
def test_stochastic_rounding_is_unbiased(fmt, x, seed, nbits):
    """The mean of n draws is within 5 standard errors of ``x``, plus the bias of ``r`` random
    bits, below ``ulp * 2**-r`` and toward ``down``: ``R >= 2**r * (1 - frac)`` rounds up, which
    happens for ``2**r - ceil(2**r * (1 - frac))`` of the ``2**r`` values of ``R``."""
    n = 4000
    if not isinstance(fmt, (BlockFloat, MXFormat)):
        x = float(clip_to_range(np.array([x], dtype=np.float32), fmt)[0])
    assume(not _flushed(fmt, np.array(x)))
    if isinstance(fmt, BlockFloat):
        assume(x == 0 or np.floor(np.log2(abs(x))) + 1 <= fmt.exponent_range[1])
    fmt, arr = _repeated_in_one_block(fmt, x, n)
    arr = arr.astype(np.float64)
    draws = lp.quantize(arr, fmt, "stochastic", seed=seed, stochastic_bits=nbits)[-n:]
    down = lp.quantize(arr, fmt, "down")[-1]
    up = lp.quantize(arr, fmt, "up")[-1]
    assume(np.isfinite(down) and np.isfinite(up))
    ulp = up - down
    p = 0.0 if ulp == 0 else (x - down) / ulp
    # with r random bits the draws go up with probability (2**r - ceil(2**r (1 - p))) / 2**r:
    # their spread is that of this probability (x = -2**-52 in [-1, 0] goes up with p ~ 1, but
    # with r = 5 only 31 times in 32)
    gap = 0.0 if ulp == 0 else (up - x) / ulp  # 1 - p, without p's rounding to 1 for tiny x
    p_drawn = p if nbits is None else (2**nbits - np.ceil(2**nbits * gap)) / 2**nbits
    standard_error = ulp * np.sqrt(max(p * (1 - p), p_drawn * (1 - p_drawn)) / n)
    bias_bound = 0.0 if nbits is None else ulp * 2.0**-nbits
    assert abs(draws.mean() - x) <= bias_bound + 5 * standard_error + 1e-9 * ulp, (fmt, x, draws.mean())
    if nbits is not None:  # the bias of r bits only ever goes down
        assert draws.mean() - x <= 5 * standard_error + 1e-9 * ulp


@contextmanager
def _numba_threads(n: int):
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="numba has a single thread here")
@given(fmt=any_formats(), x=finite_arrays(), mode=st.sampled_from([*DETERMINISTIC, "stochastic"]),
       seed=seeds, nbits=st.sampled_from([None, 3]))
def test_results_do_not_depend_on_thread_count_or_chunking(fmt, x, mode, seed, nbits):
    """Same seed, same bits: with 1 or 2 Numba threads, and with the work cut into chunks of
    7 elements instead of 2**16 (scalar formats and whole-tensor BFP are chunked)."""
    with _numba_threads(2):
        expected = lp.quantize(x, fmt, mode, seed=seed, stochastic_bits=nbits)
    with _numba_threads(1):
        assert_same_values(lp.quantize(x, fmt, mode, seed=seed, stochastic_bits=nbits), expected, x,
                           f"{fmt}, 1 thread")
    with _numba_threads(2), mock.patch.object(lp_quantize, "_CHUNK", 7):
        assert_same_values(lp.quantize(x, fmt, mode, seed=seed, stochastic_bits=nbits), expected, x,
                           f"{fmt}, chunks of 7")
