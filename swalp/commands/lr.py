"""``swalp lr``: print and plot learning-rate policies (any spec of :mod:`swalp.schedules`)."""

from __future__ import annotations

import argparse
import csv

from swalp.schedules import REGISTRY, parse_policy
from swalp.schedules.plot import plot_policies
from swalp.schedules.spec import signature


def run(args: argparse.Namespace) -> int:
    if args.list:
        for cls in REGISTRY.values():
            print(signature(cls))
            print(f"    {' '.join((cls.__doc__ or '').split())}")
        return 0
    if not args.policy:
        raise ValueError("give --policy SPEC (several --policy to compare), or --list")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.steps_per_epoch < 1:
        raise ValueError(f"--steps-per-epoch must be >= 1, got {args.steps_per_epoch}")
    if args.every is not None and args.every < 1:
        raise ValueError(f"--every must be >= 1, got {args.every}")
    policies = [parse_policy(spec) for spec in args.policy]
    per_step = [p.per_step(args.steps_per_epoch) for p in policies]
    values = [p.values(args.steps) for p in per_step]
    every = args.every or max(1, args.steps // 20)
    shown = sorted({*range(0, args.steps, every), args.steps - 1})
    for i, (policy, rates) in enumerate(zip(policies, values, strict=True)):
        print(f"policy {i + 1}: {policy.spec()}")
        print(f"  min {min(rates):.6g}, max {max(rates):.6g}, last {rates[-1]:.6g} over {args.steps} steps"
              + (f" ({args.steps_per_epoch} per epoch)" if args.steps_per_epoch > 1 else ""))
    print("step  " + "  ".join(f"{f'policy {i + 1}':>12s}" for i in range(len(policies))))
    for step in shown:
        print(f"{step:<5d} " + "  ".join(f"{rates[step]:12.6g}" for rates in values))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["step", *(p.spec() for p in policies)])
            writer.writerows([step, *(rates[step] for rates in values)] for step in range(args.steps))
        print(f"values: {args.csv}")
    if args.plot:
        path = plot_policies(per_step, args.steps, args.plot, labels=[p.spec() for p in policies])
        print(f"figure: {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lr", help="print and plot learning-rate policies (LRBench's functions, SWALP's schedules)",
        description="Evaluate learning-rate policy specs at steps 0..N-1: print a table, write the values as "
                    "CSV and plot them. Spelling: NAME(param=value,...) pieces joined by '@START' "
                    "(e.g. 'WARMUP(k0=0,k1=0.1,l=50) @50 COS(k0=0.001,k1=0.1,l=450)'), an 'epoch:' prefix "
                    "for policies counted in epochs. --list shows every policy and its parameters.")
    parser.add_argument("--policy", action="append", help="a policy spec; repeat to compare several")
    parser.add_argument("--steps", type=int, default=1000, help="steps to evaluate (default 1000)")
    parser.add_argument("--steps-per-epoch", type=int, default=1,
                        help="optimizer steps per epoch for 'epoch:' policies (default 1)")
    parser.add_argument("--every", type=int, help="print every K-th step (default: about 20 rows)")
    parser.add_argument("--plot", help="save the figure here (.png, .pdf or .svg)")
    parser.add_argument("--csv", help="write every step's rate here")
    parser.add_argument("--list", action="store_true", help="list the policies and their parameters")
    parser.set_defaults(func=run)
