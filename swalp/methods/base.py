"""What a training method is: a :class:`Method` (its name, whether it is low precision or
averages, its options and their checks) and the :class:`Trainer` it builds for each run (its
optimizer and state, how an epoch trains, what it adds to checkpoints, history and record,
and the accelerator cost of its training step).

A run (:class:`swalp.experiments.run.Run`) owns what every method shares: the config, the
task, the model, the data batches, the learning-rate schedule, the random stream, the
optimum of a convex task and the history. The trainer owns the rest.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from swalp.roles import ROLES

if TYPE_CHECKING:  # the run imports the methods; the methods only read the run
    from swalp.experiments.config import RunConfig
    from swalp.experiments.run import Run


@dataclass(frozen=True)
class Option:
    """A method-specific run option, kept in ``RunConfig.method_options[name]``.

    Attributes:
        name: key in ``method_options`` (snake case); the command line spells it
            ``--name-with-dashes`` in ``swalp train`` and ``swalp sweep``.
        parse: command-line text -> value (``int``, ``float``, ``str``).
        default: the value a run takes when the config does not set it.
        help: one line for ``--help``: meaning and unit (and what a None default means).
        check: value -> None, raising ``ValueError`` naming the option when the value is bad
            (see :func:`positive_int`, :func:`positive_float`, :func:`one_of`).
        omit_default: a config's :meth:`~swalp.experiments.RunConfig.to_dict` leaves the option
            out while it holds its default (an option added to a method that had runs before:
            their configs, sweep keys and resumable folders stay the same).
    """

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    check: Callable[[str, Any], None]
    omit_default: bool = False

    def describe(self) -> str:
        """``help``, with ``; default VALUE`` unless the default is None."""
        return self.help if self.default is None else f"{self.help}; default {self.default}"

    @property
    def flag(self) -> str:
        """The command-line flag (``--svrg-period`` for ``svrg_period``)."""
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        """``value`` after :attr:`check` (ValueError names :attr:`name` and :attr:`flag`)."""
        self.check(f"{self.name} ({self.flag})", value)
        return value


def positive_int(label: str, value: Any) -> None:
    """Check of an :class:`Option` that must be an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")


def positive_float(label: str, value: Any) -> None:
    """Check of an :class:`Option` that must be a finite number > 0."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{label} must be a finite number > 0, got {value!r}")


def one_of(*choices: str) -> Callable[[str, Any], None]:
    """Check of an :class:`Option` that must be one of ``choices``."""
    def check(label: str, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{label} must be one of {', '.join(choices)}, got {value!r}")

    return check


def int_at_least(minimum: int) -> Callable[[str, Any], None]:
    """Check of an :class:`Option` that must be an integer >= ``minimum``."""
    def check(label: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")

    return check


class Trainer(ABC):
    """The per-run part of a method, built by :meth:`Method.trainer` once the run's model,
    data, schedule and stream exist. Subclasses implement :meth:`train_epoch` and set
    :attr:`optimizer` (its first group's ``lr`` goes into each epoch's history row), or
    override :meth:`last_lr` when they have no torch optimizer."""

    #: The torch optimizer, if the method steps through one.
    optimizer: torch.optim.Optimizer | None = None
    #: The running average of the iterates (averaging methods), else None.
    averager: Any = None

    def __init__(self, run: Run) -> None:
        self.run = run

    @abstractmethod
    def train_epoch(self, epoch: int) -> float:
        """Train epoch ``epoch`` (0-based) and return its mean training loss. After every
        optimizer step call ``self.run.after_step(loss)`` (per-step history rows).

        Raises:
            NonFiniteError: training diverged.
        """

    def last_lr(self) -> float:
        """The learning rate of the last step (the epoch's history row ``lr``)."""
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint entries of the method (merged into the run's checkpoint: their keys must
        differ from the run's own, see :data:`swalp.experiments.run.RUN_STATE_KEYS`)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # noqa: B027 (optional hook: nothing by default)
        """Restore what :meth:`state_dict` saved (``state`` is the whole run checkpoint)."""

    def epoch_fields(self) -> dict[str, Any]:
        """Extra fields of the history row of the epoch just trained."""
        return {}

    def step_fields(self) -> dict[str, Any]:
        """Extra fields of a per-step history row (``log_every``), e.g. an offset's scale."""
        return {}

    def record_fields(self) -> dict[str, Any]:
        """Extra top-level fields of the run record (their keys must differ from the record's)."""
        return {}


class Method(ABC):
    """A training method of the registry (:mod:`swalp.methods`).

    Attributes:
        name: the ``--method`` spelling.
        description: one line for ``--help`` and README's list of methods.
        low_precision: formats apply (roles are quantized); False: every role is fp32.
        averaging: the method averages iterates (``swa_start``/``swa_lr``/``cycle`` apply).
        options: the :class:`Option` s it takes (``RunConfig.method_options``).
        convex_only: the method runs on convex tasks only (it needs full-gradient passes or
            the optimum).
        roles: the roles a low-precision method rounds to their formats; the others are fp32
            in its run (and its record).
    """

    name: str = ""
    description: str = ""
    low_precision: bool = False
    averaging: bool = False
    options: tuple[Option, ...] = ()
    convex_only: bool = False
    roles: tuple[str, ...] = ROLES
    #: Runs its steps through a :class:`~swalp.lossscale.ScaledStep` (error statistics) even
    #: without loss scaling (methods that take ``loss_scale``; see :mod:`swalp.methods.loss_scaling`).
    always_scaled_step: bool = False

    def role_specs(self, config: RunConfig, specs: dict[str, Any]) -> dict[str, Any]:
        """The role specs the method trains with, from the config's low-precision ``specs``
        (default: unchanged; e.g. ``fp8`` puts its master weights in role M)."""
        return specs

    def check(self, config: RunConfig) -> None:  # noqa: B027 (optional hook: nothing by default)
        """Refuse a resolved ``config`` this method cannot train (formats, tasks, option
        combinations), with the reason. Options are already checked one by one."""

    @abstractmethod
    def trainer(self, run: Run) -> Trainer:
        """The run's trainer (optimizer and state)."""

    def step_cost(self, run: Run) -> dict[str, Any]:
        """The accelerator cost of one training step (see :func:`swalp.cost.step_cost`): by
        default the traced forward/backward/update step of the run's model at its formats,
        with SWA averaging every cycle for averaging methods, the unscaling of the gradients
        when the trainer scales the loss, and a per-layer scaler's element-wise work."""
        from swalp import cost as costs

        swa_cycle = run.schedule.cycle_steps if self.averaging else None
        scaled = getattr(run.trainer, "scaled_step", None)
        scaler = None if scaled is None else scaled.scaler
        return costs.step_cost(run.task.build(), run.example, run.specs, swa_cycle, run.config.accelerator,
                               loss_scaling=scaler is not None,
                               adaptive_every=scaler.every if getattr(scaler, "per_layer", False) else None)
