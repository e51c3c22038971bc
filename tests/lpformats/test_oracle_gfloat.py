"""MX formats against gfloat 0.5 (Graphcore's readable reference of the OCP formats) on finite
blocks: the scale ``2**(floor(log2(amax)) - emax)`` clamped to 2**[-127, 127], elements rounded
with saturation, every deterministic rounding mode, and stochastic rounding with the same
random bits (gfloat's ``StochasticFastest``: round away iff ``frac + R/2**r >= 1``).

gfloat rounds sign-magnitude (stochastic rounding of ``-x`` mirrors ``x``); ours is
``floor(y + R/2**r)`` on the signed value (DESIGN.md). Both are unbiased, but the same bits
give the same result only for non-negative inputs, so stochastic blocks are non-negative.
"""

from __future__ import annotations

import numpy as np
import pytest
from gfloat import RoundMode, compute_scale_amax, quantize_block, round_ndarray
from gfloat.formats import (
    format_info_mxfp4_e2m1,
    format_info_mxfp6_e2m3,
    format_info_mxfp6_e3m2,
    format_info_mxfp8_e4m3,
    format_info_mxfp8_e5m2,
    format_info_mxint8,
)

import lpformats as lp
from lpformats.rng import random_bits
from lpformats.testing.compare import assert_same_values

GFLOAT = {
    "mxfp8_e4m3": format_info_mxfp8_e4m3,
    "mxfp8_e5m2": format_info_mxfp8_e5m2,
    "mxfp6_e2m3": format_info_mxfp6_e2m3,
    "mxfp6_e3m2": format_info_mxfp6_e3m2,
    "mxfp4": format_info_mxfp4_e2m1,
    "mxint8": format_info_mxint8,
}
MODES = {
    "nearest": RoundMode.TiesToEven,
    "nearest_away": RoundMode.TiesToAway,
    "zero": RoundMode.TowardZero,
    "down": RoundMode.TowardNegative,
    "up": RoundMode.TowardPositive,
}


def _blocks(seed: int, rows: int = 24) -> np.ndarray:
    """Finite float32 blocks of 32: random magnitudes over many binades, values on a grid fine
    enough to hit ties, a maximum just below a power of two (where log2 in float32 is off by
    one), an all-zero block, a subnormal block and a block whose scale clamps at 2**127."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-4096, 4097, size=(rows, 32)) / 256.0
    x *= np.ldexp(1.0, rng.integers(-30, 30, size=(rows, 1)))
    x[0, 5] = np.nextafter(np.float32(8.0), np.float32(0))
    x[1] = 0.0
    x[2] = rng.standard_normal(32) * 1e-40
    x[3] = rng.standard_normal(32) * 1e38
    x[4, :] = np.float32(3.0) * np.ldexp(1.0, np.arange(-16, 16))  # one binade per element
    return x.astype(np.float32)


def _gfloat_quantize(name: str, x: np.ndarray, mode: str) -> np.ndarray:
    return np.stack([quantize_block(GFLOAT[name], row.astype(np.float64), compute_scale_amax, MODES[mode])
                     for row in x])


@pytest.mark.parametrize("name", GFLOAT)
@pytest.mark.parametrize("mode", MODES)
def test_finite_blocks_equal_gfloat(name, mode):
    x = _blocks(seed=len(name))
    assert_same_values(lp.quantize(x, name, mode), _gfloat_quantize(name, x, mode), x, f"{name} {mode}")


@pytest.mark.parametrize("name", GFLOAT)
@pytest.mark.parametrize("nbits", [3, 12])
def test_stochastic_blocks_equal_gfloat_with_the_same_bits(name, nbits):
    x = np.abs(_blocks(seed=7, rows=12))
    R = random_bits(11, x.size, nbits).reshape(x.shape)
    fi = GFLOAT[name]
    expected = np.empty(x.shape)
    for i, row in enumerate(x.astype(np.float64)):
        scale = compute_scale_amax(fi.etype.emax, row)
        rounded = round_ndarray(fi.etype, row / scale, RoundMode.StochasticFastest, sat=True,
                                srbits=R[i].astype(np.int64), srnumbits=nbits)
        expected[i] = rounded * scale
    got = lp.quantize(x, name, "stochastic", seed=11, stochastic_bits=nbits)
    assert_same_values(got, expected, x, f"{name} stochastic r={nbits}")


def test_blocks_with_inf_or_nan_differ_from_gfloat_by_design():
    """A block holding Inf or NaN becomes all NaN (NaN scale code 0xFF), as microxcaling does;
    gfloat instead clamps the scale to 2**127 and saturates the Inf element."""
    x = np.ones((2, 32), dtype=np.float32)
    x[0, 3] = np.inf
    x[1, 7] = np.nan
    got = lp.quantize(x, "mxfp8_e4m3")
    assert np.isnan(got).all()
    assert (lp.encode(x, "mxfp8_e4m3").exponents == 0xFF).all()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        theirs = quantize_block(GFLOAT["mxfp8_e4m3"], x[0].astype(np.float64), compute_scale_amax)
    assert theirs[3] == 448.0 * 2.0**127 and np.isfinite(theirs).all()
