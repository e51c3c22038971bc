"""``assert_unbiased``: statistical checks of a stochastic-rounding quantizer, with a stated
false-alarm rate and a stated power.

Stochastic rounding of ``x`` between neighbouring values ``lo < hi`` of the format must
return ``lo`` or ``hi``, ``hi`` with probability ``f = (x - lo) / (hi - lo)``, so that
``E[Q(x)] = x``. With ``r`` random bits the up-probability can only be a multiple of
``2**-r``; the exact bias bound is ``|E[Q(x)] - x| < (hi - lo) * 2**-r``
(``floor(y + R / 2**r)`` is biased down by less than that, comparing ``R < 2**r * frac(y)``
up by less than that); both directions are accepted.

Tests (each draw is a Bernoulli "up"; ``N`` draws per element over ``calls`` calls):

1. neighbours: every draw is ``lo`` or ``hi`` (deterministic: no false alarms);
2. reproducibility: the same seed gives the same bits (deterministic);
3. independence across elements: the up-counts ``K_c`` of the copies of ``x`` in each call
   ``c`` vary no more than independent draws allow (a random number shared across the
   elements of a call makes ``K_c`` all or nothing);
4. independence across calls: the same positions in calls ``2i`` and ``2i + 1`` (different
   seeds) do not go up together more often than independent draws do (a repeated stream);
5. bias: the number of ups ``K`` of each element against the exact binomial tails of
   ``Binomial(N, f - 2**-r)`` and ``Binomial(N, f + 2**-r)`` (outside ``[0, 1]``: clipped);
   run last, as it assumes the independence that 3 and 4 check.

Both independence tests condition on margins, which makes them exact whatever the
up-probability (so a bias cannot pass for dependence, nor one kind of dependence for the
other): given the total ``K``, each ``K_c`` is hypergeometric (test 3, both tails, every
call); given the up-counts of calls ``2i`` and ``2i + 1``, the number of positions up in both
is hypergeometric (test 4, a one-sided Fisher exact test per pair of calls).

The false-alarm rate ``alpha`` is split by Bonferroni: ``alpha / 2`` over the two-sided bias
tests of the elements, ``alpha / 4`` over each independence test; the exact binomial
critical values make each test's size at most its share, so a correct quantizer fails one
call with probability at most ``alpha``. Power: for each element, the smallest deviation of
the up-probability beyond the bound that the bias test detects with probability 99 %
(exact binomial), reported by :class:`UnbiasedReport` and in every failure message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.stats import binom, hypergeom

import lpformats as lp
from lpformats.formats import BlockFloat, FloatFormat, MXFormat
from lpformats.rng import FULL_PRECISION_BITS
from lpformats.testing.compare import as_float64, same_values, show
from lpformats.testing.search import CounterexampleError, call_quantizer

#: Detection probability at which the power is stated.
POWER = 0.99
#: Elements listed in a failure message.
SHOWN = 4


@dataclass(frozen=True)
class UnbiasedReport:
    """What a passed :func:`assert_unbiased` checked and could have detected.

    Biases are in ulps (units of ``hi - lo`` of each element): ``detectable_ulp`` is, over
    the tested elements, the range (best, worst) of the smallest up-probability deviation
    beyond the bound ``2**-r`` detected with probability 99 %; ``observed_ulp`` the largest
    ``|mean(Q(x)) - x| / (hi - lo)`` seen."""

    fmt: str
    elements: int
    draws: int
    calls: int
    alpha: float
    stochastic_bits: int
    detectable_ulp: tuple[float, float]
    observed_ulp: float

    def __str__(self) -> str:
        best, worst = self.detectable_ulp
        return (
            f"assert_unbiased({self.fmt}): {self.elements} element(s) between neighbours, {self.draws} draws "
            f"each over {self.calls} call(s), false-alarm rate {self.alpha:g} per call, bias bound "
            f"ulp * 2**-{self.stochastic_bits}; power: detects a bias beyond the bound of "
            f"{best:.3g} ulp (best element) to {worst:.3g} ulp (worst) with probability {POWER:.0%}; "
            f"largest observed |bias| {self.observed_ulp:.3g} ulp"
        )


def _fraction(x: float, lo: float, hi: float) -> float:
    """``(x - lo) / (hi - lo)`` rounded once (exact rational arithmetic)."""
    return float((Fraction(x) - Fraction(lo)) / (Fraction(hi) - Fraction(lo)))


def _smallest_p(
    reaches: Callable[[np.ndarray], np.ndarray], start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Per element, the point nearest ``start`` on the segment to ``end`` where ``reaches``
    (monotone along the segment) becomes true; NaN where it is false even at ``end``."""
    ok_end = reaches(end)
    near, far = start.copy(), end.copy()
    for _ in range(60):
        mid = (near + far) / 2
        hit = reaches(mid)
        far = np.where(hit, mid, far)
        near = np.where(hit, near, mid)
    return np.where(ok_end, far, np.nan)


