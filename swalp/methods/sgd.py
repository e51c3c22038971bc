"""SGD methods: ``sgd-fp`` (float32 SGD) and ``sgd-lp`` (every role quantized,
:class:`~swalp.optim.LowPrecisionSGD`: the SWALP paper's low-precision SGD). The averaging
variants (:mod:`swalp.methods.swa`, :mod:`swalp.methods.swalp`) use the same trainer with an
:class:`~swalp.swa.Averager`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from swalp.methods import loss_scaling
from swalp.methods.base import Method, Option, Trainer
from swalp.optim import LowPrecisionSGD
from swalp.swa import Averager
from swalp.training import train_epoch

if TYPE_CHECKING:
    from swalp.experiments.config import RunConfig
    from swalp.experiments.run import Run


class SGDTrainer(Trainer):
    """:class:`~swalp.optim.LowPrecisionSGD` on the run's parameters (the run's ``W G M``
    specs: fp32 for a full-precision method, so plain SGD; a weight accumulator in
    ``accumulator``'s format, default the config's) and, for an averaging method, an
    :class:`~swalp.swa.Averager` fed after the steps the schedule names. A method that takes
    ``loss_scale`` runs its steps through :attr:`scaled_step` when it scales the loss (or
    always records error statistics): see :mod:`swalp.methods.loss_scaling`."""

    def __init__(self, run: Run, averaging: bool, accumulator: str | None = None) -> None:
        super().__init__(run)
        config = run.config
        if accumulator is None and run.method.low_precision:
            accumulator = config.accumulator
        self.optimizer = LowPrecisionSGD(
            run.model.parameters(), run.specs, run.stream, lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay, nesterov=config.nesterov, accumulator=accumulator)
        self.averager = Averager(run.model, run.stream) if averaging else None
        takes_loss_scale = loss_scaling.LOSS_SCALE in run.method.options
        self.scaled_step = (loss_scaling.scaled_step(run, always=run.method.always_scaled_step)
                            if takes_loss_scale else None)

    def train_epoch(self, epoch: int) -> float:
        run = self.run
        backward_step = None if self.scaled_step is None else self.scaled_step.backward_step
        return train_epoch(run.net, self.optimizer, run.train, run.task, run.schedule, epoch, self.averager,
                           on_step=run.after_step, backward_step=backward_step)

    def state_dict(self) -> dict[str, Any]:
        state = {"optimizer": self.optimizer.state_dict(),
                 "averager": None if self.averager is None else self.averager.state_dict()}
        if self.scaled_step is not None:
            state["loss_scaling"] = self.scaled_step.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.averager is not None:
            self.averager.load_state_dict(state["averager"])
        if self.scaled_step is not None:
            self.scaled_step.load_state_dict(state["loss_scaling"])

    def record_fields(self) -> dict[str, Any]:
        """``loss_scaling``: the scaler's state and the loss-scaling history (runs with one)."""
        return {} if self.scaled_step is None else {"loss_scaling": self.scaled_step.record()}


class SGD(Method):
    """SGD with momentum, weight decay and the run's schedule; ``low_precision`` quantizes
    every role (:class:`~swalp.optim.LowPrecisionSGD`, quantizers on activations and errors),
    ``averaging`` adds SWA's running mean of the iterates."""

    def __init__(self, name: str, description: str, *, low_precision: bool, averaging: bool,
                 options: tuple[Option, ...] | None = None) -> None:
        self.name, self.description = name, description
        self.low_precision, self.averaging = low_precision, averaging
        if options is not None:
            self.options = options

    def check(self, config: RunConfig) -> None:
        if loss_scaling.LOSS_SCALE in self.options:
            loss_scaling.check(config)

    def trainer(self, run: Run) -> SGDTrainer:
        return SGDTrainer(run, self.averaging)


METHODS = (
    SGD("sgd-fp", "float32 SGD (formats ignored)", low_precision=False, averaging=False),
    SGD("sgd-lp", "low-precision SGD: W, A, E, G, M rounded to their formats every step (SWALP paper)",
        low_precision=True, averaging=False, options=loss_scaling.OPTIONS),
)
