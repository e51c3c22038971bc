"""Bad input is refused with a ``ValueError``/``TypeError`` that names the argument and what
was expected, and nothing is written when an error is raised (issue #2, "Bad input")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lpformats as lp
from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat

#: Formats without a NaN (fixed point, FP4, BFP mantissas): NaN raises by default.
WITHOUT_NAN = ["int8", "fixed(12,5,wrap)", "fp4_e2m1", "bfp8", "bfp(6,axis=0)", "bfp(6,block=2)"]
#: Formats with a NaN (floats, MX scales) propagate it by default; ``nan="raise"`` refuses it.
WITH_NAN = ["fp8_e4m3", "mxint8", "mx(fp4_e2m1,block=2,axis=0)"]
FORMAT_FAMILIES = WITHOUT_NAN + WITH_NAN


@pytest.mark.parametrize("make, error, message", [
    (lambda: FixedPoint(1, 0), ValueError, r"wl must be in \[2, 32\].*got 1"),
    (lambda: FixedPoint(33, 0), ValueError, r"wl must be in \[2, 32\].*got 33"),
    (lambda: FixedPoint(8.0, 0), TypeError, r"wl must be an integer.*got 8\.0"),
    (lambda: FixedPoint(8, 0, overflow="clip"), ValueError, r"overflow must be one of 'saturate', 'wrap'"),
    (lambda: FloatFormat(0, 3), ValueError, r"exp must be in \[1, 11\].*got 0"),
    (lambda: FloatFormat(12, 3), ValueError, r"exp must be in \[1, 11\].*got 12"),
    (lambda: FloatFormat(4, -1), ValueError, r"man must be in \[0, 52\].*got -1"),
    (lambda: FloatFormat(4, 53), ValueError, r"man must be in \[0, 52\].*got 53"),
    (lambda: FloatFormat(4, "3"), TypeError, r"man must be an integer"),
    (lambda: FloatFormat(1, 1), ValueError, r"exp=1 with style 'ieee' leaves no normal numbers"),
    (lambda: FloatFormat(4, 3, bias=2000), ValueError, r"bias=2000 puts the values.*outside float64"),
    (lambda: FloatFormat(4, 3, bias=5000), ValueError, r"bias must be in"),
    (lambda: FloatFormat(4, 0), ValueError, r"man must be >= 1 for style 'ieee'"),
    (lambda: FloatFormat(4, 3, style="ocp"), ValueError,
     r"style must be one of 'ieee', 'fn', 'fnuz', 'finite'; got 'ocp'"),
    (lambda: BlockFloat(1), ValueError, r"wl must be in \[2, 32\]"),
    (lambda: BlockFloat(8, block_size=0), ValueError, r"block_size must be in \[1, .*got 0"),
    (lambda: BlockFloat(8, exp_bits=0), ValueError, r"exp_bits must be in \[1, 10\]"),
    (lambda: BlockFloat(8, block_axis=0, block_size=4), ValueError, r"block_axis or block_size, not both"),
    (lambda: MXFormat("fp8_e4m3", block_size=0), ValueError, r"block_size must be in \[1, .*got 0"),
    (lambda: MXFormat(FixedPoint(8, 6, signed=False)), ValueError, r"MX integer elements must be signed"),
    (lambda: MXFormat(FloatFormat(11, 3)), ValueError, r"MX float elements have at most 8 exponent bits"),
    (lambda: lp.parse("fp7"), ValueError, r"unknown format 'fp7': expected a preset \(fp32, "),
    (lambda: lp.parse("fixed(8)"), ValueError, r"expected fixed\(WL,FL"),
    (lambda: lp.parse("float(4,x)"), ValueError, r"MAN must be an integer, got 'x'"),
    (lambda: lp.parse("float(4,3,foo=1)"), ValueError, r"unknown option\(s\) foo"),
    (lambda: lp.parse(8), TypeError, r"fmt must be a format object or its text spelling, got int"),
], ids=lambda v: getattr(v, "__name__", str(v))[:40])
def test_invalid_format_parameters(make, error, message):
    with pytest.raises(error, match=message):
        make()


def _x() -> np.ndarray:
    return np.array([[0.5, -1.25, 3.0], [2.0, 0.0, -0.75]], dtype=np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda x: lp.quantize(x, BlockFloat(8, block_axis=2)), ValueError,
     r"axis 2 of bfp\(8, axis=2\) does not exist in a tensor with 2 dimension"),
    (lambda x: lp.quantize(x, MXFormat("fp4_e2m1", axis=-3)), ValueError,
     r"axis -3 of .* does not exist in a tensor with 2 dimension"),
    (lambda x: lp.quantize(x, "int8", "nearest_even"), ValueError,
     r"rounding must be one of 'nearest', 'nearest_away', 'zero', 'down', 'up', 'stochastic'; "
     r"got 'nearest_even'"),
    (lambda x: lp.quantize(x, "int8", "stochastic", stochastic_bits=0), ValueError,
     r"stochastic_bits must be in \[1, 53\], got 0"),
    (lambda x: lp.quantize(x, "int8", "stochastic", stochastic_bits=2.5), TypeError,
     r"stochastic_bits must be an integer"),
    (lambda x: lp.quantize(x, "int8", "stochastic", seed=-1), ValueError, r"seed must be in \[0, 2\*\*64\)"),
    (lambda x: lp.quantize(x, "int8", nan="drop"), ValueError,
     r"nan must be one of 'raise', 'zero', 'propagate'"),
    (lambda x: lp.quantize(x, "int8", nan="propagate"), ValueError,
     r"nan='propagate' needs a format with a NaN"),
    (lambda x: lp.quantize(x, "int8", out=np.zeros(3, np.float32)), ValueError, r"out must match x in shape"),
    (lambda x: lp.quantize(x, "int8", out=torch.zeros(2, 3)), TypeError, r"out must be a ndarray like x"),
    (lambda x: lp.quantize(x.tolist(), "int8"), TypeError, r"x must be a float16/float32/float64 .*got list"),
    (lambda x: lp.decode(x, "int8"), TypeError, r"codes must be an integer array, got float32"),
    (lambda x: lp.decode(np.zeros(3, np.uint8), "bfp8"), TypeError, r"must be a \(codes, exponents\) pair"),
])
def test_invalid_call_arguments_leave_the_input_unchanged(call, error, message):
    x = _x()
    before = x.copy()
    with pytest.raises(error, match=message):
        call(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("x", [
    np.arange(6, dtype=np.int32), np.arange(6, dtype=np.uint8), np.ones(6, dtype=bool),
    np.ones(6, dtype=np.complex64), torch.arange(6), torch.ones(6, dtype=torch.complex64),
], ids=["int32", "uint8", "bool", "complex64", "torch.int64", "torch.complex64"])
@pytest.mark.parametrize("fn", [lp.quantize, lp.encode])
def test_integer_bool_and_complex_tensors_are_refused(fn, x):
    with pytest.raises(TypeError, match=r"x must have a floating dtype \(a float16/float32/float64 .*; got"):
        fn(x, "fp8_e4m3")


class _FakeCudaTensor(torch.Tensor):
    """A CPU tensor that reports a CUDA device (the check reads ``.device`` only)."""

    @property
    def device(self):
        return torch.device("cuda", 0)


@pytest.mark.parametrize("fn", [lp.quantize, lp.encode])
def test_the_numba_backend_refuses_tensors_outside_host_memory(fn):
    fake = torch.ones(4).as_subclass(_FakeCudaTensor)
    with pytest.raises(TypeError, match=r"backend='numba' runs on host memory; x is a torch tensor on cuda"):
        fn(fake, "fp8_e4m3", backend="numba")
    with pytest.raises(TypeError, match=r"backend='numba' runs on host memory; x is a torch tensor on meta"):
        fn(torch.ones(4, device="meta"), "fp8_e4m3", backend="numba")


def test_non_cpu_out_is_refused_for_a_host_input():
    x = torch.ones(4)
    out = torch.zeros(4).as_subclass(_FakeCudaTensor)
    with pytest.raises(TypeError, match=r"out is on cuda:0; the Numba kernels write host memory only"):
        lp.quantize(x, "int8", out=out)


def _with_nans() -> np.ndarray:
    x = np.linspace(-3, 3, 24).reshape(4, 6)
    x[1, 4] = x[3, 0] = x[3, 5] = np.nan
    return x


@pytest.mark.parametrize("fmt", FORMAT_FAMILIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_into_a_format_without_nan_reports_count_and_first_index(fmt, dtype):
    nan = None if fmt in WITHOUT_NAN else "raise"
    x = _with_nans().astype(dtype)
    for call in (lambda: lp.quantize(x, fmt, nan=nan), lambda: lp.encode(x, fmt, nan=nan)):
        with pytest.raises(ValueError, match=r"x contains 3 NaN value\(s\), the first at index \(1, 4\);"
                                             r".*pass nan='zero' to map NaN to 0"):
            call()


@pytest.mark.parametrize("fmt", FORMAT_FAMILIES)
def test_nan_zero_maps_nan_to_zero_and_quantizes_the_rest(fmt):
    x = _with_nans()
    nans = np.isnan(x)
    q = lp.quantize(x, fmt, nan="zero")
    assert (q[nans] == 0).all()
    np.testing.assert_array_equal(q[~nans], lp.quantize(np.where(nans, 0.0, x), fmt)[~nans])


@pytest.mark.parametrize("fmt", FORMAT_FAMILIES)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_nothing_is_written_in_place_when_nan_raises(fmt, kind):
    x = _with_nans().astype(np.float32)
    x = torch.from_numpy(x) if kind == "torch" else x
    before = x.clone() if kind == "torch" else x.copy()
    with pytest.raises(ValueError, match=r"x contains 3 NaN"):
        lp.quantize(x, fmt, nan="raise", out=x)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(before))
