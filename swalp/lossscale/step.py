"""One training step with loss scaling and per-layer error statistics, and their history.

:class:`ScaledStep` replaces ``loss.backward(); optimizer.step()`` in the training loop:

1. the statistics (if any) are told the step begins;
2. ``scaler.scale_loss(loss).backward()`` (plain ``loss.backward()`` without a scaler);
3. with a scaler: the optimizer rounds the scaled gradients to role ``G``
   (``optimizer.quantize_gradients()``), ``scaler.unscale_`` divides them by their scale in
   float32 and checks them, ``scaler.update`` decides; a skipped step calls no
   ``optimizer.step``, so weights, momentum and master weights stay exactly as they were.
   Random stream: a skipped step has drawn the counters of its forward and backward
   quantizers and of the gradients' rounding, and none of the update's (weights, momentum,
   master weights); a resumed run replays the same draws.
4. every ``every`` steps (and on every skipped step) a row joins the history: the step, the
   scale it used, whether it was skipped, the skipped steps so far, where an overflow started
   (``overflow_at``: ``layer NAME`` for an error, ``gradient of PARAMETER`` for a weight
   gradient) and the per-layer statistics (:class:`~swalp.lossscale.stats.ErrorStatistics`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from swalp.lossscale.scalers import LossScaleFloorError, LossScaler
from swalp.lossscale.stats import ErrorStatistics


class ScaledStep:
    """Loss scaling and error statistics of a run (see the module docstring).

    Args:
        model: the model trained (the scaler attaches to it).
        scaler: a loss scaler, or None for none.
        statistics: per-layer error statistics, or None.
        every: history interval in steps (the statistics' interval when they are given).
    """

    def __init__(self, model: nn.Module, scaler: LossScaler | None, statistics: ErrorStatistics | None,
                 every: int) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every (history interval in steps) must be a positive integer, got {every!r}")
        self.model = model
        self.scaler = scaler
        self.statistics = statistics
        self.every = statistics.every if statistics is not None else every
        self.history: list[dict[str, Any]] = []
        self.overflow_at: str | None = None
        if scaler is not None:
            scaler.attach(model)

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, step: int) -> bool:
        """Backward pass and optimizer step for global step ``step`` (0-based); True when skipped.

        Raises:
            LossScaleFloorError: the errors keep overflowing at the floor (message: step, layer).
        """
        stats = self.statistics
        if stats is not None:
            stats.begin_step(step)
        scale = None if self.scaler is None else self.scaler.record()
        skipped = False
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale_loss(loss).backward()
            if self.scaler.per_layer:  # its scales are chosen during the backward pass
                scale = self.scaler.record()
            quantize = getattr(optimizer, "quantize_gradients", None)
            if quantize is not None:
                quantize()
            params = [p for group in optimizer.param_groups for p in group["params"]]
            overflow = self.scaler.unscale_(params)
            self.overflow_at = self._overflow_place(params) if overflow else None
            try:
                skipped = self.scaler.update(overflow)
            except LossScaleFloorError as err:
                raise LossScaleFloorError(f"step {step + 1} ({self.overflow_at}): {err}") from None
            if not skipped:
                if quantize is not None:
                    optimizer.step(gradients_quantized=True)
                else:
                    optimizer.step()
        if step % self.every == 0 or skipped:
            self.history.append(self._row(step, scale, skipped))
        return skipped

    def _overflow_place(self, params: list[torch.Tensor]) -> str:
        """Where an overflow started: the first layer (backward order) whose rounded error was
        not finite, else the first parameter whose gradient was not (the weight-gradient GEMM
        overflowed role G's format)."""
        if self.statistics is not None and self.statistics.first_nonfinite is not None:
            return f"layer {self.statistics.first_nonfinite}"
        names = {id(p): name for name, p in self.model.named_parameters()}
        for p in params:
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                return f"gradient of {names.get(id(p), 'a parameter')}"
        return "unknown place"

    def _row(self, step: int, scale: dict[str, float] | None, skipped: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"step": step, "skipped": skipped}
        if scale is not None:
            row.update(scale)
            row["skipped_total"] = self.scaler.skipped
            row["overflow_at"] = self.overflow_at
        if self.statistics is not None:
            row["layers"] = self.statistics.row()
        return row

    def state_dict(self) -> dict[str, Any]:
        return {"scaler": None if self.scaler is None else self.scaler.state_dict(), "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state["scaler"] is None) != (self.scaler is None):
            raise ValueError("the checkpoint's loss scaling does not match the run's")
        if self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])

    def record(self) -> dict[str, Any]:
        """The run record's ``loss_scaling``: scaler state, statistics description and history."""
        return {
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "statistics": None if self.statistics is None else self.statistics.describe(),
            "every": self.every, "history": self.history,
        }
