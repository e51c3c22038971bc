"""The torch backend is the Numba kernels bit for bit: for every format family (fixed point,
floats of every style, BFP in every layout, MX), every rounding mode, stochastic rounding with
any number of random bits, special values (NaN, +-inf, -0, subnormals, overflow), odd shapes
and strides, float16/bfloat16/float32/float64 inputs: ``quantize``, ``encode`` and
``decode`` give the same bits, the same NaN errors, and results on the input's device.

Every test runs on CPU torch and, where a CUDA device exists, on CUDA (skipped otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lpformats as lp
from lpformats.backends import choose_backend
from lpformats.backends.torch_elements import random_integers
from lpformats.rng import random_bits, stream_key
from lpformats.rounding import ROUNDING_MODES
from lpformats.testing.strategies import any_formats

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA device on this machine (the same tests run on CUDA where one is)")),
]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
_INT_VIEW = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
             torch.float64: torch.int64}

#: Specials and boundary magnitudes mixed into every generated tensor.
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-40, -1e-45, 2.0**-126, 5e-324, 1e-310,
            3.4e38, -1e300, 448.0, 464.0, -464.0, 57344.0, 0.5, 1.5, -2.5, 2.0**-9, 6.0, 7.5]


@st.composite
def tensors(draw, allow_nan: bool = True) -> torch.Tensor:
    """Float64 tensors of 0 to 3 dimensions with specials, ties and wide magnitudes, seen
    through an odd stride or a transpose half of the time."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=7))
    specials = [v for v in SPECIALS if allow_nan or not np.isnan(v)]
    element = st.one_of(
        st.floats(-1e6, 1e6, allow_subnormal=True),
        st.floats(allow_nan=allow_nan, allow_infinity=True),
        st.integers(-4096, 4096).map(lambda k: k / 64.0),
        st.sampled_from(specials),
    )
    x = torch.from_numpy(draw(hnp.arrays(np.float64, shape, elements=element)))
    view = draw(st.sampled_from(["contiguous", "transposed", "strided"]))
    if view == "transposed" and x.dim() >= 2:
        x = x.transpose(0, -1)
    elif view == "strided" and x.dim() >= 1:
        x = torch.repeat_interleave(x, 2, dim=-1)[..., ::2]
    return x


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().contiguous().view(_INT_VIEW[t.dtype])


