"""One training epoch and one evaluation pass."""

from __future__ import annotations

import torch
from torch import nn

from swalp.data import Batches
from swalp.quantizer import NonFiniteError
from swalp.schedules import Schedule
from swalp.swa import Averager
from swalp.tasks import Task


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Batches,
    task: Task,
    schedule: Schedule,
    epoch: int,
    averager: Averager | None = None,
) -> float:
    """Train ``model`` for epoch ``epoch`` (0-based); returns the mean training loss.

    The learning rate of each step comes from ``schedule``; after the steps that
    ``schedule.average_after`` names, the iterate joins ``averager``.

    Raises:
        NonFiniteError: the loss became NaN or infinite (the message gives epoch and step).
    """
    model.train()
    total, count = 0.0, 0
    step = epoch * schedule.steps_per_epoch
    for x, y in batches.epoch(epoch):
        lr = schedule.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model(x), y)
        if not torch.isfinite(loss):
            raise NonFiniteError(f"training diverged: loss is {loss.item()} at epoch {epoch + 1}, "
                                 f"step {step + 1}")
        loss.backward()
        optimizer.step()
        if averager is not None and schedule.average_after(step):
            averager.update(model)
        total += loss.item() * len(y)
        count += len(y)
        step += 1
    return total / count


@torch.no_grad()
def evaluate(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]],
             task: Task) -> tuple[float, float]:
    """``(mean loss, test error)`` of ``model`` in eval mode over ``batches``; the error is
    in percent for classification and the mean squared error for regression."""
    model.eval()
    loss, errors, count = 0.0, 0.0, 0
    for x, y in batches:
        out = model(x)
        loss += task.loss(out, y).item() * len(y)
        errors += task.errors(out, y)
        count += len(y)
    return loss / count, errors / count * task.error_scale()
