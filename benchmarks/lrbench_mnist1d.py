"""LRBench's findings reproduced at small scale on MNIST-1D's CNN, then at low precision.

Not a timed benchmark. Two ``swalp lrbench`` studies in one directory (the second extends the
first; finished runs are skipped, so a killed run resumes where it stopped):

1. Tuning at full precision (``sgd-fp``, 3 seeds): FIX at three rates, NSTEP and COS at two
   peak rates, TRIEXP with a small and a large ``k1``, and SWALP's paper schedule, 20 epochs
   of 40 steps. LRBench's claims: tuned NSTEP and COS reach the target in fewer steps than
   FIX; TRIEXP with a large ``k1`` fluctuates.
2. Do the rankings hold at low precision? The best instance of FIX, NSTEP and COS from (1),
   the large-``k1`` TRIEXP and SWALP's schedule under SGD-LP and SWALP (averaging from epoch
   15) with every role in ``bfp8`` and ``bfp(6)`` (``--low-seeds``, default 2), against the same
   policies at full precision.

Run: ``nice -n 10 python benchmarks/lrbench_mnist1d.py --out lrbench-mnist1d`` (70 runs of 20
epochs, 40 of them low-precision; about 20 CPU-minutes, much longer in wall time on a shared
machine). Re-running it skips finished runs and redoes only the analysis.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, load_line, machine_line
from swalp.cli import main

TASK = "mnist1d-cnn"
TARGET = "90"
FIXED = ["--epochs", "20", "--swa-start", "15"]
TUNING = [
    "epoch:FIX(k0=0.02)", "epoch:FIX(k0=0.05)", "epoch:FIX(k0=0.1)",
    "epoch:NSTEP(k0=0.1,gamma=0.1,l=[10,15])", "epoch:NSTEP(k0=0.2,gamma=0.1,l=[10,15])",
    "epoch:COS(k0=0.001,k1=0.1,l=20)", "epoch:COS(k0=0.001,k1=0.2,l=20)",
    "TRIEXP(k0=0.05,k1=0.15,l=40,gamma=0.999)", "TRIEXP(k0=0.05,k1=0.5,l=40,gamma=0.999)",
    "epoch:SWALP(lr=0.1,epochs=20)",
]
LARGE_TRIEXP, PAPER = TUNING[8], TUNING[9]


def tuned(out: Path, function: str) -> str:
    """The full-precision instance of ``function`` with the best mean top-1 in study 1."""
    with open(out / "lrbench.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["setting"] == "sgd-fp"
                and r["policy"].split(":")[-1].startswith(function + "(")]
    return max(rows, key=lambda r: float(r["top1_accuracy"]))["policy"]


def study(out: Path, policies: list[str], methods: str, seeds: str, *extra: str) -> None:
    status = main(["lrbench", "--task", TASK, "--policies", ";".join(policies), "--methods", methods,
                   "--formats", "bfp8,bfp(6)", "--seeds", seeds, "--target", TARGET, "--out", str(out),
                   *FIXED, *extra])
    if status != 0:
        raise SystemExit(f"swalp lrbench exited with status {status}; run this script again to resume")


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    print(f"# LRBench on {TASK}\n\n{machine_line()}\n{load_line()}\ncode: {code_version()}\n")
    extra = ["--workers", str(args.workers)]
    resume = ["--extend"] if (out / "manifest.json").exists() else []
    print("## 1. tuning at full precision\n")
    study(out, TUNING, "sgd-fp", "3", *extra, *resume)
    low = [tuned(out, name) for name in ("FIX", "NSTEP", "COS")] + [LARGE_TRIEXP, PAPER]
    print(f"\n## 2. the same policies at low precision: {'; '.join(low)}\n")
    for seeds in range(1, args.low_seeds + 1):  # every setting at seed 0 first, then seed 1, ...
        study(out, low, "sgd-fp,sgd-lp,swalp", str(seeds), *extra, "--extend")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="lrbench-mnist1d", help="study directory (default lrbench-mnist1d)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--low-seeds", type=int, default=2,
                        help="seeds of the low-precision study (default: 2)")
    run(parser.parse_args())
