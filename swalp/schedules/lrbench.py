"""LRBench's learning-rate functions, pure and with LRBench's parameter names.

Source: Wu et al., "Demystifying Learning Rate Policies for High Accuracy Training of Deep
Neural Networks", IEEE BigData 2019, and its code, ``git-disl/LRBench``, file
``lr/LRfunctions.py`` (``getLRFunction``; ``LRBench/lr/LR.py`` and ``LRBench/lr/piecewiseLR.py``
wrap it). ``t`` is the iteration (LRBench's ``iter``); rates are in the optimizer's units.

Parameters: ``k0`` (initial / lower rate), ``k1`` (upper rate), ``gamma`` (decay factor),
``p`` (power), ``l`` (step size, half-period or cycle length in iterations; NSTEP: the list
of iterations where the rate steps down).

Monotone functions: FIX, STEP, NSTEP, EXP, INV, POLY, SIG. Cyclic functions (CLR family)
take a wave ``w`` with period ``2l`` that is 0 at ``t = 0`` and 1 at ``t = l`` and give
``k0 + (k1 - k0) * w(t + s) * d(t)``:

======== ======================= ================= ====================================
 wave     starts at k0 (s = 0)    starts at k1       ``d(t)``: 1, 2 (halved each period),
                                  (s = l)            EXP (``gamma**t``)
======== ======================= ================= ====================================
triangle  TRI, TRI2, TRIEXP       DTRI, DTRI2,
                                  DTRIEXP
sine      SIN, SIN2, SINEXP       DSIN, DSIN2,       ``w = |sin(pi x / 2l)|``
                                  DSINEXP
cosine    UPCOS, UPCOS2, UPCOSEXP COS, COS2, COSEXP  ``w = (1 - cos(pi x / l)) / 2``
======== ======================= ================= ====================================

The "2" variants divide by ``2**floor((t + s) / 2l)``; the EXP variants multiply by
``gamma**t`` (unshifted, as LRBench). Restart functions (saw teeth that restart each ``l``
iterations) use the ramp ``r = frac(-t / l)`` (0 at multiples of ``l``, then just below 1,
falling linearly to 0 at the next multiple): RSW ``r``, SINRSW ``sin(pi r / 2)``, COSRSW
``(1 - cos(pi r)) / 2``, each ``k0 + (k1 - k0) * shape * d(t)`` with the 2 variants divided by
``2**floor(t / l)`` and the EXP variants multiplied by ``gamma**t``.

Differences from LRBench's code (deliberate, documented): NSTEP is a pure function (the count
of boundaries ``<= t``; LRBench kept a counter on the function object that advanced by at
most one boundary per call); POLY holds ``k0`` for ``t > l`` (LRBench's formula raises a
negative base to the power ``p``); the triangle wave is computed piecewise-linearly instead of
through ``asin(sin(.))`` (equal up to rounding); SIG is evaluated without overflow.
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod

from swalp.schedules.policy import (
    Policy,
    is_number,
    require,
    require_increasing,
    require_positive,
    require_rate,
)

# ----------------------------------------------------------------------------------------
# Monotone functions


@dataclasses.dataclass(frozen=True)
class FIX(Policy):
    """Fixed rate: ``k0``."""

    NAME = "FIX"
    k0: float

    def check(self) -> None:
        require_rate(self, "k0")

    def value(self, t: int) -> float:
        return self.k0


@dataclasses.dataclass(frozen=True)
class STEP(Policy):
    """Step decay: ``k0 * gamma**floor(t / l)``."""

    NAME = "STEP"
    k0: float
    gamma: float
    l: float

    def check(self) -> None:
        require_rate(self, "k0")
        require_positive(self, "gamma", "l")

    def value(self, t: int) -> float:
        return self.k0 * self.gamma ** math.floor(t / self.l)


@dataclasses.dataclass(frozen=True)
class NSTEP(Policy):
    """Multi-step decay at the iterations listed in ``l``: ``k0 * gamma**n``, ``n`` the number of
    entries of ``l`` that are ``<= t``."""

    NAME = "NSTEP"
    k0: float
    gamma: float
    l: tuple[int, ...]

    def __post_init__(self) -> None:
        if isinstance(self.l, list):
            object.__setattr__(self, "l", tuple(self.l))
        super().__post_init__()

    def check(self) -> None:
        require_rate(self, "k0")
        require_positive(self, "gamma")
        require(self, "l", isinstance(self.l, tuple), "a list of iterations, e.g. [300,450]")
        require_increasing(self, "l", self.l, first=1)

    def value(self, t: int) -> float:
        return self.k0 * self.gamma ** sum(1 for boundary in self.l if t >= boundary)


@dataclasses.dataclass(frozen=True)
class EXP(Policy):
    """Exponential decay: ``k0 * gamma**t``."""

    NAME = "EXP"
    k0: float
    gamma: float

    def check(self) -> None:
        require_rate(self, "k0")
        require_positive(self, "gamma")

    def value(self, t: int) -> float:
        return self.k0 * self.gamma**t


@dataclasses.dataclass(frozen=True)
class INV(Policy):
    """Inverse-time decay: ``k0 * (1 + gamma * t)**-p``."""

    NAME = "INV"
    k0: float
    gamma: float
    p: float

    def check(self) -> None:
        require_rate(self, "k0", "gamma", "p")

    def value(self, t: int) -> float:
        return self.k0 * (1 + self.gamma * t) ** -self.p


@dataclasses.dataclass(frozen=True)
class POLY(Policy):
    """Polynomial decay from ``k1`` at ``t = 0`` to ``k0`` at ``t = l``:
    ``(k1 - k0) * (1 - t / l)**p + k0``, then ``k0``."""

    NAME = "POLY"
    k0: float
    k1: float
    p: float
    l: float

    def check(self) -> None:
        require_rate(self, "k0", "k1", "p")
        require_positive(self, "l")

    def value(self, t: int) -> float:
        return (self.k1 - self.k0) * (1.0 - min(t, self.l) / self.l) ** self.p + self.k0


@dataclasses.dataclass(frozen=True)
class SIG(Policy):
    """Sigmoid: ``k0 / (1 + exp(-gamma * (t - l)))`` (``gamma > 0`` rises to ``k0``, ``< 0``
    falls from it; ``k0 / 2`` at ``t = l``)."""

    NAME = "SIG"
    k0: float
    gamma: float
    l: float

    def check(self) -> None:
        require_rate(self, "k0")
        for name in ("gamma", "l"):
            require(self, name, is_number(getattr(self, name)), "a finite number")

    def value(self, t: int) -> float:
        z = self.gamma * (t - self.l)
        if z >= 0:
            return self.k0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return self.k0 * e / (1.0 + e)


# ----------------------------------------------------------------------------------------
# Cyclic functions (triangle, sine and cosine waves)


def triangle_wave(x: float, l: float) -> float:
    """Triangle of period ``2l``: 0 at ``x = 0``, 1 at ``x = l`` (= (2/pi)|asin(sin(pi x / 2l))|)."""
    u = (x / l) % 2.0
    return 1.0 - abs(u - 1.0)


def sine_wave(x: float, l: float) -> float:
    """``|sin(pi x / 2l)|``: period ``2l``, 0 at ``x = 0``, 1 at ``x = l``."""
    return abs(math.sin(math.pi * x / (2.0 * l)))


def cosine_wave(x: float, l: float) -> float:
    """``(1 - cos(pi x / l)) / 2``: period ``2l``, 0 at ``x = 0``, 1 at ``x = l``."""
    return 0.5 * (1.0 - math.cos(math.pi * x / l))


WAVES = {"triangle": triangle_wave, "sine": sine_wave, "cosine": cosine_wave}


@dataclasses.dataclass(frozen=True)
class Amplitude(Policy):
    """``k0 + (k1 - k0) * shape(t) * damping(t)``: a rate between ``k0`` and ``k1`` (shape in
    [0, 1]) whose swing may shrink (damping in [0, 1]); ``l`` sets the shape's time scale."""

    k0: float
    k1: float
    l: float

    def check(self) -> None:
        require_rate(self, "k0", "k1")
        require_positive(self, "l")

    @abstractmethod
    def shape(self, t: int) -> float:
        """Position between ``k0`` (0) and ``k1`` (1) at iteration ``t``."""

    def damping(self, t: int) -> float:
        return 1.0

    def value(self, t: int) -> float:
        return self.k0 + (self.k1 - self.k0) * self.shape(t) * self.damping(t)


