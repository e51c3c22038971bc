"""lpformats.matmul's int16-pair path: exact sums two steps of K per instruction, same bits.

Fixed-point operands whose codes fit int16, summed exactly (no step rounds) in one run, are
multiplied and added in pairs of ``k`` (``vpmaddwd`` on x86), which sees the accumulators
after even steps only. It must give the bits and every count of the step-by-step path:
saturation or wrapping at an odd step, and the largest magnitude reached at an odd step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

from lpformats import FixedPoint, matmul, quantize

matmul_module = sys.modules["lpformats.matmul"]


def _three_ways(a, b, acc, monkeypatch):
    """``(pairs, int32 pass, step by step)`` results of ``matmul(a, b, acc=acc)``."""
    pairs = matmul(a, b, acc=acc)
    with monkeypatch.context() as patch:
        patch.setattr(matmul_module, "_INT16_PAIR_BITS", 0)
        tracked = matmul(a, b, acc=acc)
        patch.setattr(matmul_module, "_fixed_plan", lambda *args: None)
        generic = matmul(a, b, acc=acc)
    return pairs, tracked, generic


def _assert_same(results):
    first = results[0]
    for other in results[1:]:
        np.testing.assert_array_equal(first[0], other[0])
        assert first[1] == other[1]


def test_a_peak_reached_at_an_odd_step_is_counted():
    """100, then 100 - 50 = 50: the pairs see only 50 (after two steps) but the peak is 100."""
    got, stats = matmul(np.array([[100.0, -50.0]]), np.ones((2, 1)), acc="fixed(16,0)")
    assert (got[0, 0], stats.max_abs_acc, stats.saturated) == (50.0, 100.0, 0)


def test_saturation_at_an_odd_step_is_applied_in_sequence():
    """100 + 100 saturates to 127 at the second step, 127 - 100 = 27 at the third, the
    first of a pair; 27 + 20 = 47 (exact sums: 100 + 100 - 100 + 20 = 120, in range)."""
    got, stats = matmul(np.array([[100.0, 100.0, -100.0, 20.0]]), np.ones((4, 1)), acc="fixed(8,0)")
    assert (got[0, 0], stats.saturated, stats.max_abs_acc) == (47.0, 1, 127.0)
    got, stats = matmul(np.array([[100.0, 100.0, -100.0]]), np.ones((3, 1)), acc="fixed(8,0)")
    assert (got[0, 0], stats.saturated, stats.max_abs_acc) == (27.0, 1, 127.0)


def test_the_largest_magnitude_of_many_rows_is_exact(monkeypatch):
    """Rows whose odd steps could hold the largest value are recomputed step by step."""
    rng = np.random.default_rng(11)
    a = quantize(rng.standard_normal((70, 61)) * 4, "fixed(8,4)")
    b = quantize(rng.standard_normal((61, 45)) * 4, "fixed(8,4)")
    _assert_same(_three_ways(a, b, "fixed(24,8)", monkeypatch))


exact_accs = st.builds(  # products of fixed(8,4) x fixed(8,3) codes have 7 fraction bits
    lambda wl, fl, wrap: FixedPoint(wl, fl, overflow="wrap" if wrap else "saturate"),
    st.integers(8, 26), st.integers(7, 9), st.booleans(),
)


@given(
    m=st.integers(1, 37), k=st.integers(1, 40), n=st.integers(1, 40), acc=exact_accs,
    scale=st.sampled_from([0.25, 4.0, 64.0]), seed=st.integers(0, 2**32 - 1),
)
def test_property_pairs_equal_the_int32_pass_and_the_step_by_step_loop(m, k, n, acc, scale, seed):
    """Narrow accumulators and large operands (scale 64 saturates most rows) included."""
    rng = np.random.default_rng(seed)
    a = quantize(rng.standard_normal((m, k)) * scale, "fixed(8,4)")
    b = quantize(rng.standard_normal((k, n)) * scale, "fixed(8,3)")
    a[rng.random(m) < 0.5] /= 16  # rows that stay in range next to rows that leave it
    with pytest.MonkeyPatch.context() as monkeypatch:
        _assert_same(_three_ways(a, b, acc, monkeypatch))


_SAME_BYTES_SCRIPT = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    from lpformats import matmul, quantize
    rng = np.random.default_rng(5)
    a = quantize(rng.standard_normal((3, 67, 130)) * 4, "fixed(8,4)")
    b = quantize(rng.standard_normal((130, 51)) * 4, "fixed(8,4)")
    digest = hashlib.sha256()
    for kwargs in (dict(acc="fixed(24,8)"), dict(acc="fixed(14,8)"), dict(acc="fixed(16,4)"),
                   dict(acc="fixed(16,4)", rounding="stochastic", seed=3), dict(acc="fp16")):
        c, stats = matmul(a, b, **kwargs)
        digest.update(c.tobytes())
        digest.update(repr(stats).encode())
    print(digest.hexdigest())
""")


@pytest.mark.slow
def test_an_avx2_build_gives_the_same_bytes():
    """The kernels compiled for AVX2 (``haswell``, no AVX-512) and for this host agree bit for
    bit. Slow: the subprocess compiles every kernel afresh (``benchmarks/matmul.py`` checks
    the same on each run)."""
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="")
    here = subprocess.run([sys.executable, "-c", _SAME_BYTES_SCRIPT], capture_output=True, text=True,
                          check=True).stdout
    avx2 = subprocess.run([sys.executable, "-c", _SAME_BYTES_SCRIPT], capture_output=True, text=True,
                          check=True, env=env).stdout
    assert here.strip() and here == avx2
