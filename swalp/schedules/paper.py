"""Learning-rate schedules of the SWALP paper's code and of the SWA code it takes its
full-precision baselines from, and when to average.

Per epoch ``e`` (0-based), with ``lr`` the initial rate (``stevenygd/SWALP`` ``train.py``
``schedule``; ``timgaripov/swa`` ``train.py`` ``schedule``):

* averaging methods (``swa-fp``, ``swalp``), SWALP's code: ``t = e / swa_start``; ``lr``
  while ``t <= 0.5``, then linear decay to ``0.01 * lr`` at ``t = 0.9``, held until
  ``swa_start``; from ``swa_start`` on, ``swa_lr`` (or, with ``cyclic_min``, a per-step saw
  tooth from ``swa_lr`` down to ``cyclic_min`` over each averaging cycle, as cyclic SWA).
* ``decay_to_swa_lr`` (SWA's code): the same shape, but the decay ends at ``swa_lr`` (at
  ``t = 0.9``) and stays there: no drop to ``0.01 * lr`` before averaging.
* plain SGD (``sgd-fp``, ``sgd-lp``), both codes: the same shape over the whole budget,
  ``t = e / epochs``, ending at ``0.01 * lr``.
* ``decay=False``: ``lr`` constant (then ``swa_lr`` from ``swa_start``), for convex tasks.
* ``policy``: any function of the step (a :class:`~swalp.schedules.policy.Policy`, e.g. from
  ``--lr-policy``) replaces the rates above; the averaging points stay as below.

Rates are computed as both codes do, ``lr * factor`` (``swa_lr`` is ``lr * (swa_lr / lr)``).

Averaging follows both codes' test ``epoch + 1 >= swa_start``: the first iterate averaged is
the one at the end of epoch ``swa_start - 1`` (the last epoch before the rate switches to
``swa_lr``), then one after every ``cycle`` optimizer steps (``cycle = steps per epoch``: at
the end of every epoch), so ``epochs - swa_start + 1`` iterates over a run (101 for 300
epochs from 200).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Final learning rate of the decay, as a fraction of the initial one (paper's code).
DECAY_RATIO = 0.01


def decay_factor(t: float, final: float = DECAY_RATIO) -> float:
    """Multiplier of the initial rate at fraction ``t`` of the decay budget (>= 0): 1 up to
    ``t = 0.5``, linear down to ``final`` at ``t = 0.9``, then ``final``."""
    if t <= 0.5:
        return 1.0
    if t <= 0.9:
        return 1.0 - (1.0 - final) * (t - 0.5) / 0.4
    return final


@dataclass(frozen=True)
class Schedule:
    """Learning rate and averaging points of one run.

    Args:
        lr: initial learning rate.
        epochs: training epochs.
        steps_per_epoch: optimizer steps per epoch.
        swa_start: first averaging epoch, or None for plain SGD.
        swa_lr: learning rate from ``swa_start`` on (top of each cycle when cyclic).
        cycle: optimizer steps between averages (None: ``steps_per_epoch``).
        cyclic_min: bottom of the cyclic rate, or None for a constant ``swa_lr``.
        decay: False for a constant ``lr`` (then ``swa_lr`` from ``swa_start``): the convex
            experiments' setting.
        decay_to_swa_lr: SWA's code: the decay before ``swa_start`` ends at ``swa_lr``
            instead of ``0.01 * lr``.
        policy: learning rate as a function of the step, replacing the rates above (None: the
            paper's).
    """

    lr: float
    epochs: int
    steps_per_epoch: int
    swa_start: int | None = None
    swa_lr: float | None = None
    cycle: int | None = None
    cyclic_min: float | None = None
    decay: bool = True
    decay_to_swa_lr: bool = False
    policy: Callable[[int], float] | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ValueError(f"epochs and steps_per_epoch must be >= 1, got {self.epochs}, "
                             f"{self.steps_per_epoch}")
        if self.swa_start is not None:
            if not 1 <= self.swa_start < self.epochs:
                raise ValueError(f"swa_start must be in [1, epochs - 1] = [1, {self.epochs - 1}], "
                                 f"got {self.swa_start}")
            if self.swa_lr is None or not self.swa_lr > 0:
                raise ValueError(f"swa_lr must be > 0 when averaging, got {self.swa_lr}")
        if self.cycle is not None and self.cycle < 1:
            raise ValueError(f"cycle must be >= 1 optimizer steps, got {self.cycle}")
        if self.cyclic_min is not None and not 0 < self.cyclic_min <= (self.swa_lr or 0):
            raise ValueError(f"cyclic_min must be in (0, swa_lr], got {self.cyclic_min}")
        if self.policy is not None and self.cyclic_min is not None:
            raise ValueError("cyclic_min sets the rate of the paper's schedule; with a learning-rate policy, "
                             "write cyclic SWA into the policy (CSWA)")

    @property
    def averaging(self) -> bool:
        return self.swa_start is not None

    @property
    def cycle_steps(self) -> int:
        return self.cycle or self.steps_per_epoch

    def _swa_step(self, step: int) -> int:
        """Steps since the first averaging epoch began (negative before it)."""
        return step - (self.swa_start or 0) * self.steps_per_epoch

    def lr_at(self, step: int) -> float:
        """Learning rate of optimizer step ``step`` (0-based, counted over the whole run)."""
        if self.policy is not None:
            return self.policy(step)
        epoch = step // self.steps_per_epoch
        if not self.averaging:
            return self.lr * decay_factor(epoch / self.epochs) if self.decay else self.lr
        swa_ratio = self.swa_lr / self.lr
        if epoch < self.swa_start:
            if not self.decay:
                return self.lr
            final = swa_ratio if self.decay_to_swa_lr else DECAY_RATIO
            return self.lr * decay_factor(epoch / self.swa_start, final)
        if self.cyclic_min is None:
            return self.lr * swa_ratio
        t = (self._swa_step(step) % self.cycle_steps + 1) / self.cycle_steps
        return (1 - t) * self.swa_lr + t * self.cyclic_min

    def average_after(self, step: int) -> bool:
        """True when the iterate after optimizer step ``step`` joins the average: the last step
        of epoch ``swa_start - 1``, then every ``cycle_steps`` steps."""
        since = self._swa_step(step) + 1
        return self.averaging and since >= 0 and since % self.cycle_steps == 0
