"""The calling conventions of ``quantize``/``encode``/``decode``: numpy arrays of every float
dtype, any shape and strides, CPU torch tensors (zero-copy), ``out=`` (also in place), seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import lpformats as lp
from lpformats.testing.compare import assert_same_values

FORMATS = ["int8", "fixed(8,4,wrap)", "fp8_e4m3", "bf16", "fp4_e2m1", "bfp8", "bfp(6,axis=1)",
           "bfp(6,block=5)", "mxfp8_e4m3", "mx(fp4_e2m1,block=4,axis=0)", "mxint8"]
MODES = ["nearest", "stochastic"]


def _data(shape=(6, 10), dtype=np.float32) -> np.ndarray:
    return (np.random.default_rng(3).standard_normal(shape) * 4).astype(dtype)


def _expected(x: np.ndarray, fmt: str, mode: str) -> np.ndarray:
    """The reference call: a C-contiguous float64 copy."""
    return lp.quantize(np.array(x, dtype=np.float64, order="C"), fmt, mode, seed=7)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_result_has_the_input_type_shape_and_dtype(fmt, mode, dtype):
    x = _data(dtype=dtype)
    q = lp.quantize(x, fmt, mode, seed=7)
    assert type(q) is np.ndarray and q.shape == x.shape and q.dtype == x.dtype
    assert_same_values(q, _expected(x, fmt, mode).astype(dtype), x, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("view", ["transposed", "strided", "reversed", "3-d", "0-d"])
def test_non_contiguous_and_other_shapes_equal_the_contiguous_call(fmt, view):
    base = _data((6, 10, 3), np.float32)
    x = {"transposed": base[:, :, 0].T, "strided": base[::2, 1::3, 1], "reversed": base[::-1, :, 2],
         "3-d": base, "0-d": base[0, 0, 0, ...]}[view]
    if view == "0-d" and ("axis=1" in fmt or "axis=0" in fmt):
        pytest.skip("a 0-d array has no axis to block along")
    for mode in MODES:
        q = lp.quantize(x, fmt, mode, seed=7)
        assert q.shape == x.shape and q.dtype == x.dtype
        assert_same_values(q, _expected(x, fmt, mode).astype(np.float32), x, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_torch_tensors_in_torch_tensors_out(fmt, dtype):
    t = torch.from_numpy(_data()).to(dtype)
    q = lp.quantize(t, fmt, "stochastic", seed=7)
    assert isinstance(q, torch.Tensor) and q.dtype == dtype and q.shape == t.shape
    expected = _expected(t.to(torch.float64).numpy(), fmt, "stochastic")
    assert_same_values(q.to(torch.float64).numpy(), torch.from_numpy(expected).to(dtype).double().numpy(),
                       None, fmt)


def test_torch_float32_is_read_without_a_copy_and_written_in_place():
    t = torch.from_numpy(_data())
    expected = lp.quantize(t.clone(), "fp8_e4m3")
    pointer = t.data_ptr()
    result = lp.quantize(t, "fp8_e4m3", out=t)
    assert result is t and t.data_ptr() == pointer
    assert torch.equal(t, expected)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_out_may_be_the_input(fmt, dtype):
    x = _data(dtype=dtype)
    expected = lp.quantize(x, fmt, "stochastic", seed=7)
    result = lp.quantize(x, fmt, "stochastic", seed=7, out=x)
    assert result is x
    assert_same_values(x, expected, None, fmt)


@pytest.mark.parametrize("fmt", ["bfp8", "fp8_e4m3"])
def test_out_may_overlap_the_input_shifted(fmt):
    base = _data((1, 101)).reshape(-1)
    x, out = base[:-1], base[1:]  # out[i] is x[i + 1]: each write would clobber an unread input
    expected = lp.quantize(x.copy(), fmt, "stochastic", seed=7)
    assert lp.quantize(x, fmt, "stochastic", seed=7, out=out) is out
    np.testing.assert_array_equal(base[1:], expected)


def test_out_may_be_a_non_contiguous_view():
    x = _data()
    out = np.zeros((10, 6), dtype=np.float32).T
    assert lp.quantize(x, "mxint8", out=out) is out
    np.testing.assert_array_equal(out, lp.quantize(x, "mxint8"))


def test_seeds_make_stochastic_rounding_reproducible():
    x = _data((64, 64))
    a = lp.quantize(x, "fp8_e4m3", "stochastic", seed=1)
    assert np.array_equal(a, lp.quantize(x, "fp8_e4m3", "stochastic", seed=1))
    assert not np.array_equal(a, lp.quantize(x, "fp8_e4m3", "stochastic", seed=2))
    assert not np.array_equal(a, lp.quantize(x, "fp8_e4m3", "stochastic", seed=1, counter=1))
    fresh = [lp.quantize(x, "fp8_e4m3", "stochastic") for _ in range(2)]
    assert not np.array_equal(*fresh)  # seed=None draws a fresh seed each call


@pytest.mark.parametrize("fmt", FORMATS)
def test_decode_of_encode_in_numpy_and_torch(fmt):
    x = _data()
    codes = lp.encode(x, fmt)
    if "axis=1" not in fmt:  # a 0-d array has no axis 1
        scalar = lp.encode(x[0, 0, ...], fmt)
        assert (scalar if isinstance(scalar, np.ndarray) else scalar.codes).shape == ()
    np.testing.assert_array_equal(lp.decode(codes, fmt), lp.quantize(x, fmt))
    if isinstance(codes, np.ndarray):
        decoded = lp.decode(torch.from_numpy(codes.astype(np.int64)), fmt)
        assert isinstance(decoded, torch.Tensor)
        np.testing.assert_array_equal(decoded.numpy(), lp.quantize(x, fmt))


@pytest.mark.parametrize("to_tensor", [np.asarray, torch.from_numpy], ids=["numpy", "torch"])
def test_infinities_in_a_bfp_block_encode_to_saturated_mantissas(to_tensor):
    """An infinity saturates its BFP block (E = 127): +inf to mantissa 127, finite in float32;
    -inf to mantissa -128, -2^128, which is -inf in float32 again. Codes and decoded values
    say exactly that, without a warning about casting inf to an integer."""
    x = to_tensor(np.array([1.0, -np.inf, 2.0, np.inf], dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = lp.encode(x, "bfp8")
        decoded = lp.decode(codes, "bfp8")
    assert np.asarray(codes.codes).tolist() == [0, 0x80, 0, 0x7F]
    assert int(codes.exponents) == 127
    np.testing.assert_array_equal(np.asarray(decoded), lp.quantize(np.asarray(x), "bfp8"))
    assert np.asarray(decoded)[1] == -np.inf
