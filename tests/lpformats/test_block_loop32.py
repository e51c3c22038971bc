"""The float32-lane kernel's block structure (``_kernel.quantize_blocks32``: work items of
consecutive blocks in C order that may span rows, short blocks run with bounded loops,
random bits drawn per work item or per pass of a long block) gives what the float64
kernel ``_kernel.quantize_blocks`` gives on the same float32 tensor: the same output bits,
the same shared exponent and the same NaN count for every block, for row lengths that are
no multiple of the block, poisoned MX blocks (NaN or inf: all NaN), NaN elements, and
stochastic rounding with few random bits and with 53 (where the rare undecided block is
rerun on float64 lanes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lpformats as lp
from lpformats import _kernel
from lpformats.formats import MXFormat
from lpformats.quantize import grid_args, plan_blocks
from lpformats.rounding import NEAREST, STOCHASTIC

FORMATS = ("mxfp8_e4m3", "mxfp4", "mxint8", "bfp8")


def exponent_rule(fmt: str) -> tuple[int, int, int, bool, bool]:
    """``(offset, lo, hi, poison NaN, poison inf)`` as ``quantize`` passes them (``nan='propagate'``)."""
    parsed = lp.parse(fmt)
    plan = plan_blocks(np.zeros((1, 32), np.float32), parsed)
    is_mx = isinstance(parsed, MXFormat)
    return plan.offset, plan.lo, plan.hi, is_mx, is_mx


def run_both(x: np.ndarray, fmt: str, block: int, mode: int, nbits: int, derive: bool = True,
             given_exps: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(out, exps, block_nans)`` of the float32-lane kernel and of the float64 kernel (on the
    float64 copy, cast back: exact on float32 values)."""
    offset, lo, hi, poison_nan, poison_inf = exponent_rule(fmt)
    element = grid_args(lp.parse(fmt))
    rows, length = x.shape
    blocks = rows * -(-length // block)
    results = []
    for kernel, data, args in ((_kernel.quantize_blocks32, x, element[:-1]),
                               (_kernel.quantize_blocks, x.astype(np.float64), element)):
        out = np.full_like(data, 7.0)
        exps = np.zeros(blocks, np.int64) if given_exps is None else given_exps.copy()
        block_nans = np.full(blocks, -1, np.int32)
        kernel(data, out, block, exps, block_nans, derive, lo, hi, offset, poison_nan, poison_inf, *args,
               mode, np.uint64(0x1234_5678_9ABC_DEF1), nbits,
               np.float32(np.nan) if kernel is _kernel.quantize_blocks32 else np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            results.append((out.astype(np.float32), exps, block_nans))
    return results


def assert_same(results) -> None:
    (out32, exps32, nans32), (out64, exps64, nans64) = results
    assert out32.view(np.uint32).tolist() == out64.view(np.uint32).tolist()
    assert exps32.tolist() == exps64.tolist()
    assert nans32.tolist() == nans64.tolist()


def tensors(max_rows: int = 5, max_length: int = 200) -> st.SearchStrategy:
    """float32 tensors of normal values with some NaNs and infinities sprinkled in."""
    shape = st.tuples(st.integers(1, max_rows), st.integers(1, max_length))
    value = st.one_of(st.floats(-1e6, 1e6, width=32), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e-40]))
    return shape.flatmap(lambda s: hnp.arrays(np.float32, s, elements=value))


@settings(max_examples=60, deadline=None)
@given(x=tensors(), fmt=st.sampled_from(FORMATS), block=st.sampled_from([1, 5, 16, 32, 33, 64]),
       mode=st.sampled_from([NEAREST, STOCHASTIC]), nbits=st.sampled_from([1, 2, 53]))
def test_blocks_of_any_length_give_the_float64_kernels_bits_exponents_and_nan_counts(x, fmt, block, mode,
                                                                                      nbits):
    assert_same(run_both(x, fmt, block, mode, nbits))


@settings(max_examples=20, deadline=None)
@given(x=tensors(), block=st.sampled_from([8, 32, 48]), mode=st.sampled_from([NEAREST, STOCHASTIC]),
       exps=st.integers(-20, 20))
def test_given_shared_exponents_are_read_not_derived(x, block, mode, exps):
    blocks = x.shape[0] * -(-x.shape[1] // block)
    given_exps = np.full(blocks, exps, np.int64)
    results = run_both(x, "bfp8", block, mode, 53, derive=False, given_exps=given_exps)
    assert_same(results)
    assert results[0][1].tolist() == given_exps.tolist()


@pytest.mark.parametrize("mode", [NEAREST, STOCHASTIC])
@pytest.mark.parametrize(("shape", "block"), [((3, 20_000), 32), ((2, 20_000), 20_000),
                                              ((1, 3 * 8192 + 5), 9000), ((700, 31), 32)])
def test_work_items_spanning_rows_and_long_blocks_in_passes(shape, block, mode):
    """Short rows (items of many rows), blocks longer than a pass of random bits (8192), and
    a poisoned block in each row."""
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32) * np.float32(100)
    x[:, 3] = np.nan
    x[-1, -1] = np.inf
    assert_same(run_both(x, "mxfp8_e4m3", block, mode, 53))
    assert_same(run_both(x, "bfp8", block, mode, 53))
