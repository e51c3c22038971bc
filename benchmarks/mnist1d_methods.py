"""SGD-FP, SWA-FP, SGD-LP and SWALP on MNIST-1D (``mnist1d-cnn``) at block floating point of
4 to 8 bits (every role W A E G M, stochastic rounding), several seeds each: the README's
lead result, printed as Markdown for benchmarks/RESULTS.md.

Not a timed benchmark. The grid runs through ``swalp sweep --extend`` (local backend, resumable: run
the same command again after an interruption and only the missing points train, in the
order the sweep directory's manifest lists them), with the
task's default hyperparameters (60 epochs, SGD momentum 0.9, lr 0.1, batch 100, the paper
schedule, averaging from epoch 40 at lr 0.01). Three tables:

0. Full precision against the MNIST-1D paper (test accuracy: CNN 94 %, MLP 68 %): SGD-FP and
   SWA-FP on ``mnist1d-cnn`` and ``mnist1d-mlp`` (a second sweep directory, ``OUT-mlp``).

1. Test error (%) of the model each method returns (SGD: the last iterate; SWA/SWALP: the
   average in full precision), mean +- sample standard deviation over the seeds, SWALP's last
   low-precision iterate and its average rounded to W's format, and the accelerator cost of
   one training step (``tpu_v1`` model): energy, speedup and energy saving against fp32.
2. Paired comparison per bit width: per seed, SWALP's error minus SGD-LP's (the same seed
   fixes the initialization and data order of both); mean +- standard deviation of those
   differences, the number of seeds where SWALP is lower, and the exact two-sided sign-flip
   permutation p-value of the mean difference (all 2^n sign assignments; with 5 seeds the
   smallest possible p is 2/32 = 0.0625).

Run: ``nice -n 10 python benchmarks/mnist1d_methods.py`` (about 25 CPU-minutes for 5 seeds;
``--workers`` processes).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, load_line, machine_line
from lpformats import BlockFloat, parse
from swalp.cli import main as swalp_main
from swalp.experiments import SWALP_METHODS
from swalp.plots import run_error
from swalp.report import render_table

TASK, FORMATS = "mnist1d-cnn", "bfp:4..8"
#: Test accuracy (%) the MNIST-1D paper reports for its models.
PAPER_ACCURACY = {"mnist1d-cnn": 94.0, "mnist1d-mlp": 68.0}
FP_METHODS = ("sgd-fp", "swa-fp")
NUMERIC = ("test_error", "swa_test_error", "swa_lp_test_error", "cost_energy_pj_per_step",
           "cost_speedup_vs_fp32", "cost_energy_ratio_vs_fp32", "wall_time_s")


def read_rows(path: Path) -> list[dict]:
    """Rows of a sweep's results.csv whose run succeeded, numeric fields as floats (None when
    empty); none when the sweep has not started."""
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["status"] == "ok"]
    for row in rows:
        row.update({key: float(row[key]) if row[key] != "" else None for key in NUMERIC})
        row["seed"] = int(row["seed"])
    return rows


def mean_std(values: Sequence[float], digits: int = 2) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def sign_flip_p(differences: Sequence[float]) -> float:
    """Exact two-sided p-value of a paired sign-flip permutation test of mean 0: the share of
    the 2^n sign assignments whose |mean| is at least the observed |mean|."""
    observed = abs(statistics.fmean(differences))
    flips = list(itertools.product((1, -1), repeat=len(differences)))
    means = [abs(statistics.fmean(s * d for s, d in zip(signs, differences, strict=True))) for signs in flips]
    hits = sum(m >= observed - 1e-12 for m in means)
    return hits / len(flips)


def bits_of(label: str) -> int | None:
    """Word length of a block floating point label (``bfp(6)``, ``bfp8``), None for others."""
    fmt = parse(label)
    return fmt.wl if isinstance(fmt, BlockFloat) else None


def fidelity_table(rows_by_task: dict[str, list[dict]]) -> str:
    """Table 0: full-precision test accuracy per task and method against the paper."""
    out = []
    for task, rows in rows_by_task.items():
        for method in FP_METHODS:
            runs = [r for r in rows if r["method"] == method]
            if runs:
                out.append([task, method, str(len(runs)), mean_std([100 - run_error(r) for r in runs]),
                            f"{PAPER_ACCURACY[task]:.0f}"])
    header = ["task", "method", "seeds", "test accuracy % (mean ± sd)", "paper"]
    return render_table(header, out, markdown=True)


def method_table(rows: list[dict]) -> str:
    """Table 1: per method and format, error of the returned model and the step's cost."""
    out = []
    labels = sorted({r["label"] for r in rows}, key=lambda s: (bits_of(s) or 99))
    for method in SWALP_METHODS:
        for label in labels:
            runs = [r for r in rows if r["method"] == method and r["label"] == label]
            if not runs:
                continue
            cost = runs[0]
            iterate = [r["test_error"] for r in runs] if method in ("swa-fp", "swalp") else []
            low = [r["swa_lp_test_error"] for r in runs if r["swa_lp_test_error"] is not None]
            out.append([method, label, str(len(runs)), mean_std([run_error(r) for r in runs]),
                        mean_std(iterate), mean_std(low), f"{cost['cost_energy_pj_per_step'] / 1e6:.1f}",
                        f"{cost['cost_speedup_vs_fp32']:.2f}x", f"{cost['cost_energy_ratio_vs_fp32']:.2f}x"])
    header = ["method", "format", "seeds", "test err % (returned model)", "last iterate",
              "average in W's format", "energy/step uJ", "speedup vs fp32", "energy saving vs fp32"]
    return render_table(header, out, markdown=True)


