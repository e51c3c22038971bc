"""False-alarm rate and power of ``lpformats.testing.assert_unbiased``, measured over many seeds.

A correct stochastic quantizer (``lpformats.quantize``, 53 random bits; and with 4 random
bits, stated as ``stochastic_bits=4``) is checked ``--runs`` times with different seeds at
several stated false-alarm rates ``alpha``: the measured rejection rate must not exceed
``alpha`` (Clopper-Pearson 95 % interval printed). Two inputs: the 71 ``stochastic_probes`` of
fp8_e4m3 (Bonferroni over 66 elements and four tests: the rate is below ``alpha``) and a
single element at up-probability 1/2 (one test dominates: the rate approaches the bias
test's share ``alpha / 2``). For the default ``alpha = 1e-6`` no run count can observe a
rejection; the script prints the exact size of the bias test at the true up-probabilities
instead. Power: a quantizer whose up-probability is off by the reported detectable bias is
rejected in at least 99 % of runs.

    python benchmarks/kit_false_alarms.py [--runs 300] [--draws 4096]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from scipy.stats import beta, binom

import lpformats as lp
from benchmarks.common import code_version, machine_line
from lpformats.testing import CounterexampleError, assert_unbiased, stochastic_probes
from lpformats.testing.search import one_numba_thread
from lpformats.testing.stats import _BiasTest

FMT = lp.parse("fp8_e4m3")
SEED_STRIDE = 1_000_003  # seeds of run k: k * stride + (0 .. calls]: disjoint streams


def ours(bits: int | None):
    return lambda x, seed: lp.quantize(x, FMT, "stochastic", seed=seed, stochastic_bits=bits)


def biased(delta: float):
    """Rounds up with probability ``f + delta`` (numpy generator seeded by ``seed``)."""

    def quantize(x: np.ndarray, seed: int) -> np.ndarray:
        down, up = lp.quantize(x, FMT, "down"), lp.quantize(x, FMT, "up")
        f = np.where(up > down, (x - down) / np.where(up > down, up - down, 1), 0)
        return np.where(np.random.default_rng(seed).random(x.shape) < f + delta, up, down)

    return quantize


def interval(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95 % interval of a rate k / n."""
    low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    high = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    return low, high


def rejections(fn, x, runs: int, **kwargs) -> int:
    count = 0
    for k in range(runs):
        try:
            assert_unbiased(fn, x, FMT, seed=k * SEED_STRIDE, **kwargs)
        except CounterexampleError:
            count += 1
    return count


def exact_bias_test_size(x: np.ndarray, draws: int, alpha: float, bits: int | None) -> float:
    """Probability that the bias test rejects our quantizer (union bound over elements), from
    the up-probabilities ``R`` random bits really give: ``floor(y + R / 2**r)``."""
    down, up = lp.quantize(x, FMT, "down"), lp.quantize(x, FMT, "up")
    active = up > down
    gap = (up[active] - x[active]) / (up[active] - down[active])
    r = 53 if bits is None else bits
    p_true = (2.0**r - np.ceil(2.0**r * gap)) / 2.0**r if bits else 1 - gap
    f = 1 - gap
    band = 2.0**-r
    test = _BiasTest(draws, np.clip(f - band, 0, 1), np.clip(f + band, 0, 1), alpha / 2 / (2 * active.sum()))
    return float(np.sum(binom.sf(test.most, draws, p_true) + binom.cdf(test.least - 1, draws, p_true)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="seeds per configuration (default 300)")
    parser.add_argument("--draws", type=int, default=4096, help="draws per element (default 4096)")
    args = parser.parse_args()
    print(machine_line())
    print(f"code: {code_version()}; {args.runs} runs per row, {args.draws} draws per element, 8 calls")
    probes, single = stochastic_probes(FMT), np.array([1.0625])
    start = time.time()
    print("\nfalse alarms of correct stochastic rounding to fp8_e4m3 (lpformats.quantize; numpy's PCG64")
    print("generator rounding up with probability f):")
    print(f"{'quantizer':<13}{'input':<20}{'bits':>6}{'alpha':>8}{'rejected':>10}{'rate':>9}   95% interval")
    rows = [
        ("lpformats", name, x, bits)
        for name, x in (("71 probes", probes), ("one element, f=1/2", single))
        for bits in (None, 4)
    ]
    rows.append(("numpy PCG64", "71 probes", probes, None))
    with one_numba_thread():
        for quantizer, name, x, bits in rows:
            fn = ours(bits) if quantizer == "lpformats" else biased(0.0)
            for alpha in (0.1, 0.01):
                k = rejections(fn, x, args.runs, draws=args.draws, alpha=alpha, stochastic_bits=bits)
                low, high = interval(k, args.runs)
                print(
                    f"{quantizer:<13}{name:<20}{bits or 53:>6}{alpha:>8g}{k:>6}/{args.runs:<4}"
                    f"{k / args.runs:>8.3f}   [{low:.3f}, {high:.3f}]"
                )
        print("\nexact size of the bias test at the default alpha = 1e-6 (union over elements):")
        for bits in (None, 4):
            for draws in (args.draws, 1 << 18):
                size = exact_bias_test_size(probes, draws, 1e-6, bits)
                print(
                    f"  71 probes, {bits or 53} random bits, {draws} draws: {size:.3g} (<= alpha/2 = 5e-07)"
                )
        print("\npower: up-probability off by the reported detectable bias (one element, f = 1/2):")
        report = assert_unbiased(ours(None), single, FMT, draws=args.draws, alpha=1e-6)
        delta = report.detectable_ulp[1]
        k = rejections(biased(delta), single, args.runs, draws=args.draws, alpha=1e-6)
        print(
            f"  alpha 1e-6, {args.draws} draws: detectable {delta:.4g}; rejected {k}/{args.runs} = "
            f"{k / args.runs:.3f} (stated: >= 0.99)"
        )
    print(f"\ntotal {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
