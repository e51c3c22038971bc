"""SWALP's learning-rate schedules as policies: the paper's schedule (``SWALP``) and the
cyclic rate of cyclic SWA (``CSWA``), so that they compose and compare with LRBench's.
"""

from __future__ import annotations

import dataclasses
import functools

from swalp.schedules.lrbench import Amplitude, restart_ramp
from swalp.schedules.paper import Schedule
from swalp.schedules.policy import Policy, require, require_rate


@dataclasses.dataclass(frozen=True)
class SWALP(Policy):
    """The SWALP paper's schedule (:class:`swalp.schedules.paper.Schedule`, same parameter
    names) as a function of the optimizer step ``t``: ``lr`` until half of ``swa_start``,
    linear decay to 1% of ``lr`` at 90% of it, then ``swa_lr`` from epoch ``swa_start``
    (with ``cyclic_min``: the cyclic SWA saw tooth over each ``cycle`` steps). Without
    ``swa_start``, the decay spans ``epochs`` (plain SGD). Epoch-wise: ``steps_per_epoch``
    steps share their epoch's rate (1: ``t`` counts epochs)."""

    NAME = "SWALP"
    lr: float
    epochs: int
    steps_per_epoch: int = 1
    swa_start: int | None = None
    swa_lr: float | None = None
    cycle: int | None = None
    cyclic_min: float | None = None

    def check(self) -> None:
        require_rate(self, "lr")
        for name in ("epochs", "steps_per_epoch"):
            value = getattr(self, name)
            require(self, name, isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                    "an integer >= 1")
        self.schedule  # noqa: B018 (Schedule checks the rest)

    @functools.cached_property
    def schedule(self) -> Schedule:
        """The :class:`Schedule` these parameters describe."""
        try:
            return Schedule(self.lr, self.epochs, self.steps_per_epoch, self.swa_start, self.swa_lr,
                            self.cycle, self.cyclic_min)
        except ValueError as err:
            raise ValueError(f"{self.NAME}: {err}") from None

    def value(self, t: int) -> float:
        return self.schedule.lr_at(t)


class CSWA(Amplitude):
    """Cyclic SWA's rate: over each cycle of ``l`` iterations it falls linearly from just below
    ``k1`` to ``k0``, reached at the cycle's last iteration (where the iterate is averaged):
    ``RSW(t + 1)``, the restarting saw tooth one iteration earlier."""

    NAME = "CSWA"

    def shape(self, t: int) -> float:
        return restart_ramp(t + 1, self.l)


__all__ = ["CSWA", "SWALP"]
