"""The kit's parts as specifications: optional dependencies, boundary inputs, strategies,
conventions, the statistics' stated error rates, and bad arguments."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

import lpformats as lp
from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from lpformats.testing import (
    assert_monotone,
    assert_rounds_like,
    assert_unbiased,
    boundary_values,
    stochastic_probes,
)
from lpformats.testing import strategies as lps
from lpformats.testing.compare import assert_same_values
from lpformats.testing.conventions import Conventions
from lpformats.testing.search import one_numba_thread
from lpformats.testing.stats import POWER, _BiasTest

ROOT = __file__.rsplit("/tests/", 1)[0]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small arrays: one Numba thread is faster (the kit's own checks do the same)."""
    with one_numba_thread():
        yield


def test_importing_lpformats_needs_no_hypothesis_and_the_kit_names_the_extra():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("hypothesis", "pytest"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        import lpformats
        lpformats.quantize(__import__("numpy").ones(3), "fp8_e4m3")
        assert "hypothesis" not in sys.modules and "lpformats.testing" not in sys.modules
        try:
            import lpformats.testing
        except ModuleNotFoundError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "lowprec[testing]" in out.stdout


@pytest.mark.parametrize("fmt", ["fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fixed(8,3)", "fp32", "bf16"])
def test_boundary_values_hold_midpoints_their_neighbours_and_the_edges(fmt):
    fmt = lp.parse(fmt)
    for dtype in (np.float32, np.float64):
        x = boundary_values(fmt, dtype)
        finite = x[np.isfinite(x)].astype(np.float64)
        down, up = lp.quantize(finite, fmt, "down"), lp.quantize(finite, fmt, "up")
        inside = np.isfinite(down) & np.isfinite(up) & (down != up)
        ties = inside & (finite == (down + up) / 2)
        if fmt.man < np.finfo(dtype).nmant if isinstance(fmt, FloatFormat) else True:  # ties fit in dtype
            assert ties.sum() > 20, "exact midpoints"
        mids = finite[ties].astype(dtype)
        assert np.isin(np.nextafter(mids, np.inf), x).all() and np.isin(np.nextafter(mids, -np.inf), x).all()
        top = fmt.max_value
        below_top = float(lp.quantize(np.array([np.nextafter(top, 0)]), fmt, "down")[0])
        for v in (top, -top, top + (top - below_top), top + (top - below_top) / 2, 0.0, np.inf, -np.inf):
            with np.errstate(over="ignore"):  # float32 cannot hold bf16's and fp32's 2 * max
                v = np.array([v], dtype=dtype)
            assert np.isin(v, x).all() or not np.isfinite(v[0])
        assert np.signbit(x[x == 0]).any() and np.isnan(x).sum() == 2
        if fmt.smallest_subnormal >= np.finfo(dtype).smallest_subnormal:
            assert ((np.abs(finite) < fmt.smallest_normal) & (finite != 0)).any()


@given(fmt=lps.scalar_formats(), data=st.data())
def test_representable_values_are_values_of_the_format(fmt, data):
    v = data.draw(lps.representable_values(fmt))
    assert lp.quantize(np.array([v]), fmt, "nearest")[0] == v


@settings(max_examples=30)
@given(
    fmt=st.sampled_from([FloatFormat(8, 23), FloatFormat(5, 10, style="fn"), FixedPoint(24, 8)]),
    data=st.data(),
)
def test_representable_values_of_wide_formats_are_built_from_codes(fmt, data):
    v = data.draw(lps.representable_values(fmt))
    assert lp.quantize(np.array([v]), fmt, "nearest")[0] == v


@pytest.mark.parametrize(
    "fmt",
    [BlockFloat(4, block_size=4, exp_bits=4), MXFormat(FloatFormat(4, 3, style="fn"), block_size=4)],
    ids=str,
)
def test_block_arrays_make_blocks_saturate_flush_and_tie(fmt):
    seen = set()

    @settings(max_examples=60, database=None, derandomize=True)
    @given(lps.block_arrays(fmt))
    def collect(x):
        q, up, away = (lp.quantize(x, fmt, mode) for mode in ("nearest", "up", "nearest_away"))
        kinds = (("saturate", up < x), ("flush", (q == 0) & (x != 0)), ("tie", q != away))
        seen.update(kind for kind, happens in kinds if happens.any())

    collect()
    assert seen == {"saturate", "flush", "tie"}


@given(
    fmt=lps.float_formats(),
    x=lps.finite_arrays(dtype=np.float64, magnitude=1e5),
    mode=st.sampled_from(["nearest", "nearest_away", "zero", "down", "up"]),
)
def test_the_saturate_convention_equals_the_saturating_format(fmt, x, mode):
    """``overflow='saturate'`` is applied by comparing with a wider format; it must give what
    lpformats' own saturating formats give."""
    expected = lp.quantize(x, dataclasses.replace(fmt, overflow="saturate"), mode)
    assert_same_values(Conventions(overflow="saturate").expected(x, fmt, mode), expected, x, str(fmt))


def test_the_inf_and_nan_conventions_replace_overflowing_results():
    x = np.array([448.0, 460.0, 470.0, 1e6, -1e6, np.inf, 1.0])
    fmt = lp.parse("fp8_e4m3")  # NaN beyond 464
    assert_same_values(
        Conventions(overflow="inf").expected(x, fmt, "nearest"),
        [448.0, 448.0, np.inf, np.inf, -np.inf, np.inf, 1.0],
    )
    assert_same_values(
        Conventions(overflow="saturate").expected(x, fmt, "nearest"),
        [448.0, 448.0, 448.0, 448.0, -448.0, 448.0, 1.0],
    )


@settings(max_examples=40)
@given(
    f=st.floats(0, 1),
    draws=st.sampled_from([1000, 1 << 16]),
    r=st.sampled_from([53, 8, 3]),
    level=st.sampled_from([1e-3, 1e-8]),
)
def test_the_bias_test_has_at_most_its_stated_size_and_its_stated_power(f, draws, r, level):
    """For every up-probability inside the bound the exact rejection probability is at most
    the level; at the stated detectable deviation beyond the bound it is at least 99 %."""
    band = 2.0**-r
    lo, hi = np.clip(np.array([f - band]), 0, 1), np.clip(np.array([f + band]), 0, 1)
    test = _BiasTest(draws, lo, hi, level / 2)
    for p in np.linspace(lo[0], hi[0], 5):
        size = binom.sf(test.most, draws, p) + binom.cdf(test.least - 1, draws, p)
        assert size[0] <= level * (1 + 1e-9)
    delta = test.detectable()[0]
    if np.isfinite(delta):
        for p in (hi[0] + delta, lo[0] - delta):
            if 0 <= p <= 1 and (p > hi[0] or p < lo[0]):
                power = binom.sf(test.most, draws, p) + binom.cdf(test.least - 1, draws, p)
                assert power[0] >= POWER - 1e-6 or not (0 < p < 1)


def test_assert_unbiased_accepts_block_formats_with_the_tensor_as_context():
    fmt = BlockFloat(4, block_size=4)
    x = np.array([[3.0, 0.3, -0.55, 1.1]])
    report = assert_unbiased(lambda t, s: lp.quantize(t, fmt, "stochastic", seed=s), x, fmt, draws=400)
    assert report.elements == 3 and report.draws == 400


def test_bad_arguments_are_refused_with_the_argument_named():
    q = lambda x: lp.quantize(x, "fp8_e4m3")  # noqa: E731
    with pytest.raises(ValueError, match="assert_unbiased"):
        assert_rounds_like(q, "fp8_e4m3", "stochastic")
    with pytest.raises(ValueError, match="rounding"):
        assert_rounds_like(q, "fp8_e4m3", "banker")
    with pytest.raises(ValueError, match="overflow"):
        assert_rounds_like(q, "fixed(8,3)", overflow="saturate")
    with pytest.raises(ValueError, match="tensor"):
        assert_rounds_like(q, "fp8_e4m3", tensor="jax")
    with pytest.raises(ValueError, match="dtype"):
        assert_rounds_like(q, "fp8_e4m3", dtype=np.int32)
    with pytest.raises(ValueError, match="scalar format"):
        assert_monotone(q, "bfp8")
    sr = lambda x, s: lp.quantize(x, "fp8_e4m3", "stochastic", seed=s)  # noqa: E731
    with pytest.raises(ValueError, match="alpha"):
        assert_unbiased(sr, [1.1], "fp8_e4m3", alpha=0)
    with pytest.raises(ValueError, match="outside the range"):
        assert_unbiased(sr, [1000.0], "fp8_e4m3")
    with pytest.raises(ValueError, match="finite"):
        assert_unbiased(sr, [np.nan], "fp8_e4m3")
    with pytest.raises(ValueError, match="stochastic_bits"):
        assert_unbiased(sr, [1.1], "fp8_e4m3", stochastic_bits=0)


def test_stochastic_probes_lie_between_neighbours_at_the_listed_fractions():
    fmt = lp.parse("fp8_e4m3")
    x = stochastic_probes(fmt)
    down, up = lp.quantize(x, fmt, "down"), lp.quantize(x, fmt, "up")
    f = np.where(up > down, (x - down) / np.where(up > down, up - down, 1), 0)
    assert np.isclose(f, 2.0**-12).any() and np.isclose(f, 0.5).any() and (up == down).any()
    assert (x < 0).any() and (np.abs(x) < fmt.smallest_normal).any()
