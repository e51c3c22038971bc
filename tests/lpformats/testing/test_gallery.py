"""The proof of the kit: deliberately broken quantizers are rejected with readable
counterexamples, correct ones (including the same code with the bug fixed) are accepted."""

from __future__ import annotations

import pytest

import lpformats as lp
from lpformats import FixedPoint, FloatFormat
from lpformats.testing import (
    CounterexampleError,
    assert_brackets,
    assert_idempotent,
    assert_monotone,
    assert_rounds_like,
    assert_sign_symmetric,
    assert_unbiased,
    stochastic_probes,
)
from tests.lpformats.testing.gallery import fixed_quantizer, float_quantizer, stochastic_quantizer

E5M2 = FloatFormat(5, 2)  # fp8_e5m2: ieee, overflow to inf
E4M3_SAT = FloatFormat(4, 3, overflow="saturate", style="ieee")
FIXED = FixedPoint(8, 4)
EXAMPLES = 20  # Hypothesis examples after the sweep (the sweep finds every bug here)
DRAWS = 1 << 16


def rejection(check, *args, **kwargs) -> str:
    with pytest.raises(CounterexampleError) as info:
        check(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("fmt", [E5M2, E4M3_SAT, FloatFormat(3, 2, subnormals=True)], ids=str)
def test_a_correct_float_quantizer_is_accepted(fmt):
    report = assert_rounds_like(float_quantizer(fmt), fmt, max_examples=EXAMPLES)
    assert report.swept > 300 and report.hypothesis_examples == EXAMPLES


def test_ties_away_from_zero_is_rejected_at_a_tie_and_accepted_as_nearest_away():
    message = rejection(assert_rounds_like, float_quantizer(E5M2, ties="away"), E5M2, max_examples=EXAMPLES)
    assert "ties (all rounded away from zero)" in message
    assert "the midpoint (tie) of" in message and "shrunk minimal example" in message
    assert "expected" in message and "actual" in message and "code 0x" in message
    assert_rounds_like(float_quantizer(E5M2, ties="away"), E5M2, "nearest_away", max_examples=EXAMPLES)


def test_ties_up_is_rejected_at_a_negative_tie():
    message = rejection(assert_rounds_like, float_quantizer(E5M2, ties="up"), E5M2, max_examples=EXAMPLES)
    assert "ties (all rounded up, toward +inf)" in message
    minimal = message.split("shrunk minimal example")[1]
    assert "the midpoint (tie) of" in minimal


def test_exponent_off_by_one_at_powers_of_two_is_rejected():
    """Inputs that round up to a power of two (1.875 < x < 2 rounds to 2) come out with the
    exponent one too small (1.0)."""
    message = rejection(
        assert_rounds_like, float_quantizer(E5M2, exponent_bug=True), E5M2, max_examples=EXAMPLES
    )
    minimal = message.split("shrunk minimal example")[1]
    assert "expected 2.0" in minimal or "expected -2.0" in minimal, minimal
    assert "actual   1.0" in minimal or "actual   -1.0" in minimal, minimal


def test_saturation_off_by_one_code_is_rejected_at_the_largest_value():
    message = rejection(
        assert_rounds_like,
        float_quantizer(E4M3_SAT, saturate_off_by_one=True),
        E4M3_SAT,
        max_examples=EXAMPLES,
    )
    assert "240.0" in message and "224.0" in message  # largest value and the code below it
    message = rejection(
        assert_rounds_like,
        fixed_quantizer(FIXED, saturate_off_by_one=True),
        FIXED,
        signed_zero="any",
        max_examples=EXAMPLES,
    )
    assert "7.9375" in message and "7.875" in message


def test_flushed_subnormals_are_rejected_in_the_subnormal_range():
    message = rejection(
        assert_rounds_like, float_quantizer(E5M2, flush_subnormals=True), E5M2, max_examples=EXAMPLES
    )
    assert "subnormal range" in message


def test_sign_of_zero_is_a_stated_convention_for_fixed_point():
    """``rint(x * 16) / 16`` returns -0.0 for -0.01 where lpformats returns +0.0: a mismatch
    until the user states ``signed_zero='any'``; refused for formats with a -0 code."""
    message = rejection(assert_rounds_like, fixed_quantizer(FIXED), FIXED, max_examples=EXAMPLES)
    assert "-0.0" in message
    assert_rounds_like(fixed_quantizer(FIXED), FIXED, signed_zero="any", max_examples=EXAMPLES)
    with pytest.raises(ValueError, match="negative-zero code"):
        assert_rounds_like(float_quantizer(E5M2), E5M2, signed_zero="any")


def test_saturation_instead_of_inf_is_a_stated_convention():
    saturating = float_quantizer(FloatFormat(5, 2, overflow="saturate"))
    message = rejection(assert_rounds_like, saturating, E5M2, max_examples=EXAMPLES)
    assert "expected inf" in message and "actual   57344.0" in message
    assert_rounds_like(saturating, E5M2, overflow="saturate", max_examples=EXAMPLES)


def test_a_torch_quantizer_is_checked_through_tensors():
    torch = pytest.importorskip("torch")
    message = rejection(
        assert_rounds_like,
        lambda t: t.to(torch.float8_e5m2).to(torch.float32),
        "fp8_e5m2",
        tensor="torch",
        max_examples=EXAMPLES,
    )
    assert "nan" in message  # torch keeps the NaN payload bits of the float8 code
    assert_rounds_like(
        lambda t: t.to(torch.float8_e5m2).to(torch.float32),
        "fp8_e5m2",
        tensor="torch",
        nan_payload="any",
        max_examples=EXAMPLES,
    )


# ----------------------------------------------------------------------------- stochastic
PROBES = stochastic_probes(E5M2)


def test_correct_stochastic_rounding_is_accepted_with_its_power_stated():
    report = assert_unbiased(stochastic_quantizer(E5M2), PROBES, E5M2, draws=DRAWS)
    assert report.draws >= DRAWS and 0 < report.detectable_ulp[0] <= report.detectable_ulp[1] < 0.05
    assert "power" in str(report)
    assert_unbiased(lambda x, s: lp.quantize(x, E5M2, "stochastic", seed=s), PROBES, E5M2, draws=DRAWS)


def test_eight_random_bits_are_rejected_unless_stated():
    message = rejection(assert_unbiased, stochastic_quantizer(E5M2, bits=8), PROBES, E5M2, draws=DRAWS)
    assert "biased" in message and "power:" in message
    assert_unbiased(stochastic_quantizer(E5M2, bits=8), PROBES, E5M2, draws=DRAWS, stochastic_bits=8)


def test_a_random_number_shared_across_elements_is_rejected():
    message = rejection(assert_unbiased, stochastic_quantizer(E5M2, shared=True), PROBES, E5M2, draws=DRAWS)
    assert "not independent across the elements of one call" in message


def test_a_biased_comparison_is_rejected_at_a_value_of_the_format():
    message = rejection(
        assert_unbiased,
        stochastic_quantizer(E5M2, bits=8, inclusive=True),
        PROBES,
        E5M2,
        draws=DRAWS,
        stochastic_bits=8,
    )
    assert "not neighbours" in message and "must come back unchanged" in message


def test_an_ignored_seed_and_a_repeated_stream_are_rejected():
    message = rejection(assert_unbiased, stochastic_quantizer(E5M2, seeded=False), PROBES, E5M2, draws=DRAWS)
    assert "the same seed does not give the same bits" in message
    assert_unbiased(stochastic_quantizer(E5M2, seeded=False), PROBES, E5M2, draws=DRAWS, reproducible=False)
    message = rejection(
        assert_unbiased, stochastic_quantizer(E5M2, fixed_stream=True), PROBES, E5M2, draws=DRAWS
    )
    assert "not independent across calls" in message


# ----------------------------------------------------------------------------- structure
def test_structural_properties_accept_a_correct_quantizer():
    q = float_quantizer(E5M2)
    assert_monotone(q, E5M2, max_examples=EXAMPLES)
    assert_idempotent(q, E5M2, max_examples=EXAMPLES)
    assert_sign_symmetric(q, E5M2, max_examples=EXAMPLES)
    assert_brackets(
        lambda x: lp.quantize(x, E5M2, "down"),
        lambda x: lp.quantize(x, E5M2, "up"),
        E5M2,
        max_examples=EXAMPLES,
    )


def test_structural_properties_reject_broken_quantizers():
    wrapping = FixedPoint(6, 2, overflow="wrap")
    assert "is not monotone" in rejection(
        assert_monotone, lambda x: lp.quantize(x, wrapping), wrapping, max_examples=EXAMPLES
    )
    scaled = rejection(assert_idempotent, lambda x: lp.quantize(x * 1.1, E5M2), E5M2, max_examples=EXAMPLES)
    assert "fn(fn(x))" in scaled
    assert "fn(-x)" in rejection(
        assert_sign_symmetric, float_quantizer(E5M2, ties="up"), E5M2, max_examples=EXAMPLES
    )
    truncating = rejection(
        assert_brackets,
        lambda x: lp.quantize(x, E5M2, "zero"),
        lambda x: lp.quantize(x, E5M2, "up"),
        E5M2,
        max_examples=EXAMPLES,
    )
    assert "down(x) > x" in truncating
