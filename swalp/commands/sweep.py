"""``swalp sweep``: train a grid of (method, format, roles, seed) runs locally or on Ray; one
tidy CSV, a JSON record per run, resumable, and the sweep's figures."""

from __future__ import annotations

import argparse
import sys

from swalp.commands.method_options import add_method_option_arguments, method_options_from_args
from swalp.experiments import RunConfig
from swalp.methods import method_names
from swalp.plots import plot_sweep
from swalp.roles import ROLES
from swalp.schedules import parse_policy
from swalp.sweep import SweepSummary, run_sweep
from swalp.sweep.backends import BACKENDS
from swalp.sweep.grid import GridSpec, expand_formats, expand_grid, parse_list, parse_seeds
from swalp.sweep.runner import run_point
from swalp.tasks import TASKS

#: Run options a sweep may fix for every point (None: the task's default).
FIXED_OPTIONS = ("epochs", "batch_size", "lr", "swa_lr", "swa_start", "rounding", "accelerator", "data_dir",
                 "train_size", "log_every")


def spec_from_args(args: argparse.Namespace) -> GridSpec:
    """The grid the options describe; every point's run configuration is checked.

    Raises:
        ValueError: unknown task/method/role/format, a bad range or seed list, or run options
            that no point could run with (e.g. ``--swa-start`` not below ``--epochs``).
    """
    roles = args.roles if "," in args.roles else list(args.roles)  # W,A,E or WAE
    spec = GridSpec(task=args.task, methods=tuple(parse_list(args.methods, "methods", method_names())),
                    formats=tuple(expand_formats(args.formats)),
                    roles=tuple(parse_list(roles, "roles", ROLES)),
                    seeds=tuple(parse_seeds(args.seeds)), per_role=args.per_role,
                    base_format=args.base_format, fixed=fixed_options(args),
                    lr_policies=(parse_policy(args.lr_policy).spec(),) if args.lr_policy else ())
    return checked(spec)


def fixed_options(args: argparse.Namespace) -> dict:
    """The :data:`FIXED_OPTIONS` the command line sets (the others take the task's defaults)
    and, as ``method_options``, the method options it sets (each point gets those of its
    method: :func:`swalp.sweep.grid.make_point`)."""
    fixed = {name: getattr(args, name) for name in FIXED_OPTIONS if getattr(args, name) is not None}
    options = method_options_from_args(args)
    return fixed | {"method_options": options} if options else fixed


def checked(spec: GridSpec) -> GridSpec:
    """``spec``, after checking every point's run configuration (ValueError names the problem)."""
    for point in expand_grid(spec, TASKS):
        RunConfig.from_dict(point["config"]).resolved()
    return spec


def run_grid(spec: GridSpec, args: argparse.Namespace) -> SweepSummary:
    """Run ``spec`` with the options of :func:`add_sweep_options` and print how it went.

    Raises:
        ValueError: also for a missing Ray or an unreachable ``--address`` (exit status 2).
    """
    try:
        summary = run_sweep(spec, args.out, run_point, backend=args.backend, workers=args.workers,
                            address=args.address, force=args.force, extend=args.extend, tasks=TASKS)
    except (ConnectionError, ImportError) as err:
        raise ValueError(str(err)) from None
    print(f"{summary.total} points: {summary.skipped} already finished, {summary.finished} finished and "
          f"{summary.failed} failed now, in {summary.wall_time_s:.1f} s "
          f"({summary.runs_per_minute:.1f} runs/min, backend {args.backend})")
    if summary.other_code:
        print(f"note: {summary.other_code} of the {summary.skipped} points already finished were run by "
              f"other code than this (their records' `code`: version and commit); they are kept as they "
              f"are: delete their runs/KEY.json files, or pass --force, to run them again")
    return summary


def exit_status(summary: SweepSummary) -> int:
    """1 (after saying so) when points failed, else 0."""
    if summary.failed:
        print(f"{summary.failed} point(s) failed (error column of {summary.csv}); run the same command "
              "again to retry them", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    summary = run_grid(spec_from_args(args), args)
    print(f"results: {summary.csv} (one row per run), records: {summary.out / 'runs'}/KEY.json")
    if not args.no_plot and summary.total > summary.failed:
        figures = plot_sweep(summary.out)
        print(f"figures: {', '.join(str(f) for f in figures if f.suffix == '.png')} (and PDF)")
    return exit_status(summary)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="train a grid of formats x methods x seeds; tidy CSV, JSON records, Pareto plots",
        description="Expand the grid (format families x bit widths, optionally one role at a time), train "
                    "every point (test error and accelerator cost of a training step), and write "
                    "OUT/results.csv, OUT/runs/KEY.json and OUT/plots/. Re-running the same command skips "
                    "finished points and retries failed ones.")
    parser.add_argument("--task", default="digits-vgg", help=f"one of: {', '.join(sorted(TASKS))}")
    parser.add_argument("--methods", default="sgd-fp,swalp",
                        help=f"comma-separated, from: {', '.join(method_names())} (default: sgd-fp,swalp)")
    parser.add_argument("--formats", required=True,
                        help="FAMILY:LO..HI ranges (fixed, bfp, int), preset globs (mx*) and format "
                             "spellings, comma-separated, e.g. bfp:4..8,fp8_e4m3,mxfp4")
    parser.add_argument("--roles", default="W,A,E,G,M",
                        help="roles that take the swept format (default: W,A,E,G,M); the others stay at "
                             "--base-format")
    parser.add_argument("--per-role", action="store_true",
                        help="narrow one role at a time (role-sensitivity sweep) instead of all together")
    parser.add_argument("--base-format", default="fp32", help="format of the roles not swept (default: fp32)")
    parser.add_argument("--seeds", default="1", help="a count (3: seeds 0,1,2) or a list (4,7); default 1")
    add_sweep_options(parser)
    parser.add_argument("--lr-policy", help="learning-rate policy spec of every run, replacing the task's "
                                            "schedule (see swalp lr --list)")
    parser.set_defaults(func=run)


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by commands that run a grid on the sweep machinery (``sweep``, ``lrbench``):
    output, backend, resume mode, figures, and the run options of :data:`FIXED_OPTIONS`."""
    parser.add_argument("--out", required=True, help="sweep directory")
    parser.add_argument("--backend", default="local", choices=BACKENDS,
                        help="local: process pool on this machine (default); ray: one Ray task per point")
    parser.add_argument("--address", help="Ray cluster to join (host:port, ray://host:port or auto); "
                                          "none starts a local Ray instance")
    parser.add_argument("--workers", type=int,
                        help="processes (local) or CPUs of a local Ray instance (default: all cores)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="OUT holds another grid: delete its results")
    mode.add_argument("--extend", action="store_true", help="OUT holds another grid: add this grid's points")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the figures")
    parser.add_argument("--epochs", type=int, help="epochs of every run (default: the task's)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="initial learning rate")
    parser.add_argument("--swa-lr", type=float)
    parser.add_argument("--swa-start", type=int, help="first averaging epoch (0-based)")
    parser.add_argument("--rounding", help="rounding of every role (default: stochastic)")
    parser.add_argument("--accelerator", help="accel_model preset for the step cost (default: tpu_v1)")
    parser.add_argument("--data-dir", help="local data directory (CIFAR tasks)")
    parser.add_argument("--train-size", type=int, help="training examples of a task with generated data "
                                                       "(mnist1d-*; default 4000)")
    add_method_option_arguments(parser)
