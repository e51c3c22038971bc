"""Every float32 input, quantized to each FP8/FP6/FP4 preset with ``nearest``, equals the
ml_dtypes 0.6 round trip bit for bit (both NaN counts as equal; NaN into FP6/FP4 is excluded,
it follows our ``nan=`` rule). The full sweep is opt-in: ``pytest -m exhaustive``.

The default run checks the checker on a small window: it agrees where the formats agree
and reports mismatches where they do not.
"""

import ml_dtypes
import pytest

from benchmarks.exhaustive import ORACLES, sweep

#: float32 patterns 416.0 .. 512.0: E4M3's largest value 448 and its NaN threshold 464.
E4M3_TOP = (0x43D00000, 0x44000000)


@pytest.mark.exhaustive
@pytest.mark.parametrize("fmt", list(ORACLES))
def test_every_float32_matches_ml_dtypes(fmt):
    result = sweep(fmt)
    assert result.compared + result.nan_excluded == 1 << 32
    assert result.mismatches == 0, result.examples


def test_sweep_window_agrees_with_ml_dtypes():
    result = sweep("fp8_e4m3", *E4M3_TOP, chunk=1 << 18)
    assert (result.compared, result.mismatches) == (E4M3_TOP[1] - E4M3_TOP[0], 0)


def test_sweep_reports_mismatches_against_another_format():
    result = sweep("fp8_e4m3", *E4M3_TOP, chunk=1 << 18, oracle=ml_dtypes.float8_e5m2)
    assert result.mismatches > 0
    x, ours, theirs = result.examples[0]
    assert E4M3_TOP[0] <= x < E4M3_TOP[1] and ours != theirs


def test_sweep_excludes_nan_inputs_for_formats_without_nan():
    nan_patterns = (0x7F800001, 0x7F800001 + (1 << 16))
    result = sweep("fp4_e2m1", *nan_patterns)
    assert (result.compared, result.nan_excluded, result.mismatches) == (0, 1 << 16, 0)


def test_sweep_rejects_unknown_format_and_bad_range():
    with pytest.raises(ValueError, match="fmt must be one of"):
        sweep("bf16")
    with pytest.raises(ValueError, match="start, stop"):
        sweep("fp8_e4m3", 5, 5)
