"""SWALP results in the paper's shape (issue 5), printed as Markdown for benchmarks/RESULTS.md.

Not a timed benchmark. Three tables, every run through :func:`swalp.experiments.run_many`
with the tasks' default hyperparameters:

1. Digits CNN (``digits-vgg``): test error (%) of SGD-FP, SWA-FP, SGD-LP and SWALP with every
   role in 8-bit block floating point (stochastic rounding), mean and standard deviation over
   ``--seeds`` seeds. Averaging methods report the average (full precision, and quantized to
   W's format: "LP average").
2. Convex tasks (``linreg``, ``logreg``): final squared distance of the returned model (the
   average for SWALP) to the optimum of the training objective, for SGD-FP, SGD-LP and SWALP
   with W, G, M in ``fixed(wl, wl-2)`` and ``bfp(wl)``, mean over the seeds.
3. ``linreg`` at 8 bits: the distance over epochs (SGD-LP stalls in a noise ball; SWALP
   keeps approaching the optimum).

Targets (printed as met / missed): digits SWALP within 0.5 points of SGD-FP and below
SGD-LP; linreg at 8 bits SWALP's distance at least 10x below SGD-LP's (both families).

Run: ``flock /tmp/bench.lock python benchmarks/swalp_results.py`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, load_line, machine_line
from swalp.experiments import SWALP_METHODS, RunConfig, run_many
from swalp.report import render_table

CNN_TASK = "digits-vgg"
CONVEX_TASKS = ("linreg", "logreg")
CONVEX_METHODS = ("sgd-fp", "sgd-lp", "swalp")
FAMILIES = {"fixed point": "fixed({wl},{fl})", "block FP": "bfp({wl})"}
#: Distance over epochs is shown at these epochs (1-based) of the linreg runs.
CURVE_EPOCHS = (1, 2, 3, 5, 10, 15, 20)


def fmt_of(family: str, wl: int) -> str:
    """The format spelling of ``family`` at word length ``wl`` (fixed point keeps 2 integer bits)."""
    return FAMILIES[family].format(wl=wl, fl=wl - 2)


def mean_std(values: Sequence[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"


def cnn_table(records: list[dict[str, Any]], seeds: int) -> tuple[str, dict[str, float]]:
    """Markdown table of the digits runs and the mean test error of each method's returned model."""
    rows, returned = [], {}
    for method in SWALP_METHODS:
        runs = [r for r in records if r["method"] == method]
        iterate = [r["final"]["test_error"] for r in runs]
        average = [r["final"]["swa_test_error"] for r in runs]
        low = [r["final"]["swa_lp_test_error"] for r in runs]
        averaged = average[0] is not None
        returned[method] = statistics.fmean(average if averaged else iterate)
        cost = runs[0]["cost"]
        rows.append([method, "fp32" if method.endswith("-fp") else "bfp8", mean_std(iterate),
                     mean_std(average) if averaged else "-", mean_std(low) if low[0] is not None else "-",
                     f"{cost['energy_pj_per_step'] / 1e6:.1f}", f"{cost['speedup_vs_fp32']:.2f}x"])
    header = ["method", "formats", f"test err % iterate (mean ± sd, {seeds} seeds)", "test err % average",
              "test err % LP average", "energy/step uJ (tpu_v1)", "speedup vs fp32"]
    return render_table(header, rows, markdown=True), returned


def convex_table(records: list[dict[str, Any]], task: str, widths: Sequence[int]) -> tuple[str, dict]:
    """Markdown table of final distances for ``task``; also (family, wl) -> (SGD-LP, SWALP) means."""

    def dist(method: str, fmt: str | None) -> float:
        runs = [r for r in records if r["task"] == task and r["method"] == method
                and (fmt is None or r["config"]["formats"]["W"] == fmt)]
        return statistics.fmean(r["final"]["dist_to_opt"] for r in runs)

    fp = dist("sgd-fp", None)
    rows, pairs = [], {}
    for family in FAMILIES:
        for wl in widths:
            fmt = fmt_of(family, wl)
            lp, sw = dist("sgd-lp", fmt), dist("swalp", fmt)
            pairs[family, wl] = (lp, sw)
            rows.append([family, fmt, f"{fp:.2e}", f"{lp:.2e}", f"{sw:.2e}", f"{lp / sw:.1f}x"])
    header = ["family", "W, G, M format", "SGD-FP", "SGD-LP", "SWALP", "SGD-LP / SWALP"]
    return render_table(header, rows, markdown=True), pairs


