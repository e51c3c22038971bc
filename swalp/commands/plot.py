"""``swalp plot DIR``: redraw a sweep's figures from its CSV (Pareto front, error against bits,
per-role sensitivity), as PNG and PDF under ``DIR/plots``."""

from __future__ import annotations

import argparse

from swalp.plots import plot_sweep


def run(args: argparse.Namespace) -> int:
    figures = plot_sweep(args.dir)
    for figure in figures:
        print(figure)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot", help="redraw a sweep's figures from DIR/results.csv",
        description="Draw test error against energy per training step (Pareto front highlighted), test "
                    "error against bits per element per family and, for --per-role sweeps, the role "
                    "sensitivity chart, from DIR/results.csv into DIR/plots/*.png and *.pdf.")
    parser.add_argument("dir", help="sweep directory (written by swalp sweep)")
    parser.set_defaults(func=run)