@dataclass(frozen=True)
class _BiasTest:
    """Exact binomial acceptance region for the up-counts, and its power."""

    draws: int
    p_low: np.ndarray
    p_high: np.ndarray
    level: float

    @property
    def most(self) -> np.ndarray:
        """Largest accepted up-count (more is too many ups even at ``p_high``)."""
        return binom.isf(self.level, self.draws, self.p_high)

    @property
    def least(self) -> np.ndarray:
        """Smallest accepted up-count."""
        return binom.ppf(self.level, self.draws, self.p_low)

    def rejects(self, ups: np.ndarray) -> np.ndarray:
        return (ups > self.most) | (ups < self.least)

    def detectable(self) -> np.ndarray:
        """Per element: the smallest deviation of the up-probability beyond the bound that is
        detected with probability :data:`POWER` (the worse of the two directions that can
        happen; NaN when neither can be detected)."""
        most, least = self.most, self.least
        up = _smallest_p(
            lambda p: binom.sf(most, self.draws, p) >= POWER, self.p_high, np.ones_like(self.p_high)
        )
        down = _smallest_p(
            lambda p: binom.cdf(least - 1, self.draws, p) >= POWER, self.p_low, np.zeros_like(self.p_low)
        )
        up_delta, down_delta = up - self.p_high, self.p_low - down
        with np.errstate(invalid="ignore"):
            return np.fmax(
                np.where(self.p_high < 1, up_delta, np.nan), np.where(self.p_low > 0, down_delta, np.nan)
            )


def _call_tails(per_call: np.ndarray, copies: int) -> np.ndarray:
    """Per element: the smallest one-sided p-value over calls of its up-count ``K_c``
    (rows: calls), hypergeometric given the total over the calls."""
    total, draws = per_call.sum(axis=0), per_call.shape[0] * copies
    low = hypergeom.cdf(per_call, draws, total, copies)
    high = hypergeom.sf(per_call - 1, draws, total, copies)
    return np.minimum(low, high).min(axis=0)


def _joint_tails(first: np.ndarray, second: np.ndarray, both: np.ndarray, copies: int) -> np.ndarray:
    """Per element: the smallest one-sided Fisher p-value over pairs of calls (rows) of the
    number of positions up in both calls, hypergeometric given each call's up-count."""
    return hypergeom.sf(both - 1, copies, first, second).min(axis=0)


def _check_args(x: np.ndarray, alpha: float, calls: int) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha (false-alarm rate per call) must be in (0, 1); got {alpha!r}")
    if calls < 2:
        raise ValueError(f"calls must be >= 2 (independence across calls needs two); got {calls}")
    if x.size == 0:
        raise ValueError("x is empty: give the values whose stochastic rounding is tested")
    if not np.isfinite(x).all():
        i = int(np.flatnonzero(~np.isfinite(x.reshape(-1)))[0])
        raise ValueError(f"x must be finite (E[Q(x)] = x is about numbers); x[{i}] = {x.reshape(-1)[i]!r}")