def curve_table(records: list[dict[str, Any]], wl: int) -> str:
    """Distance of the returned model to the optimum over epochs, linreg at ``wl`` bits."""

    def curve(method: str, fmt: str | None) -> list[float]:
        runs = [r for r in records if r["task"] == "linreg" and r["method"] == method
                and (fmt is None or r["config"]["formats"]["W"] == fmt)]
        rows = [[e["swa_dist_to_opt"] if e["swa_dist_to_opt"] is not None else e["dist_to_opt"]
                 for e in r["epochs"]] for r in runs]
        return [statistics.fmean(column) for column in zip(*rows, strict=True)]

    columns = {"SGD-FP": curve("sgd-fp", None)}
    for family in FAMILIES:
        fmt = fmt_of(family, wl)
        columns[f"SGD-LP {fmt}"] = curve("sgd-lp", fmt)
        columns[f"SWALP {fmt}"] = curve("swalp", fmt)
    epochs = [e for e in CURVE_EPOCHS if e <= len(columns["SGD-FP"])]
    rows = [[str(e)] + [f"{c[e - 1]:.2e}" for c in columns.values()] for e in epochs]
    return render_table(["epoch", *columns], rows, markdown=True)


def print_cnn(records: list[dict[str, Any]], seeds: int) -> None:
    """The digits CNN section and its target."""
    config = records[0]["config"]
    table, returned = cnn_table(records, seeds)
    print(f"\n### Digits CNN ({CNN_TASK}), 8-bit block floating point\n")
    print(f"{config['epochs']} epochs, batch {config['batch_size']}, lr {config['lr']} (paper schedule), "
          f"averaging once per epoch from the end of epoch {config['swa_start']}, lr {config['swa_lr']} "
          f"from epoch {config['swa_start'] + 1}; "
          "every role (W, A, E, G, M) bfp8 with stochastic rounding, paper's block layout.\n")
    print(table)
    gap = returned["swalp"] - returned["sgd-fp"]
    met = gap <= 0.5 and returned["swalp"] < returned["sgd-lp"]
    print(f"\nTarget (SWALP within 0.5 points of SGD-FP and below SGD-LP): SWALP {returned['swalp']:.2f}, "
          f"SGD-FP {returned['sgd-fp']:.2f} (gap {gap:+.2f}), SGD-LP {returned['sgd-lp']:.2f}: "
          f"{'met' if met else 'missed'}.")


def print_convex(records: list[dict[str, Any]], widths: Sequence[int], seeds: int) -> None:
    """The convex sections and the linreg target."""
    for task in CONVEX_TASKS:
        config = next(r["config"] for r in records if r["task"] == task)
        table, pairs = convex_table(records, task, widths)
        print(f"\n### {task}: squared distance to the optimum at the end ({config['epochs']} epochs)\n")
        print(f"batch {config['batch_size']}, constant lr {config['lr']}, "
              f"weight decay {config['weight_decay']}, "
              f"SWALP averages once per epoch from the end of epoch {config['swa_start']}; W, G, M quantized "
              f"(stochastic rounding), mean of {seeds} seeds.\n")
        print(table)
        if task == "linreg":
            ratios = {family: lp / sw for (family, wl), (lp, sw) in pairs.items() if wl == 8}
            verdict = "met" if all(r >= 10 for r in ratios.values()) else "missed"
            print("\nTarget (8 bits: SWALP >= 10x closer than SGD-LP): "
                  + ", ".join(f"{f} {r:.1f}x" for f, r in ratios.items()) + f": {verdict}.")
            print("\nDistance over epochs at 8 bits (returned model; SWALP's average from the end of epoch "
                  f"{config['swa_start']}):\n")
            print(curve_table(records, 8))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    parser.add_argument("--widths", default="4,6,8,10", help="word lengths of the convex table")
    parser.add_argument("--tables", default="cnn,convex", help="tables to make: cnn, convex or both")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    tables = set(args.tables.split(","))
    if not tables or tables - {"cnn", "convex"}:
        raise SystemExit(f"--tables must name cnn and/or convex, got {args.tables!r}")
    if 8 not in widths:
        raise SystemExit("--widths must include 8 (the targets are at 8 bits)")
    seeds = range(args.seeds)
    start = time.perf_counter()
    print(f"<!-- {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine_line()}; code {code_version()} -->")
    cnn = [RunConfig(task=CNN_TASK, method=m, formats="bfp8", seed=s) for m in SWALP_METHODS for s in seeds]
    convex = [RunConfig(task=t, method="sgd-fp", seed=s) for t in CONVEX_TASKS for s in seeds]
    convex += [RunConfig(task=t, method=m, formats={r: fmt_of(f, wl) for r in "WGM"}, seed=s)
               for t in CONVEX_TASKS for m in CONVEX_METHODS[1:] for f in FAMILIES for wl in widths
               for s in seeds]
    cnn, convex = (cnn if "cnn" in tables else []), (convex if "convex" in tables else [])
    records = run_many(cnn + convex, args.jobs)
    if cnn:
        print_cnn(records[:len(cnn)], args.seeds)
    if convex:
        print_convex(records[len(cnn):], widths, args.seeds)
    print(f"\n<!-- {len(records)} runs in {time.perf_counter() - start:.0f} s; {load_line()} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
