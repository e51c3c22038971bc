"""Bit-exactness against ml_dtypes 0.6 (and numpy's float16): ``quantize(x, fmt)`` with
``nearest`` and the style's default overflow equals the oracle's float32 -> format -> float32
round trip, and ``encode`` equals the oracle's bit patterns.

Inputs: every float32 whose upper 16 bits take all 2**16 values, with the lower 16 bits zero,
all ones and random (so every exponent, sign, NaN, Inf, zero and subnormal), plus each
format's rounding boundaries and the nearest float32 on both sides of them.

Caveats of the oracles, checked here as facts rather than worked around silently:

* ml_dtypes casts float64 through float32 (double rounding), so float64 inputs are compared
  with it only where they are float32 numbers, and with the exact reference elsewhere.
* numpy's float16 cast keeps NaN payload bits; our NaN codes are canonical (quiet, sign kept).
* FP6/FP4 have no NaN: ml_dtypes maps NaN to an arbitrary code, we raise (``nan=`` rule), so
  NaN is left out of their sweeps.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import lpformats as lp
from lpformats.testing.boundaries import boundary_values
from lpformats.testing.compare import assert_same_values
from tests.lpformats.reference import reference_quantize

ORACLES = {
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "fp8_e3m4": ml_dtypes.float8_e3m4,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
    "bf16": ml_dtypes.bfloat16,
    "fp16": np.float16,
}


def _sweep_float32() -> np.ndarray:
    """3 * 2**16 float32: all upper halves with lower halves zero, all ones and random."""
    upper = np.arange(1 << 16, dtype=np.uint32) << 16
    lower = np.random.default_rng(2).integers(0, 1 << 16, size=1 << 16, dtype=np.uint32)
    return np.concatenate([upper, upper | 0xFFFF, upper | lower]).view(np.float32)


SWEEP = _sweep_float32()


def _inputs(name: str, dtype=np.float32) -> np.ndarray:
    fmt = lp.parse(name)
    with np.errstate(invalid="ignore"):
        x = np.concatenate([SWEEP.astype(dtype), boundary_values(fmt, dtype=dtype, limit=4000)])
    return x if fmt.has_nan else x[~np.isnan(x)]


def _code_view(values: np.ndarray) -> np.ndarray:
    return values.view(np.uint8 if values.itemsize == 1 else np.uint16)


@pytest.mark.parametrize("name", ORACLES)
def test_nearest_equals_oracle_round_trip(name):
    x = _inputs(name)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x.astype(ORACLES[name]).astype(np.float32)
    got = lp.quantize(x, name)
    assert got.dtype == np.float32
    assert_same_values(got, expected, x, name)


@pytest.mark.parametrize("name", ORACLES)
def test_encode_equals_oracle_bit_patterns(name):
    x = _inputs(name)
    with np.errstate(over="ignore", invalid="ignore"):
        oracle = _code_view(x.astype(ORACLES[name]))
    codes = lp.encode(x, name)
    assert codes.dtype == oracle.dtype and codes.shape == x.shape
    if name == "fp16":  # numpy keeps NaN payloads: compare the rest, NaN must be canonical
        nan = np.isnan(x)
        np.testing.assert_array_equal(codes[~nan], oracle[~nan])
        np.testing.assert_array_equal(codes[nan], np.where(np.signbit(x[nan]), 0xFE00, 0x7E00))
    else:
        np.testing.assert_array_equal(codes, oracle)


@pytest.mark.parametrize("name", ORACLES)
def test_decode_of_every_code_equals_oracle(name):
    fmt = lp.parse(name)
    codes = np.arange(1 << fmt.bits, dtype=np.uint8 if fmt.bits <= 8 else np.uint16)
    expected = codes.view(ORACLES[name]).astype(np.float32)
    assert_same_values(lp.decode(codes, name), expected, codes, name)


@pytest.mark.parametrize("name", ORACLES)
def test_float64_inputs(name):
    """float64 inputs that are float32 numbers match the oracle; float64 inputs next to the
    rounding boundaries (where ml_dtypes' float32 detour double-rounds) match the exact
    reference."""
    fmt = lp.parse(name)
    with np.errstate(invalid="ignore"):
        x = _inputs(name).astype(np.float64)  # float32 numbers: the oracle is exact on them
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x.astype(ORACLES[name]).astype(np.float64)
    got = lp.quantize(x, name)
    assert got.dtype == np.float64
    assert_same_values(got, expected, x, name)
    near = boundary_values(fmt, dtype=np.float64, limit=300, nan=fmt.has_nan)
    assert_same_values(lp.quantize(near, name), reference_quantize(near, fmt), near, name)


def test_ml_dtypes_double_rounds_float64_which_we_do_not():
    """Documents the oracle caveat: 2**-10 * (1 + 1e-9) lies above the midpoint between 0 and
    E4M3's smallest subnormal 2**-9, so it rounds up; ml_dtypes goes through float32, lands
    exactly on the midpoint and rounds to even (0)."""
    x = np.array([2.0**-10 * (1 + 1e-9)])
    assert x.astype(ml_dtypes.float8_e4m3fn).astype(np.float64)[0] == 0.0
    assert lp.quantize(x, "fp8_e4m3")[0] == 2.0**-9


@pytest.mark.parametrize("name", ORACLES)
def test_float16_inputs(name):
    """All 2**16 float16 inputs (NaN left out for formats without NaN); the result stays
    float16 (bf16 values beyond float16's range become inf there, as the oracle's do)."""
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    if not lp.parse(name).has_nan:
        x = x[~np.isnan(x)]
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x.astype(np.float32).astype(ORACLES[name]).astype(np.float32).astype(np.float16)
    with np.errstate(over="ignore"):
        got = lp.quantize(x, name)
    assert got.dtype == np.float16
    assert_same_values(got, expected, x, name)


def test_special_values_explicitly():
    """NaN, +-Inf, +-0, float32 subnormals and the E4M3 overflow threshold 464 in one table."""
    below, above = np.nextafter(np.float32(464), np.float32([0, 1e9]))
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 2.0**-10, 464.0, below, above],
                 dtype=np.float32)
    for name in ("fp8_e4m3", "fp8_e5m2", "fp8_e4m3fnuz", "bf16", "fp16"):
        with np.errstate(over="ignore", invalid="ignore"):
            expected = x.astype(ORACLES[name]).astype(np.float32)
        assert_same_values(lp.quantize(x, name), expected, x, name)
    got = lp.quantize(x, "fp8_e4m3")
    assert got[8] == 448.0 and got[9] == 448.0 and np.isnan(got[10])
