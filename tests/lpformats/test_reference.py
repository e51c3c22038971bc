"""quantize equals the exact rational reference (tests/lpformats/reference.py) bit for bit,
for every rounding mode, on formats chosen to exercise every rule: IEEE-style E3M2, a wide
E6M9, E2M1 without subnormals, custom biases, fn/fnuz/finite styles, saturating overflow,
wrapping and unsigned fixed point, block floating point in each layout, and MX variants.

Stochastic rounding is compared with the same random integers the kernel draws
(``lpformats.rng.random_bits``: element ``i`` in C order gets ``R_i``)."""

from __future__ import annotations

import numpy as np
import pytest

import lpformats as lp
from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from lpformats.rng import random_bits
from lpformats.testing.boundaries import boundary_values
from lpformats.testing.compare import assert_same_values
from tests.lpformats.reference import MODES, reference_quantize

SCALAR_FORMATS = [
    FloatFormat(3, 2),                                   # E3M2 ieee: inf and NaN
    FloatFormat(6, 9),                                   # wide exponent, 16 bits
    FloatFormat(2, 1, subnormals=False, style="finite"),  # E2M1 flushing subnormals
    FloatFormat(4, 3, style="fn"),                        # OCP E4M3: NaN beyond 464
    FloatFormat(4, 3, style="fn", overflow="saturate"),
    FloatFormat(5, 2, bias=16, style="fnuz"),
    FloatFormat(4, 3, bias=3, subnormals=False),          # custom bias, no subnormals
    FloatFormat(3, 0, style="finite"),                    # powers of two only
    FloatFormat(2, 3, style="finite"),
    FloatFormat(3, 4, overflow="saturate"),
    FixedPoint(12, 5, overflow="wrap"),
    FixedPoint(8, 6),
    FixedPoint(8, 3, signed=False),
    FixedPoint(6, -2, overflow="wrap"),
    FixedPoint(4, 2, signed=False, overflow="wrap"),
]


def _stochastic_bits(x: np.ndarray, seed: int, nbits: int, counter: int = 0) -> np.ndarray:
    """``R`` per element of a C-ordered tensor, as the kernel draws it."""
    return random_bits(seed, x.size, nbits, counter=counter).reshape(x.shape)