def _neighbours(x: np.ndarray, fmt: object) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``: the format's values around each element, checked to lie in the range."""
    lo, hi = (as_float64(lp.quantize(x, fmt, mode)) for mode in ("down", "up"))
    xv = as_float64(x)
    bad = ~(np.isfinite(lo) & np.isfinite(hi) & (lo <= xv) & (xv <= hi))
    if isinstance(fmt, FloatFormat) and not fmt.subnormals:
        bad |= (xv != 0) & (np.abs(xv) < fmt.smallest_normal)
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(-1))[0])
        raise ValueError(
            f"x[{i}] = {x.reshape(-1)[i]!r} is outside the range of {fmt} or in its flush-to-zero "
            f"range: E[Q(x)] = x holds only between two values of the format"
        )
    return lo, hi


def assert_unbiased(
    fn: Callable[[Any, int], Any],
    x: Any,
    fmt: object,
    *,
    stochastic_bits: int | None = None,
    draws: int = 1 << 18,
    calls: int = 8,
    alpha: float = 1e-6,
    seed: int = 0,
    reproducible: bool = True,
    tensor: str = "numpy",
) -> UnbiasedReport:
    """Check a stochastic-rounding quantizer ``fn(x, seed)`` (see the module docstring).

    Args:
        fn: ``fn(x, seed) -> quantized x``: numpy array (or torch tensor, ``tensor='torch'``)
            in, same shape out; ``seed`` an int that selects the random numbers.
        x: the values to round (numpy array or sequence; its float dtype is kept, float64 by
            default), each between two values of ``fmt``, e.g.
            :func:`~lpformats.testing.boundaries.stochastic_probes`. For scalar formats, every
            call gets ``draws / calls`` copies of ``x`` stacked along a new first axis; for
            block formats ``x`` is one tensor (its blocks fix the grid) and every call
            rounds it once, with ``draws`` calls.
        fmt: the format (object or spelling).
        stochastic_bits: random bits per draw the quantizer is meant to use (None: 53, i.e.
            exactly unbiased at any testable sample size).
        draws: draws per element (scalar formats).
        calls: calls of ``fn``, seeds ``seed, seed + 1, ...`` (scalar formats).
        alpha: false-alarm rate of the whole check for a correct quantizer.
        seed: first seed.
        reproducible: also check that the same seed gives the same bits.
        tensor: ``numpy`` or ``torch``.

    Returns:
        An :class:`UnbiasedReport` (with the power achieved).

    Raises:
        CounterexampleError: a draw that is not a neighbour, a biased up-probability, dependent
            draws, or an irreproducible seed, with the offending element and the figures.
    """
    fmt = lp.parse(fmt)
    r = FULL_PRECISION_BITS if stochastic_bits is None else int(stochastic_bits)
    if not 1 <= r <= FULL_PRECISION_BITS:
        raise ValueError(f"stochastic_bits must be in [1, 53] or None; got {stochastic_bits!r}")
    x = np.asarray(x)
    x = x if x.dtype in (np.float16, np.float32, np.float64) else x.astype(np.float64)
    if isinstance(fmt, (BlockFloat, MXFormat)):
        calls, copies = draws, 1
    elif draws < 2 * calls:
        raise ValueError(f"draws (per element) must be >= 2 * calls = {2 * calls}; got {draws}")
    else:
        copies = 2 * math.ceil(draws / calls / 2)
    _check_args(x, alpha, calls)
    draws_ = _Draws(x, fmt, r, copies, calls)
    header = (
        f"stochastic rounding to {fmt} (false-alarm rate {alpha:g} per call; {draws_.n} draws per "
        f"element in {calls} call(s); r = {r} random bits: |E[Q(x)] - x| < ulp * 2**-{r})"
    )
    tile = x if copies == 1 else np.broadcast_to(x, (copies, *x.shape)).copy()
    first = None
    for c in range(calls):
        out = call_quantizer(lambda t, s=seed + c: fn(t, s), tile, tensor).reshape(copies, -1)
        first = out if first is None else first
        problem = draws_.add(out)
        if problem:
            raise CounterexampleError(
                f"{header}\ndraws that are not neighbours of x in call {c} (seed {seed + c}): {problem}"
            )
    if reproducible:
        again = call_quantizer(lambda t: fn(t, seed), tile, tensor).reshape(copies, -1)
        problem = draws_.irreproducible(first, again)
        if problem:
            raise CounterexampleError(
                f"{header}\nthe same seed does not give the same bits: two calls with seed {seed} {problem}"
            )
    return draws_.verdict(alpha, header)