def paired_table(rows: list[dict]) -> str:
    """Table 2: SWALP minus SGD-LP per seed, per bit width."""
    out = []
    for label in sorted({r["label"] for r in rows if bits_of(r["label"])}, key=bits_of):
        lp = {r["seed"]: run_error(r) for r in rows if r["method"] == "sgd-lp" and r["label"] == label}
        sw = {r["seed"]: run_error(r) for r in rows if r["method"] == "swalp" and r["label"] == label}
        seeds = sorted(set(lp) & set(sw))
        if not seeds:
            continue
        diff = [sw[s] - lp[s] for s in seeds]
        out.append([label, str(len(seeds)), mean_std([lp[s] for s in seeds]),
                    mean_std([sw[s] for s in seeds]), mean_std(diff),
                    f"{sum(d < 0 for d in diff)} of {len(seeds)}",
                    f"{sign_flip_p(diff):.3f}" if len(seeds) > 1 else "-"])
    header = ["format", "seeds", "SGD-LP test err %", "SWALP test err %", "SWALP − SGD-LP (paired)",
              "SWALP lower", "sign-flip p"]
    return render_table(header, out, markdown=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="sweep worker processes (default 2)")
    parser.add_argument("--out", default="sweep-mnist1d-methods",
                        help="sweep directory of the CNN grid (resumed if present); the MLP's is OUT-mlp")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: tables of the runs the sweep directories hold so far")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    mlp_out = f"{args.out}-mlp"
    for task, methods, formats, out in ((TASK, SWALP_METHODS, FORMATS, args.out),
                                        ("mnist1d-mlp", FP_METHODS, "bfp8", mlp_out)):
        if args.report_only:
            break
        status = swalp_main(["sweep", "--task", task, "--methods", ",".join(methods), "--formats", formats,
                             "--seeds", str(args.seeds), "--workers", str(args.workers), "--no-plot",
                             "--extend", "--out", out])
        if status != 0:
            return status
    rows = read_rows(Path(args.out) / "results.csv")
    mlp_rows = read_rows(Path(mlp_out) / "results.csv")
    run_time = sum(r["wall_time_s"] for r in rows + mlp_rows)
    print(f"\n<!-- {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine_line()}; code {code_version()} -->")
    print("\n### MNIST-1D in full precision against the paper\n")
    print(fidelity_table({TASK: rows, "mnist1d-mlp": mlp_rows}))
    print(f"\n### MNIST-1D CNN ({TASK}), block floating point 4-8 bits, {args.seeds} seeds\n")
    print(method_table(rows))
    print("\nPaired by seed (same initialization and data order), returned models:\n")
    print(paired_table(rows))
    print(f"\n<!-- {len(rows) + len(mlp_rows)} runs, {run_time / 60:.1f} min of wall time in their records; "
          "this call "
          f"{time.perf_counter() - start:.0f} s; {load_line()} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
