"""float32 tensors rounded ``nearest`` or ``stochastic`` run on float32 lanes
(``lpformats._elements32``, ``_kernel.quantize_blocks32``): the results are the float64
kernels' bits, for every float32 bit pattern (NaN payloads, signalling NaNs, infinities,
subnormals), for blocks whose shared exponent is far above some of their elements, and for
stochastic rounding with 1, 2 or 53 random bits (few bits make a zero random number common,
where the sign of a tiny scaled value decides). Oracle: the same call on the float64 copy
of the tensor, cast back (float64 kernels, exact on float32 values)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lpformats as lp
from lpformats.formats import FloatFormat, MXFormat
from lpformats.rounding import rounding_code
from lpformats.testing.strategies import any_formats

lp_quantize = importlib.import_module("lpformats.quantize")

PRESETS = ("fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp8_e4m3fnuz", "fp8_e5m2fnuz", "fp8_e3m4",
           "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8", "int16", "bfp8", "bfp(8,axis=0)",
           "bfp(8,block=32)", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8")
SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)


def any_float32_bits(shape=SHAPES) -> st.SearchStrategy:
    """float32 arrays of arbitrary bit patterns: every class of value, NaN payloads included."""
    patterns = hnp.arrays(np.uint32, shape, elements=st.integers(0, 2**32 - 1))
    return patterns.map(lambda a: a.view(np.float32))


def wide_scale_arrays(shape=SHAPES) -> st.SearchStrategy:
    """float32 arrays whose elements span every binade (``m * 2**e``, e from -149 to 127), so
    that blocks hold huge next to tiny values."""
    element = st.tuples(st.integers(-(2**24), 2**24), st.integers(-149, 103)).map(
        lambda me: np.float32(np.ldexp(float(me[0]), me[1])))
    return hnp.arrays(np.float32, shape, elements=element)


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 2.0**-149, -(2.0**-149), 2.0**-126,
                    3.4028235e38, -3.4028235e38, 448, 464, 480, -464, 0.5, 1.5, 2.5, -2.5, 57344,
                    61440, 65520, 1 / 3, -1 / 3], dtype=np.float32)
SIGNALLING_NANS = np.array([0x7F800001, 0xFFA00005, 0x7F812345], dtype=np.uint32).view(np.float32)


def nan_choice(fmt) -> str:
    """``propagate`` where the format has a NaN (NaN inputs then keep their payload), else ``zero``."""
    has_nan = isinstance(fmt, MXFormat) or (isinstance(fmt, FloatFormat) and fmt.has_nan)
    return "propagate" if has_nan else "zero"


def assert_float64_kernel_bits(x32: np.ndarray, fmt, mode: str, **kwargs) -> None:
    """``quantize`` of ``x32`` has the bits of ``quantize`` of its float64 copy, or both
    raise the same error."""
    try:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and out-of-range values cast back
            expected = lp.quantize(x32.astype(np.float64), fmt, mode, **kwargs).astype(np.float32)
    except ValueError as error:
        with pytest.raises(ValueError, match=str(error).replace("(", r"\(").replace(")", r"\)")):
            lp.quantize(x32, fmt, mode, **kwargs)
        return
    got = lp.quantize(x32, fmt, mode, **kwargs)
    differ = got.view(np.uint32) != expected.view(np.uint32)
    assert not differ.any(), (str(fmt), mode, kwargs, x32[differ][:5], got[differ][:5], expected[differ][:5])


def runs_on_float32_lanes(fmt, mode: str, shape=(4, 64)) -> bool:
    fmt = lp.parse(fmt)
    plan = lp_quantize.plan_blocks(np.zeros(shape, np.float32), fmt)
    return lp_quantize.float32_lanes_fit(fmt, plan, rounding_code(mode), np.dtype(np.float32))


@pytest.mark.parametrize("fmt", PRESETS)
def test_presets_run_on_float32_lanes(fmt):
    assert runs_on_float32_lanes(fmt, "nearest") and runs_on_float32_lanes(fmt, "stochastic")


@pytest.mark.parametrize(("fmt", "mode"), [("fixed(12,5,wrap)", "nearest"), ("fp8_e4m3", "down"),
                                           ("fixed(32,0)", "nearest"), ("bfp(8,exp=10)", "nearest"),
                                           ("float(8,23,bias=100)", "nearest")])
def test_other_cases_stay_on_float64_lanes(fmt, mode):
    assert not runs_on_float32_lanes(fmt, mode)


@pytest.mark.parametrize("fmt", PRESETS)
@pytest.mark.parametrize(("mode", "bits"), [("nearest", None), ("stochastic", None), ("stochastic", 1)])
def test_special_values_and_signalling_nans(fmt, mode, bits):
    fmt = lp.parse(fmt)
    x = np.concatenate([SPECIAL, SIGNALLING_NANS, -SPECIAL]).reshape(1, -1)
    assert_float64_kernel_bits(x, fmt, mode, seed=3, nan=nan_choice(fmt), stochastic_bits=bits)


@given(fmt=st.one_of(any_formats(), st.sampled_from(PRESETS).map(lp.parse)),
       x=st.one_of(any_float32_bits(), wide_scale_arrays()),
       mode=st.sampled_from(["nearest", "stochastic"]), bits=st.sampled_from([None, 1, 2]),
       seed=st.integers(0, 2**64 - 1))
def test_float32_lanes_give_the_float64_kernels_bits(fmt, x, mode, bits, seed):
    assert_float64_kernel_bits(x, fmt, mode, seed=seed, nan=nan_choice(fmt), stochastic_bits=bits)


ISA_PROBE = """
import hashlib, numpy as np, lpformats as lp
x = np.random.default_rng(1).standard_normal((64, 96)).astype(np.float32) * np.float32(3.0)
x[0, :8] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, 3.4e38, -1e-40]
for fmt in ("fp8_e4m3", "bf16", "int8", "bfp8", "bfp(8,block=32)", "mxfp8_e4m3", "mxfp4"):
    for mode in ("nearest", "stochastic", "down"):
        q = lp.quantize(x, fmt, mode, seed=5, nan="zero")
        print(fmt, mode, hashlib.sha256(q.tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_results_are_the_same_bits_with_avx2_code():
    """Numba compiling for AVX2 (haswell) gives the host build's bits (covered by
    ``python benchmarks/quantize.py``, which hashes every output on both ISAs)."""
    def run(env: dict[str, str]) -> str:
        return subprocess.run([sys.executable, "-c", ISA_PROBE], capture_output=True, text=True, check=True,
                              env={**os.environ, **env}).stdout

    host = run({})
    assert host.count("\n") == 21
    assert run({"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": ""}) == host


@given(dtype=st.sampled_from([np.float32, np.float64]), data=st.data())
def test_block_maxima_are_the_largest_magnitude_ignoring_nan_with_the_nans_counted(dtype, data):
    """``block_max_abs`` (integer bit-pattern maxima, float32 or float64 lanes) per block of 7
    against the numpy statement of the result, ``_kernel._max_abs``'s Python body."""
    from lpformats import _kernel

    x = data.draw(hnp.arrays(dtype, (3, 20), elements=hnp.from_dtype(np.dtype(dtype))))
    amax = np.empty(3 * 3)
    nans = _kernel.block_max_abs(x, 7, amax)
    expected = [_kernel._max_abs(x[r, start:start + 7]) for r in range(3) for start in (0, 7, 14)]
    assert amax.tolist() == [m for m, _ in expected]
    assert nans == sum(n for _, n in expected)