@dataclasses.dataclass(frozen=True)
class ExpDamped(Amplitude):
    """An :class:`Amplitude` whose swing decays as ``gamma**t`` (the EXP variants)."""

    gamma: float = dataclasses.field(kw_only=True)

    def check(self) -> None:
        super().check()
        require_positive(self, "gamma")

    def damping(self, t: int) -> float:
        return self.gamma**t


class _Cyclic(Amplitude):
    """Wave ``WAVE`` at ``t + s`` (``HIGH``: s = l, start at k1), halved every period with
    ``HALVING`` (the 2 variants); see the module docstring."""

    WAVE = "triangle"
    HIGH = False
    HALVING = False

    def shift(self) -> float:
        return self.l if self.HIGH else 0.0

    def shape(self, t: int) -> float:
        return WAVES[self.WAVE](t + self.shift(), self.l)

    def damping(self, t: int) -> float:
        if self.HALVING:
            return 0.5 ** math.floor((t + self.shift()) / (2.0 * self.l))
        return 1.0


class _CyclicExp(ExpDamped, _Cyclic):
    """A cyclic function whose amplitude decays as ``gamma**t``."""


class TRI(_Cyclic):
    """Triangular cyclic rate: ``k0`` at ``t = 0``, ``k1`` at ``t = l``, ``k0`` at ``2l``, ..."""

    NAME = "TRI"


