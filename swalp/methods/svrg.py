"""SVRG (Johnson & Zhang 2013) as HazyResearch/torchhalp runs it (``torchhalp/optim/svrg.py``):
``svrg-fp`` in float32 and ``svrg-lp``, SVRG whose weights live on the run's static ``W`` grid.

Every ``T`` steps (``--svrg-period``; the outer loop) the anchor ``w~`` becomes the current
weights and the full gradient ``g~`` (the mean over the whole training set) is computed at it;
each inner step on minibatch ``i`` then moves the weights along

    u = grad_i(w) - grad_i(w~) + g~,    w <- w - lr * u,

the variance-reduced gradient (its variance vanishes as ``w`` and ``w~`` approach the optimum,
so a constant step size converges linearly on strongly convex problems). Gradients are those
of the run's objective, the mean loss plus ``weight_decay / 2 * ||w||^2`` (whose optimum the
convex tasks report the distance to). ``svrg-lp`` rounds ``u`` to role ``G``'s format and the
updated weights to role ``W``'s (each with its rounding, seeded from the run's stream); the
full gradient stays in full precision.

:class:`VarianceReducedTrainer` holds what SVRG and HALP (:mod:`swalp.methods.halp`) share:
the gradient oracle, the outer-loop bookkeeping, the epoch loop, checkpoints, cost.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch.func import functional_call

from swalp.cost import variance_reduced_step_cost
from swalp.methods.base import Method, Option, Trainer, positive_int
from swalp.quantizer import quantize_tensors
from swalp.training import diverged

if TYPE_CHECKING:
    from swalp.experiments.config import RunConfig
    from swalp.experiments.run import Run

#: ``T``: inner steps per outer loop (shared by ``svrg-fp``, ``svrg-lp`` and ``halp``).
PERIOD = Option("svrg_period", int, None, "inner steps T between full gradients; default one epoch",
                lambda label, value: value is None or positive_int(label, value))


def period_of(run: Run) -> int:
    """The run's ``T``: its ``svrg_period``, or the steps of one epoch."""
    return run.config.method_options["svrg_period"] or len(run.train)