def _outcome(fn, *args, **kwargs):
    """``fn``'s result, or the error it raised (type and message) to compare."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        return type(err), str(err)


def _assert_same_tensors(numba_result, torch_result, device: str) -> None:
    if isinstance(numba_result, tuple) and isinstance(numba_result[0], type):
        assert torch_result == numba_result
        return
    if isinstance(numba_result, tuple):
        for a, b in zip(numba_result, torch_result, strict=True):
            _assert_same_tensors(a, b, device)
        return
    assert torch_result.device.type == device
    assert torch_result.dtype == numba_result.dtype and torch_result.shape == numba_result.shape
    if torch_result.dtype.is_floating_point:
        a, b = _bits(numba_result), _bits(torch_result)
    else:
        a, b = numba_result.to(torch.int64), torch_result.cpu().to(torch.int64)
    if not torch.equal(a, b):
        bad = (a != b).nonzero()[:5].tolist()
        raise AssertionError(f"differ at {bad}: numba {numba_result.reshape(-1)[:8]}, "
                             f"torch {torch_result.reshape(-1)[:8]}")


@pytest.mark.parametrize("device", DEVICES)
@given(fmt=any_formats(), x=tensors(), dtype=st.sampled_from(DTYPES),
       rounding=st.sampled_from(ROUNDING_MODES), seed=st.integers(0, 2**64 - 1),
       counter=st.integers(0, 2**20), nan=st.sampled_from([None, "zero"]),
       stochastic_bits=st.sampled_from([None, 1, 5, 23, 53]))
def test_quantize_and_encode_are_the_numba_kernels_bit_for_bit(device, fmt, x, dtype, rounding, seed,
                                                               counter, nan, stochastic_bits):
    x = x.to(dtype)
    kwargs = dict(seed=seed, counter=counter, nan=nan, stochastic_bits=stochastic_bits)
    on_device = x.to(device)
    for fn in (lp.quantize, lp.encode):
        expected = _outcome(fn, x, fmt, rounding, backend="numba", **kwargs)
        actual = _outcome(fn, on_device, fmt, rounding, backend="torch", **kwargs)
        _assert_same_tensors(expected, actual, device)


@pytest.mark.parametrize("device", DEVICES)
@given(fmt=any_formats(), x=tensors(), rounding=st.sampled_from(ROUNDING_MODES))
def test_decode_of_device_codes_is_decode_of_host_codes(device, fmt, x, rounding):
    """Host codes decode with numpy, device codes with torch: the same values."""
    codes = _outcome(lp.encode, x.numpy(), fmt, rounding, seed=7, nan="zero")
    if isinstance(codes, tuple) and isinstance(codes[0], type):  # a layout this tensor lacks
        return
    on_device = lp.BlockCodes(*(torch.as_tensor(c, device=device) for c in codes)) \
        if isinstance(codes, tuple) else torch.as_tensor(codes, device=device)
    for dtype in (np.float32, np.float64):
        expected = torch.as_tensor(lp.decode(codes, fmt, dtype=dtype))
        _assert_same_tensors(expected, lp.decode(on_device, fmt, dtype=dtype), device)


@pytest.mark.parametrize("device", DEVICES)
def test_the_random_stream_is_splitmix64_in_int64_arithmetic(device):
    """The int64 SplitMix64 draws the uint64 stream of :func:`lpformats.rng.random_bits`."""
    for seed, counter, nbits in [(0, 0, 53), (2**64 - 1, 5, 1), (12345, 2**40, 32), (2**63, 1, 63)]:
        expected = random_bits(seed, 1000, nbits, counter=counter, start=2**33)
        index = torch.arange(2**33, 2**33 + 1000, device=device)
        drawn = random_integers(stream_key(seed, counter), index, nbits).cpu().numpy()
        np.testing.assert_array_equal(drawn, expected.astype(np.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_results_stay_on_the_device_and_out_is_written_there(device):
    x = torch.linspace(-3, 3, 40, device=device).reshape(5, 8)
    out = torch.empty_like(x)
    result = lp.quantize(x, "bfp8", "stochastic", seed=1, out=out, backend="torch")
    assert result is out and out.device.type == device
    assert torch.equal(out.cpu(), lp.quantize(x.cpu(), "bfp8", "stochastic", seed=1, backend="numba"))
    codes = lp.encode(x, "mxfp8_e4m3", backend="torch")
    assert codes.codes.device.type == device and codes.exponents.device.type == device
    assert lp.decode(codes, "mxfp8_e4m3").device.type == device


def test_quantizing_in_place_keeps_the_input_until_the_result_is_ready():
    x = torch.linspace(-3, 3, 40, dtype=torch.float64)
    expected = lp.quantize(x, "fp4_e2m1", backend="numba")
    lp.quantize(x, "fp4_e2m1", out=x, backend="torch")
    assert torch.equal(x, expected)


def test_auto_keeps_numba_on_host_and_picks_torch_elsewhere():
    assert choose_backend(np.zeros(3), "auto") == "numba"
    assert choose_backend(torch.zeros(3), "auto") == "numba"
    assert choose_backend(torch.zeros(3, device="meta"), "auto") == "torch"
    assert choose_backend(torch.zeros(3), "torch") == "torch"


def test_bad_backend_choices_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"backend must be one of 'auto', 'numba', 'torch'; got 'cuda'"):
        lp.quantize(torch.zeros(3), "int8", backend="cuda")
    with pytest.raises(TypeError, match=r"backend='numba' runs on host memory; x is a torch tensor on meta"):
        lp.quantize(torch.zeros(3, device="meta"), "int8", backend="numba")
    with pytest.raises(TypeError, match=r"backend='torch' needs a torch tensor; x is ndarray"):
        lp.quantize(np.zeros(3), "int8", backend="torch")
    with pytest.raises(TypeError, match=r"x must have a floating dtype; got torch.int32"):
        lp.quantize(torch.zeros(3, dtype=torch.int32), "int8", backend="torch")
    with pytest.raises(ValueError, match=r"out must match x in shape, dtype and device"):
        lp.quantize(torch.zeros(3), "int8", out=torch.zeros(3, dtype=torch.float64), backend="torch")