class TRI2(_Cyclic):
    """TRI with the amplitude halved every period ``2l``."""

    NAME, HALVING = "TRI2", True


class TRIEXP(_CyclicExp):
    """TRI with the amplitude multiplied by ``gamma**t``."""

    NAME = "TRIEXP"


class DTRI(_Cyclic):
    """Triangle starting at the top: ``k1`` at ``t = 0``, ``k0`` at ``t = l``, ..."""

    NAME, HIGH = "DTRI", True


class DTRI2(_Cyclic):
    """DTRI halved every period (counted from ``t = -l``)."""

    NAME, HIGH, HALVING = "DTRI2", True, True


class DTRIEXP(_CyclicExp):
    """DTRI with the amplitude multiplied by ``gamma**t``."""

    NAME, HIGH = "DTRIEXP", True


class SIN(_Cyclic):
    """Sine cyclic rate: ``k0 + (k1 - k0) |sin(pi t / 2l)|``."""

    NAME, WAVE = "SIN", "sine"


class SIN2(_Cyclic):
    """SIN with the amplitude halved every period ``2l``."""

    NAME, WAVE, HALVING = "SIN2", "sine", True


class SINEXP(_CyclicExp):
    """SIN with the amplitude multiplied by ``gamma**t``."""

    NAME, WAVE = "SINEXP", "sine"


class DSIN(_Cyclic):
    """Sine starting at the top: ``k0 + (k1 - k0) |sin(pi (t + l) / 2l)|``."""

    NAME, WAVE, HIGH = "DSIN", "sine", True


class DSIN2(_Cyclic):
    """DSIN halved every period (counted from ``t = -l``)."""

    NAME, WAVE, HIGH, HALVING = "DSIN2", "sine", True, True


class DSINEXP(_CyclicExp):
    """DSIN with the amplitude multiplied by ``gamma**t``."""

    NAME, WAVE, HIGH = "DSINEXP", "sine", True


class COS(_Cyclic):
    """Cosine (SGDR without restarts): ``k0 + (k1 - k0) (1 + cos(pi t / l)) / 2``: ``k1`` at
    ``t = 0``, ``k0`` at ``t = l``, back up to ``k1`` at ``2l``."""

    NAME, WAVE, HIGH = "COS", "cosine", True


class COS2(_Cyclic):
    """COS halved every period (counted from ``t = -l``)."""

    NAME, WAVE, HIGH, HALVING = "COS2", "cosine", True, True


class COSEXP(_CyclicExp):
    """COS with the amplitude multiplied by ``gamma**t``."""

    NAME, WAVE, HIGH = "COSEXP", "cosine", True


class UPCOS(_Cyclic):
    """Cosine starting at the bottom: ``k0 + (k1 - k0) (1 - cos(pi t / l)) / 2``."""

    NAME, WAVE = "UPCOS", "cosine"


