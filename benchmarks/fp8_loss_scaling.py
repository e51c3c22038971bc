"""FP8 training with loss scaling (Mellempudi et al. 2019) at small scale: fp32 SGD against
the ``fp8`` method (W, A, E, G in E5M2 rounded to nearest, fp16 master weights) without loss
scaling, with dynamic and with enhanced loss scaling, master weights updated with stochastic
rounding and (ablation) with round-to-nearest; on MNIST-1D's CNN (``mnist1d-cnn``) and the
deep narrow MLP (``mnist1d-deepmlp``), several seeds each.

Not a timed benchmark. Every run is ``swalp.experiments.run_experiment`` with the task's
defaults (60 epochs, batch 100, SGD momentum 0.9, the paper schedule) and a run folder under
``--out`` (resumable: run the same command again after an interruption and only the missing
runs train). Prints per task:

1. test error (%) of the last iterate, mean ± sample sd over the seeds; steps skipped for
   overflow; final loss scale; underflow of the errors (flushed over nonzero elements, mean of
   the layers, over the last 10 % of the statistics rows) and the largest overflow fraction
   seen; accelerator cost of a step (``tpu_v1``: cycles, energy, speedup against the same step
   in fp32, whose baseline also unscales when the arm scales the loss);
2. per seed, the difference of each FP8 arm's error to fp32's (same seed: same initialization
   and data order).

and writes ``docs/fp8_TASK.png`` (test accuracy per epoch, loss scale and mean error
underflow per step, seed 0).

Run: ``nice -n 10 python benchmarks/fp8_loss_scaling.py`` (about 1 CPU-minute per run on an
idle core; ``--seeds``, ``--workers``, ``--tasks``; ``--report-only`` prints the tables and draws
the figures from the finished runs of ``--out`` without training).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, load_line, machine_line
from swalp.experiments import RunConfig, run_experiment
from swalp.plots import pyplot, save_figure
from swalp.report import render_table

TASKS = ("mnist1d-cnn", "mnist1d-deepmlp")
FORMAT = "fp8_e5m2"
#: 40 steps per epoch, 2400 steps in all: the floor rises at a third and at two thirds.
ENHANCED = "enhanced:floors=0:2^12/800:2^13/1600:2^14"
#: Arms: label -> (method, loss scale, master rounding).
ARMS = {
    "fp32": ("sgd-fp", None, None),
    "fp8, no scaling": ("fp8", "none", "stochastic"),
    "fp8, dynamic": ("fp8", "dynamic", "stochastic"),
    "fp8, enhanced": ("fp8", ENHANCED, "stochastic"),
    "fp8, dynamic, nearest masters": ("fp8", "dynamic", "nearest"),
    "fp8, enhanced, nearest masters": ("fp8", ENHANCED, "nearest"),
}
STATS_EVERY = 10


def config(task: str, arm: str, seed: int) -> RunConfig:
    method, loss_scale, master = ARMS[arm]
    if method == "sgd-fp":
        return RunConfig(task=task, method=method, formats="fp32", seed=seed)
    return RunConfig(task=task, method=method, formats=FORMAT, rounding="nearest", seed=seed,
                     method_options={"loss_scale": loss_scale, "master_rounding": master,
                                     "stats_every": STATS_EVERY})


def folder(out: Path, task: str, arm: str, seed: int) -> Path:
    name = arm.replace(", ", "-").replace(" ", "_")
    return out / task / f"{name}-seed{seed}"


def finished(out: Path, jobs: list[tuple[str, str, int]]) -> tuple[list, list[dict]]:
    """The jobs of the seeds whose every arm of a task has a finished record in ``out``, and
    those records."""
    records = {}
    for job in jobs:
        path = folder(out, *job) / "record.json"
        record = json.loads(path.read_text()) if path.exists() else None
        if record is not None and record["status"] == "finished":
            records[job] = record
    complete = {(task, seed) for task, _, seed in jobs if all((task, arm, seed) in records for arm in ARMS)}
    kept = [job for job in jobs if (job[0], job[2]) in complete]
    return kept, [records[job] for job in kept]


def train(args: tuple[RunConfig, Path]) -> dict:
    cfg, path = args
    return run_experiment(cfg, path, resume=True)


def mean_std(values: Sequence[float], digits: int = 2) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def history(record: dict) -> list[dict]:
    return (record.get("loss_scaling") or {}).get("history", [])


def mean_underflow(row: dict) -> float | None:
    layers = row.get("layers")
    if not layers:
        return None
    return statistics.fmean(v["underflow_of_nonzero"] for v in layers.values())


def late_underflow(record: dict) -> float | None:
    values = [u for u in (mean_underflow(r) for r in history(record)) if u is not None]
    if not values:
        return None
    return statistics.fmean(values[-max(1, len(values) // 10):])


def max_overflow(record: dict) -> float | None:
    values = [max(v["overflow"] for v in r["layers"].values()) for r in history(record) if r.get("layers")]
    return max(values) if values else None


def summary_table(records: dict[tuple[str, int], dict]) -> str:
    out = []
    for arm in ARMS:
        runs = [r for (a, _), r in sorted(records.items()) if a == arm]
        if not runs:
            continue
        scaler = [r["loss_scaling"]["scaler"] for r in runs if (r.get("loss_scaling") or {}).get("scaler")]
        late = [u for u in map(late_underflow, runs) if u is not None]
        over = [o for o in map(max_overflow, runs) if o is not None]
        cost = runs[0]["cost"]
        out.append([
            arm, str(len(runs)), mean_std([r["final"]["test_error"] for r in runs]),
            mean_std([s["skipped"] for s in scaler], 1) if scaler else "-",
            " / ".join(f"{s['scale']:g}" for s in scaler) if scaler else "-",
            f"{statistics.fmean(late):.3f}" if late else "-",
            f"{max(over):.1e}" if over else "-",
            f"{cost['cycles_per_step']:.0f}", f"{cost['energy_pj_per_step'] / 1e6:.2f}",
            f"{cost['speedup_vs_fp32']:.2f}x",
        ])
    header = ["arm", "seeds", "test err % (mean ± sd)", "skipped steps", "final scale (per seed)",
              "late error underflow", "max overflow", "cycles/step", "energy/step uJ", "speedup vs fp32"]
    return render_table(header, out, markdown=True)


def paired_table(records: dict[tuple[str, int], dict]) -> str:
    base = {seed: r["final"]["test_error"] for (arm, seed), r in records.items() if arm == "fp32"}
    out = []
    for arm in list(ARMS)[1:]:
        diff = {seed: r["final"]["test_error"] - base[seed] for (a, seed), r in records.items()
                if a == arm and seed in base}
        if diff:
            seeds = sorted(diff)
            out.append([arm, " ".join(f"{diff[s]:+.2f}" for s in seeds), mean_std([diff[s] for s in seeds])])
    return render_table(["arm", "error - fp32 error per seed (points)", "mean ± sd"], out, markdown=True)


def plot(task: str, records: dict[tuple[str, int], dict], stem: Path) -> list[Path]:
    """Test accuracy per epoch (mean over seeds), loss scale (and the enhanced floor, dotted) and
    mean error underflow per step (seed 0); one color per arm in every panel, dashed lines for
    nearest-rounded masters."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    for i, arm in enumerate(ARMS):
        seeds = sorted(s for a, s in records if a == arm)
        if not seeds:
            continue
        style = dict(color=f"C{i}", ls="--" if "nearest" in arm else "-", label=arm)
        curves = [[100 - row["test_error"] for row in records[(arm, s)]["epochs"]] for s in seeds]
        epochs = range(1, len(curves[0]) + 1)
        axes[0].plot(epochs, [statistics.fmean(c) for c in zip(*curves, strict=True)], **style)
        rows = history(records[(arm, seeds[0])])
        scaled = [r for r in rows if "scale" in r]
        if scaled:
            axes[1].plot([r["step"] for r in scaled], [r["scale"] for r in scaled], **style)
            if "floor" in scaled[0]:
                axes[1].plot([r["step"] for r in scaled], [r["floor"] for r in scaled], color=f"C{i}", ls=":",
                             lw=1, label=f"{arm}: floor")
        under = [(r["step"], mean_underflow(r)) for r in rows if mean_underflow(r) is not None]
        if under:
            axes[2].plot(*zip(*under, strict=True), **(style | {"lw": 0.8}))
    axes[0].set(xlabel="epoch", ylabel="test accuracy %, mean over seeds", ylim=(50, 100))
    axes[0].set_title(f"{task}: fp32 vs FP8 (E5M2) training", fontsize=10)
    axes[1].set(xlabel="optimizer step", ylabel="loss scale", yscale="log")
    axes[1].set_title("loss scale (seed 0)", fontsize=10)
    axes[2].set(xlabel="optimizer step", ylabel="flushed / nonzero errors, mean of layers", yscale="log")
    axes[2].set_title("error underflow in E5M2 (seed 0)", fontsize=10)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return save_figure(fig, stem)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="fp8_loss_scaling_runs", help="run folders (resumable)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--docs", default=str(Path(__file__).resolve().parent.parent / "docs"))
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: tables and figures from the finished runs in --out, the seeds "
                             "whose every arm has finished")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    out = Path(args.out)
    jobs = [(task, arm, seed) for seed in range(args.seeds) for task in tasks for arm in ARMS]
    start = time.perf_counter()
    if args.report_only:
        jobs, results = finished(out, jobs)
    else:
        work = [(config(*job), folder(out, *job)) for job in jobs]
        if args.workers > 1:
            with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(train, work))
        else:
            results = [train(item) for item in work]
    print(f"# FP8 training with loss scaling ({len(jobs)} runs, {time.perf_counter() - start:.0f} s)\n")
    print(f"{machine_line()}\n{load_line()}\n{code_version()}\n")
    for task in tasks:
        records = {(arm, seed): r for (t, arm, seed), r in zip(jobs, results, strict=True) if t == task}
        print(f"## {task}\n\n{summary_table(records)}\n\n{paired_table(records)}\n")
        figures = plot(task, records, Path(args.docs) / f"fp8_{task.replace('-', '_')}")
        print(f"figure: {figures[0]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
