"""Running experiments: one run with checkpoints and resume (:func:`run_experiment`), one
rank of a data-parallel run, and many runs on a process pool (:func:`run_many`).

A run is deterministic for a seed: torch and Numba run single-threaded, the model is
initialized after ``torch.manual_seed(seed)``, the data order is a function of
``(seed, epoch)`` and stochastic rounding of ``(seed, call count)``. A run resumed from its
checkpoint ends with weights bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from swalp.distributed import current_group
from swalp.experiments.config import RunConfig
from swalp.experiments.record import build_record, step_cost, storage_bits
from swalp.experiments.run import Run
from swalp.quantizer import NonFiniteError
from swalp.runio import run_folder
from swalp.runio.checkpoint import save_checkpoint
from swalp.runio.files import write_json
from swalp.runio.lock import FolderLock
from swalp.runio.run_folder import CHECKPOINT_FILE, RECORD_FILE, prepare_run_folder
from swalp.threads import single_threaded


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
        run = Run(config)
        cost, bits = step_cost(run), storage_bits(run)
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