class Gradients:
    """Gradient oracle of a run's objective (mean task loss over a batch plus
    ``weight_decay / 2 * ||w||^2``) at any weights, without touching the model's parameters."""

    def __init__(self, run: Run) -> None:
        self.model, self.task, self.weight_decay = run.model, run.task, run.config.weight_decay
        self.names = [name for name, _ in run.model.named_parameters()]

    def __call__(self, weights: list[torch.Tensor], x: torch.Tensor,
                 y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(mean loss, gradient per parameter tensor)`` at ``weights`` on batch ``(x, y)``
        (the loss without the weight-decay term, as SGD's training loss)."""

        leaves = [w.detach().requires_grad_(True) for w in weights]
        params = dict(zip(self.names, leaves, strict=True))
        with torch.enable_grad():
            loss = self.task.loss(functional_call(self.model, params, (x,)), y)
            out = list(torch.autograd.grad(loss, leaves))
        if self.weight_decay:
            out = [g.add(w, alpha=self.weight_decay) for g, w in zip(out, weights, strict=True)]
        return loss.detach(), out


class VarianceReducedTrainer(Trainer):
    """The outer/inner loop of SVRG-type methods. Subclasses implement :meth:`start_outer`
    (after the anchor and the full gradient are set) and :meth:`inner_step`, and name their
    extra state in :attr:`state_names` (lists of tensors, checkpointed)."""

    #: Per-tensor state lists checkpointed under ``variance_reduced`` (besides anchor and full gradient).
    state_names: tuple[str, ...] = ()

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        if run.group.world > 1:
            raise ValueError(f"method {run.method.name} runs in one process (its full-gradient pass is not "
                             "data parallel): use --nproc 1")
        self.period = period_of(run)
        self.gradients = Gradients(run)
        self.params = list(run.model.parameters())
        self.anchor = [p.detach().clone() for p in self.params]
        self.full_gradient = [torch.zeros_like(p) for p in self.params]
        self.full_gradient_passes = 0
        self.lr = run.config.lr
        batches = run.train_in_order
        self.all_x = torch.cat([x for x, _ in batches])
        self.all_y = torch.cat([y for _, y in batches])

    def weights(self) -> list[torch.Tensor]:
        """The model's current weights (the parameters' tensors)."""
        return [p.data for p in self.params]

    def begin_outer(self) -> None:
        """Outer loop: anchor <- current weights, full gradient at the anchor, then :meth:`start_outer`."""
        for anchor, p in zip(self.anchor, self.params, strict=True):
            anchor.copy_(p.data)
        _, full = self.gradients(self.anchor, self.all_x, self.all_y)
        for mine, g in zip(self.full_gradient, full, strict=True):
            mine.copy_(g)
        self.full_gradient_passes += 1
        self.start_outer()

    def start_outer(self) -> None:
        """Method-specific start of an outer loop (anchor and full gradient already set)."""

    def variance_reduced(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(loss at the weights, u)``, ``u = (grad_i(w) - grad_i(w~)) + g~`` on batch ``(x, y)``."""
        loss, at_weights = self.gradients(self.weights(), x, y)
        _, at_anchor = self.gradients(self.anchor, x, y)
        return loss, [(g - a) + f for g, a, f in zip(at_weights, at_anchor, self.full_gradient, strict=True)]

    @abstractmethod
    def inner_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        """One inner step on batch ``(x, y)`` at rate ``lr``; returns the loss before it."""

    def train_epoch(self, epoch: int) -> float:
        run = self.run
        total, count = 0.0, 0
        step = epoch * run.schedule.steps_per_epoch
        for x, y, _ in run.train.shards(epoch):
            self.lr = run.schedule.lr_at(step)
            if step % self.period == 0:
                self.begin_outer()
            with torch.no_grad():
                loss = self.inner_step(x, y, self.lr)
            if not torch.isfinite(loss):
                diverged(str(loss.item()), epoch, step)
            run.after_step(loss)
            total += float(loss) * len(y)
            count += len(y)
            step += 1
        run.stream.raise_if_nan_seen()
        return total / count

    def last_lr(self) -> float:
        return self.lr

    def state_dict(self) -> dict[str, Any]:
        names = ("anchor", "full_gradient", *self.state_names)
        return {"variance_reduced": {**{name: [t.clone() for t in getattr(self, name)] for name in names},
                                     "full_gradient_passes": self.full_gradient_passes}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = state["variance_reduced"]
        for name in ("anchor", "full_gradient", *self.state_names):
            for mine, value in zip(getattr(self, name), saved[name], strict=True):
                mine.copy_(value)
        self.full_gradient_passes = saved["full_gradient_passes"]

    def record_fields(self) -> dict[str, Any]:
        return {"variance_reduced": {"period": self.period,
                                     "full_gradient_passes": self.full_gradient_passes}}


class SVRGTrainer(VarianceReducedTrainer):
    """SVRG; with ``quantize``, ``u`` rounded to ``G``'s format and the weights to ``W``'s."""

    def __init__(self, run: Run, quantize: bool) -> None:
        super().__init__(run)
        self.quantize = quantize

    def inner_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        loss, update = self.variance_reduced(x, y)
        specs, stream = self.run.specs, self.run.stream
        if self.quantize:
            quantize_tensors([(u, specs["G"]) for u in update], stream)
        for p, u in zip(self.params, update, strict=True):
            p.data.add_(u, alpha=-lr)
        if self.quantize:
            quantize_tensors([(p.data, specs["W"]) for p in self.params], stream)
        return loss


class VarianceReducedMethod(Method):
    """Common checks and cost of the SVRG-type methods: convex tasks, plain steps (no momentum,
    Nesterov or weight accumulator), cost with the outer loop amortised."""

    convex_only = True

    def check(self, config: RunConfig) -> None:
        for name, value in (("momentum", config.momentum), ("nesterov", config.nesterov),
                            ("accumulator", config.accumulator)):
            if value:
                raise ValueError(f"method {self.name} takes plain steps (as torchhalp's): {name} must be "
                                 f"unset (0 / off), got {value!r}")

    def step_cost(self, run: Run) -> dict[str, Any]:
        return variance_reduced_step_cost(run.task.build(), run.example, run.trainer.all_x.cpu(), run.specs,
                                          period_of(run), run.config.accelerator)


class SVRG(VarianceReducedMethod):
    """``svrg-fp`` / ``svrg-lp``."""

    options = (PERIOD,)
    roles = ("W", "G")

    def __init__(self, name: str, description: str, low_precision: bool) -> None:
        self.name, self.description, self.low_precision = name, description, low_precision

    def trainer(self, run: Run) -> SVRGTrainer:
        return SVRGTrainer(run, self.low_precision)


METHODS = (
    SVRG("svrg-fp", "float32 SVRG (torchhalp's): every T steps the full gradient at an anchor; inner steps "
         "along grad_i(w) - grad_i(anchor) + full gradient (convex tasks; formats ignored)", False),
    SVRG("svrg-lp", "SVRG with the weights rounded to W's static grid and the variance-reduced gradient "
         "to G's after every step (convex tasks)", True),
)
