"""``swalp demo``: the main job in a few minutes: the MNIST-1D CNN trained with every method
at 6-bit block floating point (where SWALP and low-precision SGD differ), one table of test
error next to the accelerator cost of a training step against fp32, and a PNG of the curves.

A second demo in the same ``--out`` shows the runs the first one finished (as ``swalp train
--resume`` does) and trains only what is missing; ``--force`` trains everything again, and a
finished run of another configuration there is refused. One progress bar covers the job:
first the Numba kernels are compiled (or loaded from the on-disk cache) by a two-epoch run in
this process, then the runs train in worker processes and the bar advances with every
finished epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from swalp.curves import plot_runs
from swalp.experiments import (
    LOW_PRECISION,
    RECORD_FILE,
    SWALP_METHODS,
    RunConfig,
    RunExistsError,
    finished_record,
    run_experiment,
)
from swalp.report import summary_table
from swalp.roles import parse_role_assignments
from swalp.tasks import get_task

DEFAULT_TASK, DEFAULT_FORMATS = "mnist1d-cnn", "bfp(6)"


def recorded_runs(out: Path, configs: list[RunConfig], force: bool) -> dict[str, dict[str, Any]]:
    """Method -> finished record of an earlier demo of the same config under ``out`` (none
    with ``force``), as ``swalp train --resume`` treats a finished run.

    Raises:
        RunExistsError: ``out`` holds a finished run of another configuration.
    """
    found = {}
    for config in configs:
        path = out / config.method / RECORD_FILE
        try:
            record = finished_record(path, config, resume=True, force=force)
        except ValueError:
            raise RunExistsError(f"{path} holds a finished run of another configuration: --force overwrites "
                                 "it, or choose another --out") from None
        if record is not None:
            found[config.method] = record
    return found


def compile_kernels(config: RunConfig) -> None:
    """Run two epochs of ``config`` on one batch of examples (where the task can shrink its
    training set) without files: compiles, or loads from Numba's cache, every kernel the full
    run uses, and generates or loads the task's data."""
    task = get_task(config.task)
    small = {"train_size": config.batch_size} if task.load_sized is not None else {}
    run_experiment(dataclasses.replace(config, epochs=2, swa_start=1, **small))


def _train(config: RunConfig, out_dir: Path, events: Any) -> dict[str, Any]:
    """A worker's run: no checkpoint, reports every finished epoch on ``events``."""
    return run_experiment(config, out_dir, checkpoint=False, force=True, on_epoch=lambda row: events.put(1))


def train_with_progress(configs: list[RunConfig], out: Path, jobs: int) -> list[dict[str, Any]]:
    """Train ``configs`` on ``jobs`` spawned processes (one: here) (records in ``out/METHOD``) with one tqdm
    bar over all their epochs, preceded by :func:`compile_kernels` in this process; the bar's
    clock ticks every second, also while kernels compile."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import Manager, get_context

    from tqdm import tqdm

    bar = tqdm(total=sum(c.epochs for c in configs), desc="compiling kernels", unit="epoch")
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        low_precision = [c for c in configs if c.method in LOW_PRECISION]
        compile_kernels(low_precision[-1] if low_precision else configs[0])
        bar.set_description("training")
        if jobs == 1:
            return [run_experiment(c, out / c.method, checkpoint=False, force=True,
                                   on_epoch=lambda row: bar.update(1)) for c in configs]
        with Manager() as manager, ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            events = manager.Queue()
            futures = [pool.submit(_train, c, out / c.method, events) for c in configs]
            while not all(f.done() for f in futures) or not events.empty():
                with contextlib.suppress(queue.Empty):
                    bar.update(events.get(timeout=0.2))
            return [f.result() for f in futures]
    finally:
        stop.set()
        ticker.join()
        bar.close()


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    methods = [m.strip() for m in args.methods.split(",")]
    formats = parse_role_assignments(args.formats, "--formats")
    configs = [RunConfig(task=args.task, method=m, formats=formats, epochs=args.epochs,
                         swa_start=args.swa_start, seed=args.seed).resolved() for m in methods]
    recorded = recorded_runs(out, configs, args.force)
    todo = [c for c in configs if c.method not in recorded]
    jobs = max(1, min(args.jobs, len(todo) or 1))
    first = configs[0]
    swa_start = next((c.swa_start for c in configs if c.method in ("swa-fp", "swalp")), first.swa_start)
    print(f"swalp demo: {args.task}, {first.epochs} epochs, averaging from the end of epoch {swa_start}, "
          f"formats {args.formats} (stochastic rounding), methods {', '.join(methods)}, {jobs} process(es)")
    if recorded:
        print(f"{out} holds this demo's finished {', '.join(recorded)} run(s): shown as recorded "
              "(--force trains them again)")
    start = time.perf_counter()
    trained = iter(train_with_progress(todo, out, jobs) if todo else [])
    records = [recorded.get(c.method) or next(trained) for c in configs]
    print()
    print(summary_table(records, markdown=args.markdown))
    figure = plot_runs(records, out / "demo.png", f"{args.task}: {args.formats} vs fp32")
    accelerator = records[0]["cost"].get("accelerator")
    baseline = records[0]["cost"].get("baseline", "fp32")
    print(f"\nenergy and speedup: one training step (batch {first.batch_size}) on accel_model preset "
          f"'{accelerator}', against the same step in fp32 (baseline {baseline}).")
    print(f"records: {out}/<method>/record.json; figure: {figure}; {time.perf_counter() - start:.0f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="MNIST-1D CNN with SGD/SWA/SGD-LP/SWALP at 6-bit BFP; accuracy next to accelerator cost",
        description="A short real run: the MNIST-1D CNN trained with each method at 6-bit block floating "
                    "point; prints test error next to energy per training step and speedup against fp32.")
    parser.add_argument("--task", default=DEFAULT_TASK, help=f"task (default: {DEFAULT_TASK})")
    parser.add_argument("--methods", default=",".join(SWALP_METHODS),
                        help=f"comma-separated methods (default: {','.join(SWALP_METHODS)})")
    parser.add_argument("--formats", default=DEFAULT_FORMATS,
                        help=f"format of every role (default: {DEFAULT_FORMATS}), or per role: "
                             "W=bfp8,A=fp8_e4m3,...")
    parser.add_argument("--epochs", type=int, help="epochs (default: the task's)")
    parser.add_argument("--swa-start", type=int, help="first averaging epoch, 0-based (default: the task's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="runs in parallel (default: min(4, cores))")
    parser.add_argument("--out", default="swalp-demo", help="output directory (default: swalp-demo)")
    parser.add_argument("--force", action="store_true",
                        help="train again the runs an earlier demo finished in OUT (default: show them)")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.set_defaults(func=run)