@pytest.mark.parametrize("fmt", SCALAR_FORMATS, ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_formats_match_reference(fmt, mode, dtype):
    x = boundary_values(fmt, dtype=dtype, limit=600, nan=False)
    nbits = 53 if dtype == np.float64 else 5
    rand = _stochastic_bits(x, 17, nbits) if mode == "stochastic" else None
    got = lp.quantize(x, fmt, mode, seed=17, stochastic_bits=nbits)
    assert got.dtype == dtype
    expected = reference_quantize(x, fmt, mode, rand, nbits).astype(dtype)
    assert_same_values(got, expected, x, f"{fmt} {mode}")


def test_fixed_point_nan_zero_matches_reference():
    x = np.array([1.5, np.nan, -0.25, np.nan], dtype=np.float32)
    fmt = FixedPoint(8, 2)
    assert_same_values(lp.quantize(x, fmt, nan="zero"), reference_quantize(x, fmt, nan="zero"), x)


def _block_inputs(shape: tuple[int, ...], seed: int, dtype=np.float32) -> np.ndarray:
    """Structured block-format inputs: per row a random power-of-two magnitude, values on
    a grid finer than any tested step (so ties occur), a block max just below a power of
    two, zero rows, tiny and huge rows."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-512, 513, size=shape).astype(np.float64) / 64
    scale = np.ldexp(1.0, rng.integers(-20, 20, size=(*shape[:-1], 1)))
    x = x * scale
    flat = x.reshape(-1, shape[-1])
    flat[0, 0] = np.nextafter(np.float32(4.0), np.float32(0), dtype=np.float32)
    flat[1 % flat.shape[0], :] = 0.0
    flat[2 % flat.shape[0], :] *= 2.0**-120
    flat[3 % flat.shape[0], 1:] = np.nextafter(flat[3 % flat.shape[0], 1:].astype(dtype), np.inf)
    return x.astype(dtype)


BLOCK_FORMATS = [
    BlockFloat(6, block_size=4),
    BlockFloat(8),
    BlockFloat(5, block_axis=0),
    BlockFloat(4, block_axis=1, exp_bits=3),
    BlockFloat(3, block_axis=-1, exp_bits=4),
    MXFormat(FloatFormat(4, 3, style="fn")),
    MXFormat(FloatFormat(3, 2, style="finite"), block_size=8),
    MXFormat(FloatFormat(2, 1, style="finite"), block_size=4, axis=0),
    MXFormat(FixedPoint(8, 6), block_size=4),
    MXFormat(FloatFormat(5, 2), block_size=3, axis=1),
    MXFormat(FloatFormat(3, 2), block_size=5),
]


@pytest.mark.parametrize("fmt", BLOCK_FORMATS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_block_formats_match_reference(fmt, mode):
    x = _block_inputs((6, 5, 10), seed=3)
    nbits = 4
    rand = None
    if mode == "stochastic":
        if isinstance(fmt, MXFormat):  # element index: C order with the block axis moved last
            moved = np.moveaxis(x, fmt.axis, -1)
            rand = np.moveaxis(_stochastic_bits(moved, 5, nbits), -1, fmt.axis)
        else:
            rand = _stochastic_bits(x, 5, nbits)
    got = lp.quantize(x, fmt, mode, seed=5, stochastic_bits=nbits)
    expected = reference_quantize(x, fmt, mode, rand, nbits).astype(x.dtype)
    assert_same_values(got, expected, x, f"{fmt} {mode}")


@pytest.mark.parametrize("fmt", [BlockFloat(6, block_size=4), MXFormat(FloatFormat(3, 2), block_size=4)],
                         ids=str)
def test_block_formats_special_values_match_reference(fmt):
    """Inf saturates a BFP block (E at its maximum); in MX an Inf or NaN poisons the block;
    ``nan="zero"`` maps NaN elements to 0 before the block maximum is taken. (A saturated
    BFP Inf, ``-2**(wl-1) * 2**(127+2-wl) = -2**128``, is -inf again in float32.)"""
    x = np.array([[1.0, np.inf, 0.5, -3.0], [2.0, np.nan, -0.75, 0.1], [-np.inf, 0.0, -0.0, 1e-3],
                  [-0.0, 0.0, 0.0, -0.0]], dtype=np.float32)
    for nan in ("zero", None):
        if isinstance(fmt, BlockFloat) and nan is None:
            continue
        got = lp.quantize(x, fmt, nan=nan)
        with np.errstate(over="ignore"):
            expected = reference_quantize(x, fmt, nan=nan).astype(np.float32)
        assert_same_values(got, expected, x, f"{fmt} nan={nan}")


def test_float64_inputs_beyond_float32_range_match_reference():
    """MX scale clamping at +-127 and BFP exponent clamping need float64 inputs to reach."""
    x = np.array([[2.0**140, 3.0 * 2.0**138, 1.0, -2.0**135], [2.0**-140, -2.0**-150, 2.0**-145, 0.0]])
    for fmt in (MXFormat(FloatFormat(4, 3, style="fn"), block_size=4), BlockFloat(8, block_size=4),
                BlockFloat(6, block_size=2, exp_bits=4)):
        for mode in MODES[:5]:
            got = lp.quantize(x, fmt, mode)
            assert_same_values(got, reference_quantize(x, fmt, mode), x, f"{fmt} {mode}")


def test_stochastic_rounding_of_tiny_negative_values_uses_its_random_bits():
    """Regression: ``frac(y) = y - floor(y)`` rounds to 1 for tiny negative ``y``, which made
    every draw round up; ``floor(y + R/2**r)`` goes down exactly when ``R = 0``."""
    x = np.full(64, -1e-30, dtype=np.float32)
    got = lp.quantize(x, "fp8_e4m3", "stochastic", seed=9, stochastic_bits=1)
    R = random_bits(9, x.size, 1)
    assert 0 < (R == 0).sum() < x.size
    assert_same_values(got, np.where(R == 0, -(2.0**-9), -0.0).astype(np.float32), x)


def test_directed_rounding_survives_underflow_of_the_scaled_value():
    """Regression: ``x * 2**fl`` underflowed to 0 for float64 subnormals, so ``down`` of a
    tiny negative value gave 0 instead of the step below it."""
    x = np.array([-5e-324, 5e-324, -1e-320])
    assert_same_values(lp.quantize(x, FixedPoint(6, -2), "down"), [-4.0, 0.0, -4.0], x)
    assert_same_values(lp.quantize(x, FixedPoint(6, -2), "up"), [0.0, 4.0, 0.0], x)
    mx = MXFormat(FloatFormat(4, 3, style="fn"), block_size=3)
    big = np.array([2.0**200, -5e-324, 5e-324])
    tiny = 2.0**-9 * 2.0**127
    assert_same_values(lp.quantize(big, mx, "down"), [448 * 2.0**127, -tiny, 0.0], big)
