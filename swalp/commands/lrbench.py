"""``swalp lrbench``: LRBench's study of learning-rate policies on the sweep machinery: train
every policy under every setting and seed, rank the policies by each metric, recommend one."""

from __future__ import annotations

import argparse

from swalp.commands.sweep import add_sweep_options, checked, exit_status, fixed_options, run_grid
from swalp.lrbench.plots import plot_study
from swalp.lrbench.study import analyze, format_report, split_policies, study_grid
from swalp.methods import method_names
from swalp.sweep.grid import GridSpec, expand_formats, parse_list, parse_seeds
from swalp.tasks import TASKS


def grid_from_args(args: argparse.Namespace) -> GridSpec:
    """The study's grid; every point's run configuration is checked before anything runs.

    Raises:
        ValueError: a bad policy, method, format, seed list or run option.
    """
    if not 0 < args.target <= 100:
        raise ValueError(f"--target is a test accuracy in percent, in (0, 100]; got {args.target}")
    if args.tolerance < 0:
        raise ValueError(f"--tolerance must be >= 0 accuracy points, got {args.tolerance}")
    methods = parse_list(args.methods, "methods", method_names())
    return checked(study_grid(args.task, split_policies(args.policies), methods, expand_formats(args.formats),
                              parse_seeds(args.seeds), fixed_options(args)))


def run(args: argparse.Namespace) -> int:
    summary = run_grid(grid_from_args(args), args)
    report = analyze(summary.out, args.target, args.tolerance)
    print(format_report(report))
    print(f"\nper run: {summary.out / 'lrbench_runs.csv'}; per policy and setting, with ranks: "
          f"{summary.out / 'lrbench.csv'}; summary: {summary.out / 'lrbench.json'}")
    if not args.no_plot:
        steps = max(s for r in report.runs for s, _ in r["curve"])
        spe = report.runs[0]["steps_per_epoch"]
        figures = plot_study(report.table, report.labels, args.target, steps, spe, summary.out / "plots",
                             title=f"{args.task}: LRBench study, target {args.target:g}%")
        print(f"figures: {', '.join(str(f) for f in figures if f.suffix == '.png')} (and PDF)")
    return exit_status(summary)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lrbench", help="compare learning-rate policies with LRBench's metrics; rank, recommend",
        description="Train every learning-rate policy under every method/format setting and seed (the sweep "
                    "machinery: local pool or Ray, resumable), then compute LRBench's metrics per run (top-1/"
                    "top-5, confidence over correct samples, per-class confidence spread, robustness = test "
                    "loss - final training loss, steps to --target accuracy) and over seeds (spread of "
                    "top-1), rank the policies by each metric per setting, measure how well the rankings "
                    "agree across settings (Kendall's tau) and recommend a policy with its parameter ranges. "
                    "Writes OUT/lrbench.csv, OUT/lrbench_runs.csv, OUT/lrbench.json and OUT/plots/.")
    parser.add_argument("--task", default="mnist1d-cnn", help=f"one of: {', '.join(sorted(TASKS))}")
    parser.add_argument("--policies", action="append", required=True,
                        help="policy specs separated by ';' (repeatable), e.g. "
                             "'epoch:FIX(k0=0.05); epoch:NSTEP(k0=0.1,gamma=0.1,l=[10,15])'")
    parser.add_argument("--target", type=float, required=True, help="target test accuracy in %% for the cost")
    parser.add_argument("--tolerance", type=float, default=0.5,
                        help="accuracy points below the best top-1 that still count as good (default 0.5)")
    parser.add_argument("--methods", default="sgd-fp",
                        help=f"settings' methods, comma-separated, from: {', '.join(method_names())} "
                             "(default sgd-fp)")
    parser.add_argument("--formats", default="bfp8",
                        help="formats of the low-precision methods (all roles), e.g. bfp:6..8 (default bfp8)")
    parser.add_argument("--seeds", default="3", help="a count (3: seeds 0,1,2) or a list (4,7); default 3")
    add_sweep_options(parser)
    parser.set_defaults(func=run)
