"""HALP's claim (De Sa et al. 2018), reproduced on the convex tasks: HALP follows full-precision
SVRG's linear convergence far below the floor where low-precision SGD and low-precision SVRG
stall. Six methods (sgd-fp, sgd-lp, swalp, svrg-fp, svrg-lp, halp) on ``halp-linreg``
(HazyResearch/torchhalp's example, ``examples/regression/main.py``: T=200, mu=4, b=8, batch 1,
100 epochs), ``linreg`` and ``logreg`` (mu=0.1, torchhalp's default, as its logistic example),
a few seeds each; the low-precision methods keep the weights (W) in an 8-bit fixed-point format
whose range covers the optimum, gradients in fp32 (the paper's LP-SGD / LP-SVRG: only the
iterate is low precision); HALP takes b = 8 from W. Writes ``docs/halp_<task>.png`` (log10 of
||w - w*|| against iterations; mean of the log over seeds) and prints a table per task.

    nice -n 10 python benchmarks/halp.py [--seeds 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import datetime
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, code_version, machine_line

METHODS = ("sgd-fp", "sgd-lp", "swalp", "svrg-fp", "svrg-lp", "halp")
VARIANCE_REDUCED = ("svrg-fp", "svrg-lp", "halp")
#: task -> (run options, W format of the low-precision methods, method options, per-step log interval)
SETTINGS: dict[str, tuple[dict[str, Any], str, dict[str, Any], int]] = {
    "halp-linreg": ({"epochs": 100, "swa_start": 50}, "fixed(8,1)", {"svrg_period": 200, "halp_mu": 4.0},
                    50),
    "linreg": ({"epochs": 20, "swa_start": 10}, "fixed(8,6)", {"halp_mu": 1.0}, 16),
    "logreg": ({"epochs": 100, "swa_start": 50}, "fixed(8,5)", {"halp_mu": 0.1}, 20),
}


def configs(task: str, seeds: int) -> list[Any]:
    from swalp.experiments import RunConfig

    options, weights, method_options, every = SETTINGS[task]
    formats = {"W": weights, "G": "fp32", "M": "fp32"}
    out = []
    for method in METHODS:
        mine = {k: v for k, v in method_options.items()
                if method in VARIANCE_REDUCED and (k != "halp_mu" or method == "halp")}
        for seed in range(seeds):
            out.append(RunConfig(task=task, method=method, formats=formats, seed=seed, log_every=every,
                                 method_options=mine, **options))
    return out


def distance_curve(record: dict[str, Any]) -> tuple[list[int], list[float]]:
    """(iteration, log10 ||w - w*||) of the iterate at every logged step."""
    rows = record["steps"]
    return [r["step"] for r in rows], [0.5 * math.log10(max(r["dist_to_opt"], 1e-300)) for r in rows]


def average_curve(record: dict[str, Any]) -> tuple[list[int], list[float]]:
    """(iteration, log10 ||avg - w*||) of SWALP's average at the end of every averaged epoch."""
    spe = record["steps_per_epoch"]
    rows = [r for r in record["epochs"] if r["swa_dist_to_opt"] is not None]
    return [r["epoch"] * spe for r in rows], [0.5 * math.log10(max(r["swa_dist_to_opt"], 1e-300))
                                              for r in rows]


def mean_curves(records: list[dict[str, Any]], curve) -> tuple[list[int], list[float]]:
    curves = [curve(r) for r in records]
    steps = curves[0][0]
    return steps, [statistics.fmean(c[1][i] for c in curves) for i in range(len(steps))]


def plot(task: str, by_method: dict[str, list[dict[str, Any]]], path: Path) -> None:
    from swalp.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = dict(zip(METHODS, ("tab:gray", "tab:orange", "tab:brown", "tab:blue", "tab:red", "tab:green"),
                      strict=True))
    for method in METHODS:
        if method == "swalp":  # its iterate is sgd-lp's (same seed, same rate): draw the average
            steps, values = mean_curves(by_method[method], average_curve)
            ax.plot(steps, values, ":", color=colors[method], label="swalp (average)", linewidth=1.8)
            continue
        steps, values = mean_curves(by_method[method], distance_curve)
        ax.plot(steps, values, "--" if method.endswith("-fp") else "-", color=colors[method], label=method,
                linewidth=1.4)
    first = by_method["halp"][0]
    seeds = len(by_method["halp"])
    ax.set_xlabel("iterations (optimizer steps)")
    ax.set_ylabel("log10 ||w - w*||")
    ax.set_title(f"{task}: W = {first['formats']['W']} (b = 8), mean over {seeds} seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def below(record: dict[str, Any], threshold: float) -> int | None:
    """First logged iteration at which log10 ||w - w*|| < ``threshold`` (None: never)."""
    for step, value in zip(*distance_curve(record), strict=True):
        if value < threshold:
            return step
    return None


def table(task: str, by_method: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown: final log10 distance (returned model; iterate), iterations to a tolerance,
    accelerator cost of a step."""
    fp_final = statistics.fmean(distance_curve(r)[1][-1] for r in by_method["svrg-fp"])
    tolerance = math.floor(fp_final) + 2  # two decades above where fp32 SVRG ends
    lines = [f"| method | final log10 ‖w−w*‖ (returned model) | last iterate | iterations to 1e{tolerance} "
             "| energy/step nJ | speedup vs fp32 (same method family) |", "|---|---|---|---|---|---|"]
    for method in METHODS:
        runs = by_method[method]
        returned = [0.5 * math.log10(max(r["final"]["dist_to_opt"], 1e-300)) for r in runs]
        iterate = [distance_curve(r)[1][-1] for r in runs]
        reached = [below(r, tolerance) for r in runs]
        reached_text = ("never" if all(x is None for x in reached) else
                        ", ".join("never" if x is None else str(x) for x in reached))
        cost = runs[0]["cost"]
        lines.append(f"| {method} | {mean_sd(returned)} | {mean_sd(iterate)} | {reached_text} | "
                     f"{cost['energy_pj_per_step'] / 1e3:.1f} | {cost['speedup_vs_fp32']:.2f}x |")
    return "\n".join(lines)


def mean_sd(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method and task (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--tasks", default=",".join(SETTINGS),
                        help=f"comma-separated from {', '.join(SETTINGS)}")
    parser.add_argument("--docs", default=str(ROOT / "docs"), help="where the figures go (default docs/)")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",")]
    unknown = [t for t in tasks if t not in SETTINGS]
    if unknown or args.seeds < 1:
        parser.error(f"--tasks from {', '.join(SETTINGS)} (got {unknown}); --seeds >= 1")

    from swalp.experiments import run_many

    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"<!-- {now:%Y-%m-%d %H:%M} UTC; code {code_version()} -->")
    print(machine_line())
    for task in tasks:
        start = time.perf_counter()
        records = run_many(configs(task, args.seeds), args.jobs)
        by_method = {m: [r for r in records if r["method"] == m] for m in METHODS}
        figure = Path(args.docs) / f"halp_{task}.png"
        plot(task, by_method, figure)
        options, weights, method_options, _ = SETTINGS[task]
        print(f"\n### {task}: W = {weights}, {options}, {method_options}, {args.seeds} seeds "
              f"({time.perf_counter() - start:.0f} s, {args.jobs} jobs)\n")
        print(table(task, by_method))
        print(f"\nfigure: {figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure}")
    print(f"\n{machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
