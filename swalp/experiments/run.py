"""``Run``: the state of one run (model, data, schedule, stream, the method's trainer,
history) and what every method shares: an epoch's history row, per-step rows, the final
metrics, checkpoints."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch.optim.swa_utils import update_bn

from swalp import protocols
from swalp.data import Batches
from swalp.devices import make_deterministic
from swalp.distributed import (
    ACTIVATION_SEED_TAG,
    check_world,
    current_group,
    data_parallel,
    rank_device,
    rank_stream,
)
from swalp.experiments.config import RunConfig
from swalp.insert import insert_quantizers, quantization_points
from swalp.methods import get_method
from swalp.metrics import CONFIDENCE_METRICS, confidence_metrics, predictions
from swalp.quantizer import RandomStream, share_stream
from swalp.schedules import Schedule, parse_policy
from swalp.tasks import CLASSIFICATION, Task, flat_parameters, get_task, optimum
from swalp.training import evaluate

#: First counter of the stream that evaluates the low-precision average (far from training's).
EVAL_STREAM_COUNTER = 1 << 62
#: The run's own checkpoint entries (a method's :meth:`~swalp.methods.Trainer.state_dict` adds others).
RUN_STATE_KEYS = ("config", "epoch", "elapsed", "history", "steps", "model", "stream", "torch_rng",
                  "cuda_rng")


def make_schedule(config: RunConfig, steps_per_epoch: int) -> Schedule:
    """The learning rate of every step of ``config`` (averaging fields only for averaging methods)."""
    averaging = get_method(config.method).averaging
    policy = None if config.lr_policy is None else parse_policy(config.lr_policy).per_step(steps_per_epoch)
    return Schedule(config.lr, config.epochs, steps_per_epoch, config.swa_start if averaging else None,
                    config.swa_lr if averaging else None, config.cycle, config.cyclic_min,
                    decay=config.schedule != "constant", decay_to_swa_lr=config.schedule == "swa",
                    policy=policy)


class Run:
    """The state of one run of a resolved ``config``: model, data, stream, schedule, the
    method's :class:`~swalp.methods.Trainer` (:attr:`trainer`: optimizer, average, ...),
    history (:attr:`history`, one row per epoch) and per-step rows (:attr:`steps`)."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.task: Task = get_task(config.task)
        self.method = get_method(config.method)
        self.specs = config.specs()
        self.protocol = protocols.get_protocol(self.task.name, config.method, config.protocol)
        normalization = self.protocol.normalization
        options = {} if normalization is None else {"normalization": normalization}
        self.group = current_group()
        check_world(config.batch_size, self.group.world)
        self.device = rank_device(config.device, self.group)
        make_deterministic(self.device)
        data = self.task.data(config.data_dir, config.train_size, **options)
        self.data = data
        x_train, y_train = data.x_train.to(self.device), data.y_train.to(self.device)
        self.train = Batches(x_train, y_train, config.batch_size, config.seed, data.augment,
                             shard=(self.group.rank, self.group.world))
        self.train_in_order = self.train.in_order()
        self.test = Batches(data.x_test.to(self.device), data.y_test.to(self.device),
                            self.task.eval_batch_size).in_order()
        self.stream = RandomStream(config.seed)
        torch.manual_seed(config.seed)
        self.model = self.task.build().to(self.device)
        # dropout masks and activations: the run's stream, a rank-distinct seed in data parallel
        local_stream = rank_stream(self.stream, ACTIVATION_SEED_TAG, self.group)
        share_stream(self.model, local_stream)
        self.example = data.x_train[:config.batch_size]
        self.lp = self.method.low_precision
        if self.lp and not self.task.convex:
            insert_quantizers(self.model, self.specs["A"], self.specs["E"], local_stream,
                              quantize_input=self.task.quantize_input,
                              targets=quantization_points(self.model))
        self.schedule = make_schedule(config, len(self.train))
        self.net = data_parallel(self.model, self.device, self.group, self.stream, config.comm_format)
        self.optimum = (optimum(self.task.name, config.weight_decay).to(self.device) if self.task.convex
                        else None)
        self.history: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.step = 0  # optimizer steps done (the per-step rows count them)
        self.epoch = 0
        self.elapsed = 0.0
        self.trainer = self.method.trainer(self)

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The trainer's torch optimizer (None for a method without one)."""
        return self.trainer.optimizer

    @property
    def averager(self) -> Any:
        """The trainer's :class:`~swalp.swa.Averager` (averaging methods), else None."""
        return self.trainer.averager

    def state_dict(self) -> dict[str, Any]:
        state = {
            "config": self.config.to_dict(), "epoch": self.epoch, "elapsed": self.elapsed,
            "history": self.history, "model": self.model.state_dict(), "stream": self.stream.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }
        if self.config.log_every is not None:
            state["steps"] = self.steps
        return self.with_method_fields(state, self.trainer.state_dict(), RUN_STATE_KEYS, "checkpoint entries")

    def with_method_fields(self, own: dict[str, Any], extra: dict[str, Any], reserved: Any,
                           what: str) -> dict[str, Any]:
        """``own`` with the method's ``extra`` fields added; a key in ``reserved`` (the run's
        own) is a programming error of the method, refused by name."""
        clash = sorted(set(extra) & set(reserved))
        if clash:
            raise ValueError(f"method {self.method.name}'s {what} {clash} clash with the run's")
        return own | extra

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.elapsed, self.history = state["epoch"], state["elapsed"], state["history"]
        self.steps = list(state.get("steps", []))
        self.step = self.epoch * self.schedule.steps_per_epoch
        self.model.load_state_dict(state["model"])
        self.trainer.load_state_dict(state)
        self.stream.load_state_dict(state["stream"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)

    def distance(self, model: torch.nn.Module) -> float | None:
        """Squared distance ``||w - w*||^2`` of ``model``'s parameters to the optimum (convex
        tasks), else None."""
        if self.optimum is None:
            return None
        return float((flat_parameters(model) - self.optimum).pow(2).sum())

    def after_step(self, loss: torch.Tensor) -> None:
        """Called by the trainer after every optimizer step with the step's minibatch loss:
        counts the step and, every ``log_every`` steps, appends ``{"step" (1-based), "loss",
        "dist_to_opt", **trainer.step_fields()}`` to :attr:`steps`."""
        self.step += 1
        every = self.config.log_every
        if every is not None and self.step % every == 0:
            self.steps.append({"step": self.step, "loss": float(loss),
                               "dist_to_opt": self.distance(self.model), **self.trainer.step_fields()})

    def run_epoch(self) -> dict[str, Any]:
        start = time.perf_counter()
        train_loss = self.trainer.train_epoch(self.epoch)
        if self.protocol.refresh_iterate_bn:
            update_bn(self.train_in_order, self.model)
        test_loss, test_error = evaluate(self.model, self.test, self.task)
        row: dict[str, Any] = {
            "epoch": self.epoch + 1, "lr": self.trainer.last_lr(), "train_loss": train_loss,
            "test_loss": test_loss, "test_error": test_error, "swa_test_error": None,
            "dist_to_opt": self.distance(self.model), "swa_dist_to_opt": None,
        }
        if self.averager is not None and self.averager.count:
            average = self.averager.full_precision(self.train_in_order)
            row["swa_test_error"] = evaluate(average, self.test, self.task)[1]
            row["swa_dist_to_opt"] = self.distance(average)
        row.update(self.trainer.epoch_fields())
        self.epoch += 1
        self.elapsed += time.perf_counter() - start
        row["time_s"] = self.elapsed
        self.history.append(row)
        return row

    def final(self, finished: bool = True) -> dict[str, Any]:
        """Final metrics: the last epoch's errors, ``dist_to_opt`` of the returned model (the
        average for averaging methods, else the last iterate) and ``iterate_dist_to_opt`` of the
        last iterate. Only when ``finished``: ``swa_lp_test_error`` (the average quantized to W's
        format, activations quantized; it draws from a stream of its own, so evaluating it does
        not change training) and the returned model's LRBench metrics (:meth:`lrbench_metrics`)."""
        last = self.history[-1]
        averaged = last["swa_test_error"] is not None
        final = {key: last[key] for key in ("train_loss", "test_error", "swa_test_error")}
        final["swa_lp_test_error"] = None
        final["dist_to_opt"] = last["swa_dist_to_opt" if averaged else "dist_to_opt"]
        final["iterate_dist_to_opt"] = last["dist_to_opt"]
        if finished:
            final.update(self.lrbench_metrics(averaged, last["train_loss"]))
        if finished and self.averager is not None and self.lp and self.averager.count:
            stream = RandomStream(self.config.seed, EVAL_STREAM_COUNTER)
            average = self.averager.low_precision(self.train_in_order, self.specs["W"], stream)
            final["swa_lp_test_error"] = evaluate(average, self.test, self.task)[1]
        return final

    def lrbench_metrics(self, averaged: bool, train_loss: float) -> dict[str, Any]:
        """``test_loss`` and ``robustness`` (test loss minus the last epoch's training loss) of
        the returned model (the full-precision average when ``averaged``), and for
        classification its top-1/top-5 accuracy and confidences (:mod:`swalp.metrics`)."""
        model = self.averager.full_precision(self.train_in_order) if averaged else self.model
        outputs, targets = predictions(model, self.test)
        test_loss = float(self.task.loss(outputs, targets))
        metrics: dict[str, Any] = {"test_loss": test_loss, "robustness": test_loss - train_loss}
        if self.task.kind == CLASSIFICATION:
            return metrics | confidence_metrics(outputs, targets)
        return metrics | dict.fromkeys(CONFIDENCE_METRICS)
