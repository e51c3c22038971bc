"""``swalp diagnet``: the implicit bias of diagonal linear networks (Moroshko et al., NeurIPS
2020) in float64 and in low-precision formats (:mod:`swalp.diagnet`).

``swalp diagnet study``: margin ratios along gradient flow, one run per alpha: a table, the
records as CSV and ``margins.png``. ``swalp diagnet formats``: the same runs with parameters,
gradients and loss held in each format and rounding: the per-format table (text and Markdown),
CSV and ``formats.png``. Run records are kept under ``OUT/runs`` and reused.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from swalp.diagnet.format_study import (
    DEFAULT_FORMAT_ALPHAS,
    DEFAULT_FORMAT_STEPS,
    DEFAULT_FORMATS,
    DEFAULT_ROUNDINGS,
    format_rows,
    markdown_table,
    run_formats,
)
from swalp.diagnet.maxmargin import MaxMargins
from swalp.diagnet.plots import plot_formats, plot_margins
from swalp.diagnet.study import DEFAULT_ALPHAS, DataConfig, ratio_table, run_alphas
from swalp.diagnet.trainer import TrainConfig
from swalp.runio.files import write_text
from swalp.sweep.store import rows_to_csv
from swalp.threads import single_threaded


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must name at least one value, got {text!r}")
    return values


def _names(text: str, name: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise ValueError(f"{name} must name at least one entry, got {text!r}")
    return values


def _setup(args: argparse.Namespace) -> tuple[DataConfig, dict[str, object], Path]:
    data = DataConfig(args.n, args.d, args.k, args.seed)
    dataset = data.dataset()  # refuses bad sizes before anything is trained
    margins = MaxMargins.of(dataset.Z)
    print(f"data: n={data.n} d={data.d} k={data.k} seed={data.seed}; max margins: "
          f"l1 {margins.l1.margin:.4f}, l2 {margins.l2.margin:.4f}; depth {args.depth}, "
          f"eps down to e^-{args.target:g}")
    options = {"depth": args.depth, "target_log_inv_eps": args.target, "loss_step": args.loss_step,
               "max_relative_change": args.max_relative_change, "records": args.records, "seed": args.seed}
    return data, options, Path(args.out)


def run_study(args: argparse.Namespace) -> int:
    data, options, out = _setup(args)
    with single_threaded():
        runs = run_alphas(data, _floats(args.alphas, "--alphas"), out, args.force, **options)
    print("r1 / r2 = l1 / l2 normalised margin over its max-margin value, at training loss eps:")
    print(ratio_table(runs))
    rows = [{"alpha": run.config.alpha, **record} for run in runs for record in run.records]
    write_text(out / "study.csv", rows_to_csv(rows))
    figures = plot_margins(runs, out / "margins", f"diagonal network, depth {args.depth}, "
                           f"n={data.n} d={data.d} k={data.k}: margin ratios along gradient flow")
    print(f"records: {out / 'study.csv'}; figures: {', '.join(map(str, figures))}")
    return 0


def run_formats_study(args: argparse.Namespace) -> int:
    data, options, out = _setup(args)
    if args.max_steps < 1:
        raise ValueError(f"--max-steps must be a positive integer, got {args.max_steps}")
    with single_threaded():
        references, runs = run_formats(
            data, _floats(args.alphas, "--alphas"), _names(args.formats, "--formats"),
            _names(args.roundings, "--roundings"), out, args.force, format_steps=args.max_steps,
            loss_in=args.loss_in, **options)
    rows = format_rows(references, runs)
    table = markdown_table(rows)
    print(table)
    write_text(out / "formats.md", table + "\n")
    write_text(out / "formats.csv", rows_to_csv(rows))
    figures = plot_formats(references, runs, out / "formats",
                           f"diagonal network, depth {args.depth}, n={data.n} d={data.d} k={data.k}: "
                           f"where each format stops (loss held {args.loss_in})")
    print(f"table: {out / 'formats.md'}, {out / 'formats.csv'}; figures: {', '.join(map(str, figures))}")
    return 0


def _common(parser: argparse.ArgumentParser, alphas: str, out: str) -> None:
    data = {f.name: f.default for f in fields(DataConfig)}
    train = {f.name: f.default for f in fields(TrainConfig)}
    parser.add_argument("--alphas", default=alphas, help=f"initialisation scales (default: {alphas})")
    parser.add_argument("--n", type=int, default=data["n"], help="samples (default: %(default)s)")
    parser.add_argument("--d", type=int, default=data["d"], help="features (default: %(default)s)")
    parser.add_argument("--k", type=int, default=data["k"], help="teacher nonzeros (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=data["seed"],
                        help="seed of the data and of stochastic rounding (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=train["depth"],
                        help="D in w = u+^D - u-^D (default: %(default)s)")
    parser.add_argument("--target", type=float, default=train["target_log_inv_eps"],
                        help="train until log(1/eps) reaches this (default: %(default)g, eps ~ 1e-869)")
    parser.add_argument("--loss-step", type=float, default=train["loss_step"],
                        help="largest predicted decrease of log(eps) per step (default: %(default)g)")
    parser.add_argument("--max-relative-change", type=float, default=train["max_relative_change"],
                        help="largest relative change of a parameter per step (default: %(default)g)")
    parser.add_argument("--records", type=int, default=train["records"],
                        help="records per run, geometric in log(1/eps) (default: %(default)d)")
    parser.add_argument("--force", action="store_true", help="retrain runs whose records exist")
    parser.add_argument("--out", default=out, help=f"output directory (default: {out})")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnet", help="implicit bias of diagonal linear networks: alpha vs eps, and number formats",
        description="Diagonal linear networks w = u+^D - u-^D on separable data with the exponential "
                    "loss (Moroshko et al., NeurIPS 2020): l1/l2 margin ratios against log(1/eps) per "
                    "initialisation scale alpha, in float64 (study) and in low-precision formats (formats).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    study = actions.add_parser("study", help="float64 margin ratios vs log(1/eps), one curve per alpha")
    _common(study, ",".join(f"{a:g}" for a in DEFAULT_ALPHAS), "diagnet")
    study.set_defaults(func=run_study)
    formats = actions.add_parser("formats", help="where each format and rounding stops the trajectory")
    _common(formats, ",".join(f"{a:g}" for a in DEFAULT_FORMAT_ALPHAS), "diagnet")
    formats.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                         help=f"lpformats spellings (default: {','.join(DEFAULT_FORMATS)})")
    formats.add_argument("--roundings", default=",".join(DEFAULT_ROUNDINGS),
                         help=f"rounding modes (default: {','.join(DEFAULT_ROUNDINGS)})")
    formats.add_argument("--loss-in", default="format", choices=("format", "log"),
                         help="hold the per-sample losses in the format (default) or keep the loss in "
                              "float64 log space (only parameters, gradients and updates rounded)")
    formats.add_argument("--max-steps", type=int, default=DEFAULT_FORMAT_STEPS,
                         help=f"step budget of each low-precision run (default: {DEFAULT_FORMAT_STEPS})")
    formats.set_defaults(func=run_formats_study)