class _Draws:
    """Counts of the draws of one :func:`assert_unbiased` run, per tested element."""

    def __init__(self, x: np.ndarray, fmt: object, r: int, copies: int, calls: int) -> None:
        lo, hi = _neighbours(x, fmt)
        self.fmt, self.r, self.copies, self.calls, self.dtype = fmt, r, copies, calls, x.dtype
        self.x, self.lo, self.hi = as_float64(x).reshape(-1), lo.reshape(-1), hi.reshape(-1)
        self.active = np.flatnonzero(self.lo != self.hi)
        self.f = np.array([_fraction(self.x[i], self.lo[i], self.hi[i]) for i in self.active])
        band = 2.0**-r
        self.p_low, self.p_high = np.clip(self.f - band, 0, 1), np.clip(self.f + band, 0, 1)
        self.n = copies * calls
        self.ups = np.zeros(self.active.size, dtype=np.int64)
        self.per_call: list[np.ndarray] = []  # up-count per element, per call
        self.joint: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # calls 2i, 2i+1: ups, ups, both
        self.previous: np.ndarray | None = None

    def element(self, i: int) -> str:
        return f"x = {show(self.x[i], self.dtype)} between {float(self.lo[i])!r} and {float(self.hi[i])!r}"

    def add(self, out: np.ndarray) -> str | None:
        """Count one call's draws (``copies`` rows); a message when a draw is no neighbour."""
        neighbour = (out == self.lo) | (out == self.hi)
        if not neighbour.all():
            row, j = (int(v) for v in np.argwhere(~neighbour)[0])
            exact = (
                "  (x is a value of the format: it must come back unchanged)"
                if self.lo[j] == self.hi[j]
                else ""
            )
            return (
                f"{int((~neighbour).sum())} of {out.size}\n  {self.element(j)}: fn returned "
                f"{float(out[row, j])!r} in {int((~neighbour[:, j]).sum())} of {self.copies} copies{exact}"
            )
        up = out[:, self.active] == self.hi[self.active]
        self.ups += up.sum(axis=0)
        self.per_call.append(up.sum(axis=0))
        if self.previous is None:
            self.previous = up
        else:
            self.joint.append((self.previous.sum(axis=0), up.sum(axis=0), (self.previous & up).sum(axis=0)))
            self.previous = None
        return None

    def irreproducible(self, first: np.ndarray, again: np.ndarray) -> str | None:
        differ = ~same_values(again, first)
        if not differ.any():
            return None
        row, j = (int(v) for v in np.argwhere(differ)[0])
        return (
            f"differ in {int(differ.sum())} of {differ.size} elements;\n  first: {self.element(j)}: "
            f"{float(first[row, j])!r} then {float(again[row, j])!r}\n  (the seed is ignored or not all "
            "randomness comes from it; pass reproducible=False if this quantizer is not meant to "
            "be reproducible)"
        )

    def verdict(self, alpha: float, header: str) -> UnbiasedReport:
        """Run the independence tests, then the bias test; raise on a rejection, else report."""
        m = max(self.active.size, 1)
        test = _BiasTest(self.n, self.p_low, self.p_high, alpha / 2 / (2 * m))
        detectable = test.detectable() if self.active.size else np.array([np.nan])
        finite = detectable[np.isfinite(detectable)]
        span = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
        power = (
            f"power: with {self.n} draws the test detects an up-probability off by more than the bound by "
            f"{span[0]:.3g} (best element) to {span[1]:.3g} (worst element) with probability {POWER:.0%}"
        )
        if self.active.size and self.copies >= 2:
            self._independent_elements(alpha / 4 / m / (2 * self.calls), header)
        if self.active.size and self.joint:
            self._independent_calls(alpha / 4 / m / len(self.joint), header)
        rejected = np.flatnonzero(test.rejects(self.ups))
        if rejected.size:
            rows = [self._biased_row(k, test) for k in rejected[:SHOWN]]
            if rejected.size > SHOWN:
                rows.append(f"  ... and {rejected.size - SHOWN} more")
            raise CounterexampleError(
                f"{header}\nbiased: {rejected.size} of {self.active.size} element(s) fail "
                "the exact binomial test:\n" + "\n".join(rows) + f"\n{power}"
            )
        observed = float(np.max(np.abs(self.ups / self.n - self.f))) if self.active.size else 0.0
        return UnbiasedReport(
            str(self.fmt), int(self.active.size), self.n, self.calls, alpha, self.r, span, observed
        )

    def _biased_row(self, k: int, test: _BiasTest) -> str:
        j, rate = self.active[k], self.ups[k] / self.n
        bias = rate - self.f[k]
        return (
            f"  {self.element(j)}: up-probability should be {self.f[k]:.6g} (within +-2**-{self.r}), "
            f"observed {self.ups[k]} of {self.n} = {rate:.6g}: bias {bias:+.3g} ulp = "
            f"{bias * (self.hi[j] - self.lo[j]):+.3g}; accepted {int(test.least[k])}..{int(test.most[k])} ups"
        )

    def _independent_elements(self, level: float, header: str) -> None:
        per_call = np.array(self.per_call)
        p = _call_tails(per_call, self.copies)
        dependent = np.flatnonzero(p <= level)
        if dependent.size:
            k = int(dependent[np.argmin(p[dependent])])
            counts = ", ".join(str(int(v)) for v in per_call[:, k])
            raise CounterexampleError(
                f"{header}\ndraws are not independent across the elements of one call: {dependent.size} of "
                f"{self.active.size} element(s) vary together (a random number shared across elements?)\n"
                f"  {self.element(self.active[k])}: up in {counts} of the {self.copies} copies in calls "
                f"0..{self.calls - 1}; for independent draws each count is hypergeometric given their total "
                f"(smallest tail p = {p[k]:.3g}, threshold {level:.3g})"
            )

    def _independent_calls(self, level: float, header: str) -> None:
        first, second, both = (np.array(v) for v in zip(*self.joint, strict=True))
        p = _joint_tails(first, second, both, self.copies)
        dependent = np.flatnonzero(p <= level)
        if dependent.size:
            k = int(dependent[np.argmin(p[dependent])])
            pair = int(np.argmin(hypergeom.sf(both[:, k] - 1, self.copies, first[:, k], second[:, k])))
            expected = first[pair, k] * second[pair, k] / self.copies
            raise CounterexampleError(
                f"{header}\ndraws are not independent across calls with different seeds: {dependent.size} of "
                f"{self.active.size} element(s) go up in the same positions (a repeated random stream?)\n"
                f"  {self.element(self.active[k])}: calls {2 * pair} and {2 * pair + 1} went up at "
                f"{first[pair, k]} and {second[pair, k]} of {self.copies} positions, at {both[pair, k]} in "
                f"both; {expected:.1f} expected for independent calls (Fisher exact p = {p[k]:.3g}, "
                f"threshold {level:.3g})"
            )
