"""One training epoch and one evaluation pass."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from swalp.data import Batches
from swalp.distributed import sum_over_ranks
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
    on_step: Callable[[torch.Tensor], None] | None = None,
    backward_step: Callable[[torch.Tensor, torch.optim.Optimizer, int], object] | None = None,
) -> float:
    """Train ``model`` for epoch ``epoch`` (0-based) on this rank's share of each batch (see
    :mod:`swalp.distributed`); returns the mean training loss over all ranks.

    The learning rate of each step comes from ``schedule``; after the steps that
    ``schedule.average_after`` names, the iterate joins ``averager``; then ``on_step`` (if
    given) is called with the step's loss (this rank's minibatch loss, a tensor).
    ``backward_step`` (``(loss, optimizer, global step)``, e.g.
    :meth:`swalp.lossscale.ScaledStep.backward_step`) replaces ``loss.backward();
    optimizer.step()`` when given. On CPU each loss is
    checked as it comes; on other devices the loss sum and the first non-finite step are kept
    on the device and read once, at the end of the epoch, so that the host never waits for
    the device within an epoch (the error is the same, raised later).

    Raises:
        NonFiniteError: the loss became NaN or infinite (the message gives epoch and step), or
            a tensor held NaN where its format has none.
    """
    model.train()
    total, count, first_bad = None, 0, None
    step = epoch * schedule.steps_per_epoch
    for x, y, share in batches.shards(epoch):
        lr = schedule.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model(x), y)
        bad = ~torch.isfinite(loss)
        if loss.device.type == "cpu" and bad:
            diverged(str(loss.item()), epoch, step)
        elif loss.device.type != "cpu":
            first_bad = torch.where(bad, step, -1) if first_bad is None else torch.where(
                (first_bad < 0) & bad, step, first_bad)
        shared = loss if share == 1.0 else loss * share
        if backward_step is None:
            shared.backward()
            optimizer.step()
        else:
            backward_step(shared, optimizer, step)
        if averager is not None and schedule.average_after(step):
            averager.update(model)
        if on_step is not None:
            on_step(loss.detach())
        weighted = loss.detach().double() * len(y)
        total = weighted if total is None else total + weighted
        count += len(y)
        step += 1
    if first_bad is not None and int(first_bad) >= 0:
        diverged("not finite", epoch, int(first_bad))
    stream = getattr(optimizer, "stream", None)
    if stream is not None:
        stream.raise_if_nan_seen()
    total, count = sum_over_ranks([float(total), count], total.device)
    return total / count


def diverged(loss: str, epoch: int, step: int) -> None:
    """Raise :class:`NonFiniteError` for a loss ``loss`` (its text) at ``epoch`` and ``step`` (0-based)."""
    raise NonFiniteError(f"training diverged: loss is {loss} at epoch {epoch + 1}, step {step + 1}")


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
