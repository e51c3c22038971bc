"""Run one experiment: a task trained with one method at given formats, joined with the
accelerator cost of a training step; JSON record, atomic per-epoch checkpoints, resume.

Methods: ``sgd-fp`` (float32 SGD), ``swa-fp`` (float32 SGD + SWA), ``sgd-lp`` (every role
quantized, :class:`~swalp.optim.LowPrecisionSGD`), ``swalp`` (``sgd-lp`` + averaging of the
low-precision iterates). Full-precision methods ignore ``formats`` (their record says fp32).

A run is deterministic for a seed: torch and Numba run single-threaded, the model is
initialized after ``torch.manual_seed(seed)``, the data order is a function of
``(seed, epoch)`` and stochastic rounding of ``(seed, call count)``. A run resumed from its
checkpoint ends with weights bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import update_bn

from swalp import cost as costs
from swalp import protocols
from swalp.data import Batches
from swalp.devices import make_deterministic, resolve_device
from swalp.distributed import (
    ACTIVATION_SEED_TAG,
    check_world,
    current_group,
    data_parallel,
    exchange_cost,
    rank_device,
    rank_stream,
    ranks_agree,
)
from swalp.insert import insert_quantizers, quantization_points
from swalp.metrics import CONFIDENCE_METRICS, confidence_metrics, predictions
from swalp.optim import LowPrecisionSGD
from swalp.quantizer import NonFiniteError, RandomStream, share_stream
from swalp.roles import ROLES, RoleSpec, role_specs
from swalp.runio import run_folder
from swalp.runio.checkpoint import save_checkpoint
from swalp.runio.files import write_json
from swalp.runio.lock import FolderLock
from swalp.runio.run_folder import (
    CHECKPOINT_FILE,
    RECORD_FILE,
    RunExistsError,
    UnfinishedRunError,
    prepare_run_folder,
)
from swalp.schedules import Schedule, parse_policy
from swalp.swa import Averager
from swalp.tasks import CLASSIFICATION, TASKS, Task, flat_parameters, get_task, optimum
from swalp.threads import single_threaded
from swalp.training import evaluate, train_epoch

METHODS = ("sgd-fp", "swa-fp", "sgd-lp", "swalp")
AVERAGING = ("swa-fp", "swalp")
LOW_PRECISION = ("sgd-lp", "swalp")
SCHEDULES = ("paper", "swa", "constant")
#: First counter of the stream that evaluates the low-precision average (far from training's).
EVAL_STREAM_COUNTER = 1 << 62
#: Fields a task supplies when the config leaves them None.
TASK_DEFAULTS = ("epochs", "batch_size", "lr", "swa_lr", "swa_start", "momentum", "weight_decay", "schedule")


@dataclasses.dataclass
class RunConfig:
    """Everything that defines a run (JSON-serializable with :meth:`to_dict`).

    Attributes:
        task: a name from :data:`swalp.tasks.TASKS`.
        method: one of :data:`METHODS`.
        formats: role -> format spelling (roles ``W A E G M``), or one spelling for all.
        rounding: role -> rounding mode, or one mode for all.
        layout: role -> block layout (``auto``, ``tensor``, ``dim0``, ``block:N``), or one.
        epochs, batch_size, lr, swa_lr, swa_start, momentum, weight_decay, schedule: None takes
            the protocol's value, else the task's default. From epoch ``swa_start`` (0-based)
            on the rate is ``swa_lr``; the first iterate averaged is the one at the end of epoch
            ``swa_start - 1``. The schedule is ``paper`` (SWALP's code), ``swa`` (SWA's code:
            the decay ends at ``swa_lr``; see :mod:`swalp.schedules.paper`) or ``constant``.
        cycle: optimizer steps between averages (None: once per epoch).
        cyclic_min: with a value, cyclic SWA: the rate falls from ``swa_lr`` to it each cycle.
        lr_policy: a learning-rate policy spec (:func:`swalp.schedules.parse_policy`) that
            replaces ``schedule``'s rates (``lr``, ``swa_lr``, ``cyclic_min``); averaging
            still starts at ``swa_start``. None: ``schedule``.
        nesterov: Nesterov momentum.
        accumulator: format of a higher-precision weight accumulator, or None for none.
        seed: run seed (model init, data order, stochastic rounding).
        data_dir: directory of local data (CIFAR tasks).
        train_size: number of training examples of a task whose data is generated (MNIST-1D);
            None: the task's standard training set.
        accelerator: ``accel_model`` preset for the cost of a training step.
        protocol: ``paper`` (how the paper's table got this method's number: the default of
            the tasks that have one) or ``toolkit`` (the task's defaults for every method; the
            default elsewhere). See :mod:`swalp.protocols`.
        device: ``cpu``, ``cuda``, ``mps`` or ``auto`` (see :mod:`swalp.devices`; resolved to
            the device used).
        comm_format: data-parallel runs: format each rank's gradient is rounded to before the
            all-reduce (None: float32); see :mod:`swalp.distributed`.
    """

    task: str = "digits-vgg"
    method: str = "swalp"
    formats: dict[str, str] | str = "bfp8"
    rounding: dict[str, str] | str = "stochastic"
    layout: dict[str, str] | str = "auto"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    swa_lr: float | None = None
    swa_start: int | None = None
    cycle: int | None = None
    cyclic_min: float | None = None
    lr_policy: str | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    nesterov: bool = False
    schedule: str | None = None
    accumulator: str | None = None
    seed: int = 0
    data_dir: str | None = None
    train_size: int | None = None
    accelerator: str = costs.DEFAULT_ACCELERATOR
    protocol: str | None = None
    device: str = "cpu"
    comm_format: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, formats/rounding/layout expanded to one entry per role."""
        out = dataclasses.asdict(self)
        for name in ("formats", "rounding", "layout"):
            value = out[name]
            out[name] = dict.fromkeys(ROLES, value) if isinstance(value, str) else dict(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown RunConfig fields {unknown}; fields are {sorted(names)}")
        return cls(**data)

    def resolved(self) -> RunConfig:
        """A copy with the task's defaults filled in and every field checked.

        Raises:
            ValueError: unknown task/method/schedule/format, or inconsistent options
                (e.g. ``swa_start >= epochs`` for an averaging method).
        """
        task = get_task(self.task)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; methods are {', '.join(METHODS)}")
        protocol_name = self.protocol or protocols.default_protocol(task.name)
        settings = protocols.get_protocol(task.name, self.method, protocol_name).settings
        filled = dataclasses.replace(self, protocol=protocol_name, **{
            name: settings.get(name, task.defaults[name])
            for name in TASK_DEFAULTS if getattr(self, name) is None})
        if filled.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {filled.schedule!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(filled, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("lr", "swa_lr"):
            if not getattr(filled, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(filled, name)!r}")
        if not 0 <= filled.momentum < 1 or filled.weight_decay < 0:
            raise ValueError(f"momentum must be in [0, 1) and weight_decay >= 0, got {filled.momentum}, "
                             f"{filled.weight_decay}")
        if isinstance(filled.seed, bool) or not isinstance(filled.seed, int) or filled.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {filled.seed!r}")
        if filled.method in AVERAGING and not 1 <= filled.swa_start < filled.epochs:
            raise ValueError(f"swa_start must be in [1, epochs - 1] = [1, {filled.epochs - 1}] for "
                             f"{filled.method}, got {filled.swa_start} (epochs = {filled.epochs})")
        if filled.data_dir is None and task.needs_data_dir:
            raise ValueError(f"task {filled.task} needs data_dir (--data-dir): nothing is downloaded")
        task.check_train_size(filled.train_size)
        if filled.lr_policy is not None:
            parse_policy(filled.lr_policy)
            if filled.cyclic_min is not None:
                raise ValueError("cyclic_min is the paper schedule's cyclic SWA; with lr_policy, write it "
                                 "into the policy (CSWA)")
        filled.specs()  # checks formats, rounding and layout
        filled.device = resolve_device(filled.device)
        if filled.device == "mps" and filled.method in LOW_PRECISION:
            raise ValueError(f"method {filled.method} quantizes with lpformats' torch backend, which "
                             "computes in float64: MPS has none; use --device cpu or cuda")
        if filled.comm_format is not None:
            RoleSpec("G", filled.comm_format, "stochastic")  # checks the spelling
        return filled

    def specs(self) -> dict:
        """Role specs in effect: the given formats for low-precision methods, fp32 otherwise;
        convex tasks have no activations, so ``A`` and ``E`` are fp32 there."""
        specs = role_specs(self.formats, self.rounding, self.layout)
        if self.method not in LOW_PRECISION:
            return role_specs("fp32", self.rounding, self.layout)
        if get_task(self.task).convex:
            fmts = {r: ("fp32" if r in ("A", "E") else specs[r].fmt) for r in ROLES}
            return role_specs(fmts, self.rounding, self.layout)
        return specs


def _schedule(config: RunConfig, steps_per_epoch: int) -> Schedule:
    averaging = config.method in AVERAGING
    policy = None if config.lr_policy is None else parse_policy(config.lr_policy).per_step(steps_per_epoch)
    return Schedule(config.lr, config.epochs, steps_per_epoch, config.swa_start if averaging else None,
                    config.swa_lr if averaging else None, config.cycle, config.cyclic_min,
                    decay=config.schedule != "constant", decay_to_swa_lr=config.schedule == "swa",
                    policy=policy)


class _Run:
    """The state of one run: model, optimizer, stream, averager, data, history."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.task: Task = get_task(config.task)
        self.specs = config.specs()
        self.protocol = protocols.get_protocol(self.task.name, config.method, config.protocol)
        normalization = self.protocol.normalization
        options = {} if normalization is None else {"normalization": normalization}
        self.group = current_group()
        check_world(config.batch_size, self.group.world)
        self.device = rank_device(config.device, self.group)
        make_deterministic(self.device)
        data = self.task.data(config.data_dir, config.train_size, **options)
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
        self.lp = config.method in LOW_PRECISION
        if self.lp and not self.task.convex:
            insert_quantizers(self.model, self.specs["A"], self.specs["E"], local_stream,
                              quantize_input=self.task.quantize_input,
                              targets=quantization_points(self.model))
        self.optimizer = LowPrecisionSGD(
            self.model.parameters(), self.specs, self.stream, lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay, nesterov=config.nesterov,
            accumulator=config.accumulator if self.lp else None)
        self.schedule = _schedule(config, len(self.train))
        self.net = data_parallel(self.model, self.device, self.group, self.stream, config.comm_format)
        self.averager = Averager(self.model, self.stream) if config.method in AVERAGING else None
        self.optimum = (optimum(self.task.name, config.weight_decay).to(self.device) if self.task.convex
                        else None)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.elapsed = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "epoch": self.epoch, "elapsed": self.elapsed,
            "history": self.history, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "stream": self.stream.state_dict(),
            "averager": None if self.averager is None else self.averager.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.elapsed, self.history = state["epoch"], state["elapsed"], state["history"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.stream.load_state_dict(state["stream"])
        if self.averager is not None:
            self.averager.load_state_dict(state["averager"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)

    def distance(self, model: torch.nn.Module) -> float | None:
        if self.optimum is None:
            return None
        return float((flat_parameters(model) - self.optimum).pow(2).sum())

    def run_epoch(self) -> dict[str, Any]:
        start = time.perf_counter()
        train_loss = train_epoch(self.net, self.optimizer, self.train, self.task, self.schedule, self.epoch,
                                 self.averager)
        if self.protocol.refresh_iterate_bn:
            update_bn(self.train_in_order, self.model)
        test_loss, test_error = evaluate(self.model, self.test, self.task)
        row: dict[str, Any] = {
            "epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
            "test_loss": test_loss, "test_error": test_error, "swa_test_error": None,
            "dist_to_opt": self.distance(self.model), "swa_dist_to_opt": None,
        }
        if self.averager is not None and self.averager.count:
            average = self.averager.full_precision(self.train_in_order)
            row["swa_test_error"] = evaluate(average, self.test, self.task)[1]
            row["swa_dist_to_opt"] = self.distance(average)
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


def _cost(run: _Run) -> dict[str, Any]:
    swa_cycle = run.schedule.cycle_steps if run.averager is not None else None
    return costs.step_cost(run.task.build(), run.example, run.specs, swa_cycle, run.config.accelerator)


def _bits(run: _Run) -> dict[str, float]:
    params = [tuple(p.shape) for p in run.model.parameters()]
    acts = costs.quantized_shapes(run.model, run.example)
    shapes = {"W": params, "G": params, "M": params, "A": acts, "E": acts}
    return {role: costs.bits_per_element(run.specs[role], shapes[role]) for role in ROLES}


def build_record(run: _Run, cost: dict[str, Any], bits: dict[str, float], status: str) -> dict[str, Any]:
    """The JSON record of a run (schema in README, "Run records")."""
    config = run.config.to_dict()
    return {
        "task": config["task"], "method": config["method"], "seed": config["seed"],
        "formats": {r: run.specs[r].fmt for r in ROLES},
        "rounding": {r: run.specs[r].rounding for r in ROLES},
        "layout": {r: run.specs[r].layout for r in ROLES},
        "config": config, "status": status, "epochs_done": run.epoch, "epochs": run.history,
        "steps_per_epoch": len(run.train),
        "final": run.final(finished=status == "finished") if run.history else {},
        "cost": cost, "bits_per_element": bits, "wall_time_s": run.elapsed, "protocol": _protocol_record(run),
        "data_parallel": {**exchange_cost(run.model, run.config.comm_format, run.group.world,
                                          run.config.accelerator),
                          # (a collective: every rank builds the finished record)
                          "weights_equal_across_ranks": ranks_agree(run.model) if status == "finished"
                          else None},
    }


def _protocol_record(run: _Run) -> dict[str, Any]:
    """The record's ``protocol``: which one, what it sets, what the config overrides, and the
    numbers the reference code prints for this run (None until their epoch is done)."""
    protocol, config = run.protocol, run.config
    reported = []
    for item in protocol.reported:
        epoch = item.epoch_of(config.epochs, config.swa_start)
        value = run.history[epoch - 1][item.field] if 1 <= epoch <= len(run.history) else None
        reported.append({"label": item.label, "field": item.field, "epoch": epoch, "value": value})
    return {
        "name": protocol.name, "paper": protocol.paper, "source": list(protocol.source),
        "settings": dict(protocol.settings),
        "overrides": sorted(k for k, v in protocol.settings.items() if getattr(config, k) != v),
        "refresh_iterate_bn": protocol.refresh_iterate_bn, "normalization": protocol.normalization,
        "eval_batch_size": run.task.eval_batch_size, "quantize_input": run.task.quantize_input,
        "reported": reported,
    }


def finished_record(record_path: Path, config: RunConfig, resume: bool,
                    force: bool) -> dict[str, Any] | None:
    """The finished record at ``record_path`` when resuming it (see
    :func:`swalp.runio.run_folder.finished_record`)."""
    return run_folder.finished_record(record_path, config.to_dict(), resume=resume, force=force)


def run_experiment(config: RunConfig, out_dir: str | Path | None = None, checkpoint: bool = True, *,
                   resume: bool = False, force: bool = False, progress: bool = False,
                   on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``config`` and return its record (see README, "swalp" section).

    Args:
        config: the run; None hyperparameters take the task's defaults.
        out_dir: directory for ``record.json`` (written after every epoch) and, with
            ``checkpoint``, ``checkpoint.pt`` (atomically, after every epoch).
        checkpoint: write checkpoints (needs ``out_dir``).
        resume: continue from ``out_dir``'s newest good checkpoint (must be of the same config;
            a damaged latest one falls back to the previous one, see :mod:`swalp.runio.run_folder`);
            when ``out_dir`` holds the finished run of the same config, return its record untouched.
        force: start over, replacing a finished or unfinished run in ``out_dir``.
        progress: show a tqdm progress bar over epochs.
        on_epoch: called with each finished epoch's history row (e.g. to report progress).

    Raises:
        ValueError: bad config (before any training), or a checkpoint or finished record of
            another config on ``resume``.
        RunExistsError: ``out_dir`` holds a finished run, neither ``force`` nor ``resume``.
        UnfinishedRunError: ``out_dir`` holds an unfinished run, neither ``resume`` nor ``force``.
        DamagedFileError: a file in ``out_dir`` is damaged (the message says what to do).
        FolderBusyError: another process is writing to ``out_dir``.
        NonFiniteError: training diverged (NaN/inf); the last good checkpoint is kept.
    """
    config = config.resolved()
    if out_dir is None:
        return _train(config, None, False, None, progress, on_epoch)
    out = Path(out_dir)
    writer = current_group().is_main  # rank 0 writes for a data-parallel run; the others read
    with FolderLock(out) if writer else contextlib.nullcontext():
        start = prepare_run_folder(out, config.to_dict(), resume=resume, force=force, writer=writer)
        if start.finished is not None:
            if progress:
                print(f"{out / RECORD_FILE}: this run is finished, nothing to resume", file=sys.stderr)
            return start.finished
        return _train(config, out, checkpoint, start.state, progress, on_epoch)


def _train(config: RunConfig, out: Path | None, checkpoint: bool, state: dict[str, Any] | None,
           progress: bool, on_epoch: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    with single_threaded():
        run = _Run(config)
        cost, bits = _cost(run), _bits(run)
        writes = out is not None and run.group.is_main  # rank 0 writes for a data-parallel run
        if state is not None:
            run.load_state_dict(state)
        bar = None
        if progress and run.group.is_main:
            from tqdm import tqdm

            bar = tqdm(total=config.epochs, initial=run.epoch, desc=f"{config.task} {config.method}",
                       unit="epoch")
        try:
            while run.epoch < config.epochs:
                try:
                    row = run.run_epoch()
                except NonFiniteError as err:
                    kept = ""
                    if writes and checkpoint:
                        kept = f"; last good checkpoint: {out / CHECKPOINT_FILE}"
                    raise NonFiniteError(f"{err}{kept} (epoch {run.epoch})") from None
                if on_epoch is not None:
                    on_epoch(row)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['train_loss']:.4g}", err=f"{row['test_error']:.3g}")
                if writes:
                    if checkpoint:
                        save_checkpoint(run.state_dict(), out / CHECKPOINT_FILE)
                    if run.epoch < config.epochs:
                        write_json(build_record(run, cost, bits, "running"), out / RECORD_FILE)
        finally:
            if bar is not None:
                bar.close()
        record = build_record(run, cost, bits, "finished")
    if writes:
        write_json(record, out / RECORD_FILE)
    return record


def run_data_parallel(run_args: tuple, options: dict[str, Any]) -> dict[str, Any] | None:
    """One rank of a data-parallel :func:`run_experiment` ``(*run_args, **options)``: the
    record on rank 0, None on the others (see :func:`swalp.distributed.launch`)."""
    record = run_experiment(*run_args, **options)
    return record if current_group().is_main else None


def _run_forced(config: RunConfig, out_dir: Path | None) -> dict[str, Any]:
    return run_experiment(config, out_dir, checkpoint=False, force=True)


def run_many(configs: Sequence[RunConfig], jobs: int = 1,
             out_dirs: Sequence[str | Path | None] | None = None) -> list[dict[str, Any]]:
    """Run ``configs`` (no checkpoints; existing records overwritten) on ``jobs`` processes,
    one thread each; returns their records in order. Records are the same at any ``jobs``.

    Args:
        configs: the runs.
        jobs: worker processes (``spawn``ed); 1 runs them here, one after another.
        out_dirs: a record directory per run (None: no files).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    dirs = [None] * len(configs) if out_dirs is None else [None if d is None else Path(d) for d in out_dirs]
    if len(dirs) != len(configs):
        raise ValueError(f"out_dirs must give one directory per config ({len(configs)}), got {len(dirs)}")
    jobs = min(jobs, len(configs))
    if jobs <= 1:
        return [_run_forced(c, d) for c, d in zip(configs, dirs, strict=True)]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_run_forced, configs, dirs))


__all__ = ["METHODS", "TASKS", "RunConfig", "RunExistsError", "UnfinishedRunError", "finished_record",
           "run_experiment", "run_many"]
