"""Sweep throughput: runs per minute of one tiny sweep on the local pool with 1 and 2 workers,
and on Ray (a local instance with as many CPUs as the widest local pool), to show Ray's overhead.

Every configuration runs the same grid into a fresh directory; wall times include starting the
worker processes (local) or Ray's workers (Ray), since a user pays for those too. Ray's start-up
(``ray.init``) is timed on its own and left out of the Ray sweep's time.

    flock /tmp/bench.lock python benchmarks/sweep.py [--task digits-vgg --epochs 2 --seeds 2]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, machine_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits-vgg")
    parser.add_argument("--methods", default="swalp")
    parser.add_argument("--formats", default="bfp:4..7")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="local worker counts (default: 1,2)")
    args = parser.parse_args(argv)

    import ray

    from swalp.sweep import run_sweep
    from swalp.sweep.grid import GridSpec, expand_formats, expand_grid
    from swalp.sweep.runner import run_point

    spec = GridSpec(task=args.task, methods=tuple(args.methods.split(",")),
                    formats=tuple(expand_formats(args.formats)), seeds=tuple(range(args.seeds)),
                    fixed={"epochs": args.epochs, "swa_start": args.epochs - 1})
    counts = [int(w) for w in args.workers.split(",")]
    points = len(expand_grid(spec))
    now = datetime.datetime.now().astimezone()
    print(f"# sweep throughput, {now:%Y-%m-%d %H:%M %Z}, code {code_version()}")
    print(f"# {machine_line()}")
    print(f"# grid: task {args.task}, methods {args.methods}, formats {args.formats}, {args.seeds} seed(s), "
          f"{args.epochs} epochs: {points} runs")
    print(f"{'backend':<28} {'runs':>5} {'wall s':>8} {'runs/min':>9}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in counts:
            results[f"local, {workers} worker(s)"] = run_sweep(spec, Path(tmp) / f"local{workers}", run_point,
                                                               workers=workers, progress=False)
        start = time.perf_counter()
        ray.init(num_cpus=max(counts), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
        init_s = time.perf_counter() - start
        try:
            results[f"ray, {max(counts)} CPUs"] = run_sweep(spec, Path(tmp) / "ray", run_point, backend="ray",
                                                           progress=False)
        finally:
            ray.shutdown()
    for name, summary in results.items():
        bad = f"  ({summary.failed} failed)" if summary.failed else ""
        print(f"{name:<28} {summary.finished:>5} {summary.wall_time_s:>8.1f} "
              f"{summary.runs_per_minute:>9.1f}{bad}")
    widest = results[f"local, {max(counts)} worker(s)"].wall_time_s
    on_ray = results[f"ray, {max(counts)} CPUs"].wall_time_s
    print(f"ray.init (local instance): {init_s:.1f} s, not included above")
    print(f"Ray overhead vs local with {max(counts)} workers: {on_ray - widest:+.1f} s on this sweep "
          f"({on_ray / widest:.2f}x the wall time; {init_s + on_ray - widest:+.1f} s with ray.init)")
    print(f"# {machine_line()} (after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
