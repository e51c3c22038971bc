"""``swalp demo``: the main job in about a minute: the digits CNN trained with every method
at 8-bit block floating point, one table of test error next to the accelerator cost of a
training step against fp32, and a PNG of the curves."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from swalp.curves import plot_runs
from swalp.experiments import METHODS, RunConfig, run_many
from swalp.report import summary_table
from swalp.roles import parse_role_assignments


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    methods = [m.strip() for m in args.methods.split(",")]
    formats = parse_role_assignments(args.formats, "--formats")
    configs = [RunConfig(task=args.task, method=m, formats=formats, epochs=args.epochs,
                         swa_start=args.swa_start, seed=args.seed).resolved() for m in methods]
    jobs = max(1, min(args.jobs, len(configs)))
    print(f"swalp demo: {args.task}, {args.epochs} epochs, averaging from epoch {args.swa_start + 1}, "
          f"formats {args.formats} (stochastic rounding), methods {', '.join(methods)}, {jobs} process(es)")
    start = time.perf_counter()
    records = run_many(configs, jobs, [out / c.method for c in configs])
    print()
    print(summary_table(records, markdown=args.markdown))
    figure = plot_runs(records, out / "demo.png", f"{args.task}: {args.formats} vs fp32")
    accelerator = records[0]["cost"].get("accelerator")
    baseline = records[0]["cost"].get("baseline", "fp32")
    print(f"\nenergy and speedup: one training step (batch {configs[0].batch_size}) on accel_model preset "
          f"'{accelerator}', against the same step in fp32 (baseline {baseline}).")
    print(f"records: {out}/<method>/record.json; figure: {figure}; {time.perf_counter() - start:.0f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="train the digits CNN with SGD/SWA/SGD-LP/SWALP; accuracy next to accelerator cost",
        description="A short real run: the digits CNN trained with each method at 8-bit block floating "
                    "point; prints test error next to energy per training step and speedup against fp32.")
    parser.add_argument("--task", default="digits-vgg", help="task (default: digits-vgg)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--formats", default="bfp8",
                        help="format of every role (default: bfp8), or per role: W=bfp8,A=fp8_e4m3,...")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--swa-start", type=int, default=6,
                        help="first averaging epoch, 0-based (default: 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="runs in parallel (default: min(4, cores))")
    parser.add_argument("--out", default="swalp-demo", help="output directory (default: swalp-demo)")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.set_defaults(func=run)
