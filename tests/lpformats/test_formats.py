"""Format objects: spelling round trips, presets equal to ml_dtypes' types, reported facts
(bits, largest/smallest values, eps, ``values()``), hashing and immutability."""

from __future__ import annotations

import dataclasses

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lpformats as lp
from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from lpformats.spelling import PRESETS
from lpformats.testing.strategies import any_formats, float_formats

#: MX with any small float element (not only the OCP ones) or the 8-bit integer element.
mx_any_element = st.builds(
    MXFormat, st.one_of(float_formats(), st.just(FixedPoint(8, 6))), st.integers(1, 64), st.integers(-3, 2)
)

#: Float presets and the ml_dtypes/numpy type they equal.
ML_TYPES = {
    "fp16": np.float16, "bf16": ml_dtypes.bfloat16, "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2, "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "fp8_e3m4": ml_dtypes.float8_e3m4,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn, "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn, "fp32": np.float32,
}


@given(fmt=st.one_of(any_formats(), mx_any_element))
def test_str_parses_back_to_an_equal_format(fmt):
    text = str(fmt)
    assert lp.parse(text) == fmt
    assert lp.parse(text.upper().replace(",", " , ")) == fmt  # case and spaces do not matter
    assert hash(lp.parse(text)) == hash(fmt)


@pytest.mark.parametrize("text, expected", [
    ("fixed(12,5,wrap)", FixedPoint(12, 5, overflow="wrap")),
    ("fixed(8,3,unsigned)", FixedPoint(8, 3, signed=False)),
    ("float(3,2)", FloatFormat(3, 2)),
    ("float(4,3,bias=8,style=fnuz,subnormals=false,overflow=saturate)",
     FloatFormat(4, 3, bias=8, subnormals=False, style="fnuz", overflow="saturate")),
    ("bfp(6,block=4,exp=5)", BlockFloat(6, block_size=4, exp_bits=5)),
    ("bfp(8,axis=0)", BlockFloat(8, block_axis=0)),
    ("mx(float(4,3,style=fn),block=16,axis=0)", MXFormat(FloatFormat(4, 3, style="fn"), 16, 0)),
    ("mx(fp6_e2m3)", MXFormat(FloatFormat(2, 3, style="finite"))),
])
def test_generic_spellings(text, expected):
    assert lp.parse(text) == expected


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_prints_as_its_name(name):
    assert str(PRESETS[name]) == name and lp.parse(name) is PRESETS[name]


@pytest.mark.parametrize("name", list(ML_TYPES))
def test_float_presets_report_the_facts_of_their_ml_dtypes_type(name):
    fmt, info = lp.parse(name), ml_dtypes.finfo(ML_TYPES[name])
    assert fmt.bits == info.bits
    assert fmt.max_value == float(info.max)
    assert fmt.smallest_normal == float(info.smallest_normal)
    assert fmt.smallest_subnormal == float(info.smallest_subnormal)
    assert fmt.eps == float(info.eps)


@pytest.mark.parametrize("name", [n for n in ML_TYPES if lp.parse(n).bits <= 16])
def test_values_are_every_value_of_the_ml_dtypes_type(name):
    fmt, dtype = lp.parse(name), np.dtype(ML_TYPES[name])
    codes = np.arange(1 << fmt.bits, dtype=np.uint16 if dtype.itemsize == 2 else np.uint8)
    with np.errstate(invalid="ignore"):  # signalling-NaN codes warn when widened
        theirs = codes.view(dtype).astype(np.float64)
    np.testing.assert_array_equal(fmt.values(), np.unique(theirs[~np.isnan(theirs)]))


def test_fixed_point_facts():
    fmt = FixedPoint(8, 6)
    assert (fmt.bits, fmt.max_value, fmt.min_value, fmt.eps) == (8, 127 / 64, -2.0, 1 / 64)
    assert fmt.values().tolist() == [k / 64 for k in range(-128, 128)]
    assert FixedPoint(4, 0, signed=False).values().tolist() == list(range(16))


def test_block_formats_count_their_shared_exponents():
    assert lp.parse("mxfp8_e4m3").bits_per_element() == 8 + 8 / 32
    assert lp.parse("mxfp4").block_bits() == 32 * 4 + 8
    assert lp.parse("bfp(8,block=16)").bits_per_element() == 8 + 8 / 16
    assert lp.parse("bfp8").bits_per_element((4, 64)) == 8 + 8 / 256
    assert lp.parse("bfp(8,axis=0)").bits_per_element((4, 64)) == 8 + 4 * 8 / 256
    with pytest.raises(ValueError, match="pass the tensor shape"):
        lp.parse("bfp8").bits_per_element()
    assert lp.parse("bfp(4,exp=3)").values(1).tolist() == [k * 0.5 for k in range(-8, 8)]
    assert lp.parse("mxfp4").values(-1).max() == 3.0


def test_values_is_limited_to_16_bits():
    with pytest.raises(ValueError, match="at most 16 bits"):
        lp.parse("fp32").values()
    with pytest.raises(ValueError, match="at most 16 bits"):
        FixedPoint(17, 0).values()


def test_formats_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        lp.parse("fp8_e4m3").man = 2  # type: ignore[misc]
    assert len({FloatFormat(4, 3, style="fn"), lp.parse("fp8_e4m3"), lp.parse("float(4,3,style=fn)")}) == 1
