"""``swalp formats``: how well each format represents a tensor, no training: a table of
:func:`lpformats.analyze` statistics, a CSV of it, and a plot of SQNR against bits per element."""

from __future__ import annotations

import argparse
from pathlib import Path

from lpformats.analyze import analyze
from swalp.plots import plot_sqnr
from swalp.runio.files import write_text
from swalp.sweep.grid import expand_formats
from swalp.sweep.store import rows_to_csv
from swalp.tensor_sources import load_tensor_source

DEFAULT_FORMATS = "fixed:4..16,bfp:4..16,fp8_e4m3,fp8_e5m2,mx*"


def run(args: argparse.Namespace) -> int:
    formats = expand_formats(args.formats)
    if args.size < 1:
        raise ValueError(f"--size must be a positive integer, got {args.size}")
    tensors = load_tensor_source(args.tensor_source, size=args.size, seed=args.seed, data_dir=args.data_dir)
    table = analyze(tensors, formats, rounding=args.rounding, seed=args.seed)
    print(f"tensor source {args.tensor_source}: {len(tensors)} tensor(s), {table}")
    out = Path(args.out)
    write_text(out / "formats.csv", rows_to_csv(table.to_rows()))
    title = f"{args.tensor_source} ({table.n} elements), rounding {args.rounding}"
    figures = plot_sqnr(table.to_rows(), out / "sqnr_vs_bits", title)
    print(f"table: {out / 'formats.csv'}; figures: {', '.join(map(str, figures))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "formats", help="quantization error of many formats on one tensor source; table and SQNR plot",
        description="Quantize a tensor source in every format and report SQNR, absolute/relative error, "
                    "bias, saturated and flushed fractions and bits per element. Sources: normal, laplace, "
                    "log-uniform (samples), TASK:ROLE (W, A, E or G of one training step of the task's "
                    "model, e.g. digits-vgg:E), or a .npy/.npz file.")
    parser.add_argument("--tensor-source", default="normal", help="what to quantize (default: normal)")
    parser.add_argument("--formats", default=DEFAULT_FORMATS,
                        help="FAMILY:LO..HI ranges (fixed, bfp, int), preset globs (mx*) and format "
                             f"spellings, comma-separated (default: {DEFAULT_FORMATS})")
    parser.add_argument("--rounding", default="nearest", help="rounding mode (default: nearest)")
    parser.add_argument("--size", type=int, default=1 << 16,
                        help="samples of a distribution (default: 65536)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of samples, model init and stochastic rounding")
    parser.add_argument("--data-dir", help="data directory of tasks that need one (CIFAR)")
    parser.add_argument("--out", default="swalp-formats",
                        help="directory for formats.csv and sqnr_vs_bits.png/.pdf (default: swalp-formats)")
    parser.set_defaults(func=run)