class UPCOS2(_Cyclic):
    """UPCOS halved every period ``2l``."""

    NAME, WAVE, HALVING = "UPCOS2", "cosine", True


class UPCOSEXP(_CyclicExp):
    """UPCOS with the amplitude multiplied by ``gamma**t``."""

    NAME, WAVE = "UPCOSEXP", "cosine"


# ----------------------------------------------------------------------------------------
# Restart functions (saw teeth)


def restart_ramp(t: int, l: float) -> float:
    """``frac(-t / l)``: 0 at multiples of ``l``, else ``1 - frac(t / l)``."""
    m = t % l
    return 0.0 if m == 0 else (l - m) / l


RAMPS = {
    "linear": lambda r: r,
    "sine": lambda r: math.sin(0.5 * math.pi * r),
    "cosine": lambda r: 0.5 * (1.0 - math.cos(math.pi * r)),
}


class _Restart(Amplitude):
    """Ramp ``frac(-t / l)`` through ``SHAPE``, halved every ``l`` iterations with ``HALVING``
    (the 2 variants: ``2**-floor(t / l)``)."""

    SHAPE = "linear"
    HALVING = False

    def shape(self, t: int) -> float:
        return RAMPS[self.SHAPE](restart_ramp(t, self.l))

    def damping(self, t: int) -> float:
        return 0.5 ** math.floor(t / self.l) if self.HALVING else 1.0


class _RestartExp(ExpDamped, _Restart):
    """A restart function whose amplitude decays as ``gamma**t``."""


class RSW(_Restart):
    """Restarting saw tooth: ``k0 + (k1 - k0) frac(-t / l)`` (``k0`` at multiples of ``l``,
    close to ``k1`` one iteration later, falling linearly)."""

    NAME = "RSW"


class RSW2(_Restart):
    """RSW with the amplitude halved every ``l`` iterations."""

    NAME, HALVING = "RSW2", True


class RSWEXP(_RestartExp):
    """RSW with the amplitude multiplied by ``gamma**t``."""

    NAME = "RSWEXP"


class SINRSW(_Restart):
    """Restarting sine quarter-wave: ``k0 + (k1 - k0) sin(pi frac(-t / l) / 2)``."""

    NAME, SHAPE = "SINRSW", "sine"


class SINRSW2(_Restart):
    """SINRSW with the amplitude halved every ``l`` iterations."""

    NAME, SHAPE, HALVING = "SINRSW2", "sine", True


class SINRSWEXP(_RestartExp):
    """SINRSW with the amplitude multiplied by ``gamma**t``."""

    NAME, SHAPE = "SINRSWEXP", "sine"


class COSRSW(_Restart):
    """Restarting cosine half-wave (SGDR): ``k0 + (k1 - k0) (1 - cos(pi frac(-t / l))) / 2``."""

    NAME, SHAPE = "COSRSW", "cosine"


class COSRSW2(_Restart):
    """COSRSW with the amplitude halved every ``l`` iterations."""

    NAME, SHAPE, HALVING = "COSRSW2", "cosine", True


class COSRSWEXP(_RestartExp):
    """COSRSW with the amplitude multiplied by ``gamma**t``."""

    NAME, SHAPE = "COSRSWEXP", "cosine"


#: The 13 functions of the LRBench paper (Table I).
PAPER_FUNCTIONS = ("FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "TRI", "TRI2", "TRIEXP", "SIN", "SIN2",
                   "SINEXP", "COS")
#: Every function of LRBench's ``lr/LRfunctions.py``.
LRBENCH_FUNCTIONS = (
    "FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "SIG",
    "TRI", "TRI2", "TRIEXP", "DTRI", "DTRI2", "DTRIEXP",
    "SIN", "SIN2", "SINEXP", "DSIN", "DSIN2", "DSINEXP",
    "COS", "COS2", "COSEXP", "UPCOS", "UPCOS2", "UPCOSEXP",
    "RSW", "RSW2", "RSWEXP", "SINRSW", "SINRSW2", "SINRSWEXP", "COSRSW", "COSRSW2", "COSRSWEXP",
)

__all__ = ["LRBENCH_FUNCTIONS", "PAPER_FUNCTIONS", "Amplitude", "ExpDamped", *LRBENCH_FUNCTIONS]
