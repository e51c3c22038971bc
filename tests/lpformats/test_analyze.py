"""lpformats.analyze: error statistics checked against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lpformats as lp
from lpformats.analyze import (
    DISTRIBUTIONS,
    LOG_UNIFORM_EXPONENTS,
    AnalysisTable,
    RangeCounts,
    bits_per_element,
    format_family,
    range_counts,
    sample,
)


def test_sqnr_of_8_bit_fixed_point_on_full_scale_uniform_input_is_6_02_db_per_bit():
    # Uniform input over the whole range [-1, 1): noise step**2/12, signal 1/3 -> SQNR = 20*log10(2**8).
    x = np.random.default_rng(0).uniform(-1.0, 1.0, 1 << 20)
    row = lp.analyze(x, "fixed(8,7)")["fixed(8,7)"]
    assert row.sqnr_db == pytest.approx(20 * math.log10(2**8), abs=0.1)  # 48.16 dB


def test_sqnr_of_8_bit_fixed_point_on_full_scale_sine_is_6_02n_plus_1_76_db():
    t = np.arange(1 << 20) * (2 * np.pi * 1000.37 / (1 << 20))
    x = np.sin(t) * (1 - 2**-7)  # full scale of fixed(8,7) without clipping
    row = lp.analyze(x, lp.FixedPoint(8, 7))["fixed(8,7)"]
    assert row.sqnr_db == pytest.approx(6.02 * 8 + 1.76, abs=0.1)
    assert row.frac_saturated == 0.0
    assert row.max_abs_error <= 2**-8  # half a step with round to nearest


def test_each_extra_bit_of_fixed_point_adds_about_6_db():
    x = np.random.default_rng(1).uniform(-1.0, 1.0, 1 << 18)
    table = lp.analyze(x, [f"fixed({w},{w - 1})" for w in (6, 7, 8, 9, 10)])
    gains = np.diff([row.sqnr_db for row in table])
    assert gains == pytest.approx([6.02] * 4, abs=0.15)


def test_hand_computed_errors_on_a_tiny_vector():
    # fixed(4,1): values k/2 for k in [-8, 7], i.e. -4 .. 3.5 in steps of 0.5.
    x = np.array([0.2, 0.3, -1.1, 5.0, -6.0, 0.0])
    row = lp.analyze(x, "fixed(4,1)")["fixed(4,1)"]
    q = np.array([0.0, 0.5, -1.0, 3.5, -4.0, 0.0])
    e = q - x
    assert row.mean_abs_error == pytest.approx(np.abs(e).mean())
    assert row.max_abs_error == pytest.approx(2.0)  # -6 clipped to -4
    assert row.bias == pytest.approx(e.mean())
    assert row.bias_stderr == pytest.approx(e.std(ddof=1) / math.sqrt(6))
    assert row.sqnr_db == pytest.approx(10 * math.log10((x**2).sum() / (e**2).sum()))
    assert row.frac_saturated == pytest.approx(2 / 6)  # 5.0 and -6.0
    assert row.frac_flushed == pytest.approx(1 / 6)  # 0.2 -> 0; the exact 0.0 is not "flushed"
    nonzero = x != 0
    assert row.mean_rel_error == pytest.approx((np.abs(e)[nonzero] / np.abs(x)[nonzero]).mean())
    assert row.max_rel_error == pytest.approx(1.0)  # 0.2 -> 0


def test_exact_values_have_infinite_sqnr_and_zero_error():
    row = lp.analyze(np.array([0.5, -1.0, 2.0]), "fp8_e4m3")["fp8_e4m3"]
    assert row.sqnr_db == math.inf
    assert row.max_abs_error == 0.0 and row.frac_saturated == 0.0 and row.frac_flushed == 0.0


def test_float_overflow_counts_as_saturated_and_subnormal_underflow_as_flushed():
    # fp8_e5m2 (ieee): max 57344, beyond the rounding threshold -> inf; smallest subnormal 2**-16.
    x = np.array([1e6, 1.0, 2.0**-19, -3.0])
    row = lp.analyze(x, "fp8_e5m2")["fp8_e5m2"]
    assert row.frac_saturated == pytest.approx(1 / 4)
    assert row.frac_flushed == pytest.approx(1 / 4)
    assert math.isfinite(row.max_abs_error)  # statistics over the finite results


def test_block_saturation_is_relative_to_the_block_exponent():
    # bfp(4): E = floor(log2(max|x|)) = 0, step 2**(0+2-4) = 0.25, k in [-8, 7] -> grid max 1.75.
    x = np.array([1.95, 1.0, -0.1])
    row = lp.analyze(x, "bfp(4)")["bfp(4)"]
    assert row.frac_saturated == pytest.approx(1 / 3)  # 1.95 -> 1.75
    assert row.frac_flushed == pytest.approx(1 / 3)  # -0.1 -> 0 (|x| < step/2)


def test_mx_saturation_per_block_and_bits_include_the_scale():
    # mxfp4 (E2M1, max 6): block max 7 -> scale 2**(2-2) = 1, so 7 saturates to 6.
    x = np.zeros((2, 32))
    x[0, 0], x[1, 0] = 7.0, 0.25
    row = lp.analyze(x, "mxfp4")["mxfp4"]
    assert row.frac_saturated == pytest.approx(1 / 64)
    assert row.bits_per_element == pytest.approx(4 + 8 / 32)


def test_bits_per_element_counts_shared_exponents_for_the_tensor_shape():
    assert bits_per_element("bfp(8,axis=0)", (4, 16)) == pytest.approx(8 + 8 * 4 / 64)
    assert bits_per_element("bfp(6,block=4)", (3, 8)) == pytest.approx(6 + 8 / 4)
    assert bits_per_element("fp8_e4m3", (10,)) == 8.0
    row = lp.analyze(np.ones((4, 16)), "bfp(8,axis=0)")["bfp(8,axis=0)"]
    assert row.bits_per_element == pytest.approx(8.5)


def test_stochastic_rounding_bias_is_within_its_standard_error_and_nearest_is_not_on_a_biased_input():
    # Every x sits 0.3 of a step above a grid point: nearest always rounds down (bias -0.3 step),
    # stochastic rounding is unbiased.
    step = 2.0**-6
    x = (np.arange(20000) % 50 - 25) * step + 0.3 * step
    near = lp.analyze(x, "fixed(8,6)")["fixed(8,6)"]
    sto = lp.analyze(x, "fixed(8,6)", "stochastic", seed=3)["fixed(8,6)"]
    assert near.bias == pytest.approx(-0.3 * step)
    assert abs(sto.bias) < 4 * sto.bias_stderr
    assert sto.bias_stderr > 0


def test_same_seed_same_numbers_and_torch_input_equals_numpy_input():
    x = np.random.default_rng(2).standard_normal((16, 32)).astype(np.float32)
    a = lp.analyze(x, ["bfp8", "mxfp6_e2m3"], "stochastic", seed=7).to_rows()
    b = lp.analyze(torch.from_numpy(x), ["bfp8", "mxfp6_e2m3"], "stochastic", seed=7).to_rows()
    assert a == b


def test_table_rows_text_and_lookup():
    x = np.random.default_rng(3).laplace(size=4096)
    table = lp.analyze(x, ["fixed(8,4)", lp.PRESETS["bf16"], "mxfp4"])
    assert isinstance(table, AnalysisTable) and len(table) == 3 and table.n == 4096
    rows = table.to_rows()
    assert [r["format"] for r in rows] == ["fixed(8, 4)", "bf16", "mxfp4"]
    assert [r["family"] for r in rows] == ["fixed", "float", "mx"]
    assert set(rows[0]) == set(AnalysisTable.columns())
    text = str(table)
    assert "SQNR dB" in text and "mxfp4" in text and len(text.splitlines()) == 5
    with pytest.raises(KeyError, match="not in this table"):
        table["fp16"]


def test_format_family_names():
    assert [format_family(f) for f in ("int8", "fp16", "bfp8", "mxint8")] == ["fixed", "float", "bfp", "mx"]


@pytest.mark.parametrize(
    ("x", "formats", "error", "match"),
    [
        (np.array([1.0, np.nan]), "fp16", ValueError, "x must be finite"),
        (np.array([]), "fp16", ValueError, "at least one element"),
        (np.ones(3), [], ValueError, "at least one format"),
        (np.ones(3), "fp9", ValueError, "unknown format"),
        (np.ones(3), [3.5], TypeError, "formats must be"),
    ],
)
def test_bad_input_is_refused_with_a_message(x, formats, error, match):
    with pytest.raises(error, match=match):
        lp.analyze(x, formats)


def test_unknown_rounding_is_refused():
    with pytest.raises(ValueError, match="rounding"):
        lp.analyze(np.ones(3), "fp16", rounding="sideways")


def test_a_collection_is_quantized_tensor_by_tensor_and_pooled_over_all_elements():
    # Two tensors of very different scales: bfp(8) gives each its own exponent, so pooling the
    # per-tensor sums equals the hand-pooled errors and differs from one tensor holding both.
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(1000), 1e-3 * rng.standard_normal(3000)
    pooled = lp.analyze({"a": a, "b": b}, "bfp8")["bfp8"]
    e = np.concatenate([lp.quantize(a, "bfp8") - a, lp.quantize(b, "bfp8") - b])
    x = np.concatenate([a, b])
    assert pooled.sqnr_db == pytest.approx(10 * math.log10((x**2).sum() / (e**2).sum()))
    assert pooled.mean_abs_error == pytest.approx(np.abs(e).mean())
    assert pooled.max_abs_error == pytest.approx(np.abs(e).max())
    assert pooled.bias == pytest.approx(e.mean())
    assert pooled.bias_stderr == pytest.approx(e.std(ddof=1) / math.sqrt(4000))
    assert pooled.bits_per_element == pytest.approx(8 + 2 * 8 / 4000)  # one exponent per tensor
    joint = lp.analyze(x, "bfp8")["bfp8"]
    assert joint.frac_flushed > 0.5 > pooled.frac_flushed  # one shared exponent flushes the small tensor
    assert lp.analyze([a, b], "bfp8").to_rows() == lp.analyze({"a": a, "b": b}, "bfp8").to_rows()


def test_samples_have_the_stated_distributions():
    normal, laplace, logu = (sample(d, 1 << 16, seed=1) for d in DISTRIBUTIONS)
    assert normal.dtype == np.float32 and normal.shape == (1 << 16,)
    assert normal.std() == pytest.approx(1.0, abs=0.02)
    assert laplace.std() == pytest.approx(math.sqrt(2), abs=0.05)  # unit-scale Laplace
    exponents = np.log2(np.abs(logu))
    lo, hi = LOG_UNIFORM_EXPONENTS
    assert exponents.min() >= lo and exponents.max() < hi
    assert np.histogram(exponents, bins=hi - lo)[0] == pytest.approx([4096] * (hi - lo), rel=0.1)
    assert np.mean(logu > 0) == pytest.approx(0.5, abs=0.02)
    assert np.array_equal(sample("normal", 10, seed=3), sample("normal", 10, seed=3))


def test_flushed_fraction_of_a_log_uniform_input_is_the_share_of_binades_below_the_format():
    # |x| = 2**u, u uniform on [-16, 0): fixed(8,7) flushes below half its step 2**-8 (8 of 16
    # binades), fp8_e4m3 below half its smallest subnormal 2**-10 (6 of 16), bf16 nothing.
    x = sample("log-uniform", 1 << 16, seed=2)
    table = lp.analyze(x, ["fixed(8,7)", "fp8_e4m3", "bf16"])
    assert table["fixed(8,7)"].frac_flushed == pytest.approx(8 / 16, abs=0.01)
    assert table["fp8_e4m3"].frac_flushed == pytest.approx(6 / 16, abs=0.01)
    assert table["bf16"].frac_flushed == 0.0
    assert table["bf16"].max_rel_error <= 2.0**-8  # half an ulp of 7 mantissa bits, relative


@pytest.mark.parametrize(("args", "match"), [(("cauchy",), "distribution must be one of"),
                                             (("normal", 0), "n must be a positive integer")])
def test_bad_sample_requests_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        sample(*args)


@pytest.mark.parametrize("fmt", ["fp8_e5m2", "fp8_e4m3", "fixed(6,4)", "bfp(6)", "mxfp8_e5m2", "fp16"])
def test_range_counts_from_a_rounded_tensor_match_analyze(fmt):
    x = np.concatenate([sample("log-uniform", 4096, seed=3) * 2.0**-10,
                        sample("normal", 4096, seed=4) * 1e5, np.zeros(64, np.float32)])
    q = lp.quantize(x, fmt)
    counts = range_counts(x, q, fmt)
    row = lp.analyze(x, fmt)[fmt]
    assert counts.size == x.size and counts.nonzero == np.count_nonzero(x)
    assert counts.frac_flushed == pytest.approx(row.frac_flushed)
    assert counts.frac_saturated == pytest.approx(row.frac_saturated)
    assert counts.flushed_of_nonzero == pytest.approx(counts.flushed / counts.nonzero)


def test_range_counts_by_hand_including_overflow_to_inf():
    # E5M2: smallest subnormal 2**-16, largest finite 57344; 2**-18 rounds to 0, 1e5 to inf.
    x = np.array([2.0**-18, -2.0**-18, 2.0**-16, 0.0, 1e5, -7e4, 1.0], np.float32)
    q = lp.quantize(x, "fp8_e5m2")
    assert np.isinf(q[4]) and np.isinf(q[5])
    counts = range_counts(x, q, "fp8_e5m2")
    assert (counts.size, counts.nonzero, counts.flushed, counts.saturated) == (7, 6, 2, 2)
    assert counts + counts == RangeCounts(14, 12, 4, 4)
    with pytest.raises(ValueError, match="same shape"):
        range_counts(x, q[:3], "fp8_e5m2")
