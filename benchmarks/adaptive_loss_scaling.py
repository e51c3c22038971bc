"""Adaptive layer-wise loss scaling (Zhao et al. 2019) against fixed loss scales on the deep
narrow MLP (``mnist1d-deepmlp``: ten linear layers of width 64) with low-precision errors.

For each error format (default E5M2 and fp16; role ``E`` only, rounded to nearest, every other
role in fp32, method ``sgd-lp`` with the task's defaults: 60 epochs, SGD momentum 0.9, lr 0.05,
batch 100) and each seed, it trains with static loss scales ``2^0 .. 2^20`` (``--loss-scale
static:S``; ``2^0`` is no scaling) and with ``--loss-scale adaptive`` (the authors' defaults, no
tuning), recording every ``--stats-every`` steps the per-layer underflow rate of the errors
(elements flushed to zero over nonzero elements, ``underflow_of_nonzero``) and the adaptive
scales. It prints, as Markdown for benchmarks/RESULTS.md:

1. per format and loss scale: final test accuracy (mean +- sample std over the seeds), skipped
   (overflowing) steps, and the per-layer underflow rate (median over layers of the mean over
   the recorded steps; and the worst layer's mean);
2. the claim's check: adaptive's accuracy against the best static scale's, per seed (paired).

and writes ``docs/adaptive_underflow.png`` (per-layer underflow rate over steps: no scaling,
the best static scale and adaptive, seed 0), ``docs/adaptive_scales.png`` (adaptive's
per-layer scale and carried scale over steps) and ``docs/adaptive_accuracy.png`` (accuracy
against the fixed scale, adaptive as a band).

Runs are resumable (each run's folder under ``--out``; a finished run is read back, an
interrupted one resumes from its checkpoint). Not a timed benchmark.

Run: ``nice -n 10 python benchmarks/adaptive_loss_scaling.py`` (45 runs with the defaults; each
took about 4 minutes of wall time with two workers on the 2-core machine at load 11-15;
``--workers`` processes, ``--seeds N`` or ``--seeds FORMAT=N,...`` per format).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, machine_line
from swalp.experiments import RunConfig, run_experiment
from swalp.plots import pyplot

TASK, METHOD = "mnist1d-deepmlp", "sgd-lp"
FORMATS = ("fp8_e5m2", "fp16")
STATIC_EXPONENTS = (0, 4, 8, 12, 16, 20)
ADAPTIVE = "adaptive"
#: Records averaged in the underflow plot's curves.
SMOOTHING = 5


def config(fmt: str, loss_scale: str, seed: int, stats_every: int, epochs: int | None) -> RunConfig:
    """One run: role E in ``fmt`` (nearest), the other roles fp32."""
    formats = {"W": "fp32", "A": "fp32", "E": fmt, "G": "fp32", "M": "fp32"}
    return RunConfig(task=TASK, method=METHOD, formats=formats, rounding="nearest", seed=seed, epochs=epochs,
                     method_options={"loss_scale": loss_scale, "stats_every": stats_every})


def run_dir(out: Path, fmt: str, loss_scale: str, seed: int) -> Path:
    return out / fmt / loss_scale.replace(":", "_").replace("^", "") / f"seed{seed}"


def run_one(args: tuple[RunConfig, Path]) -> dict[str, Any]:
    """Train (or resume, or read back) one run; its record."""
    cfg, folder = args
    return run_experiment(cfg, folder, resume=True)


def accuracy(record: dict[str, Any]) -> float:
    return 100.0 - record["final"]["test_error"]


def underflow_series(record: dict[str, Any]) -> tuple[list[int], dict[str, list[float]]]:
    """Steps and, per layer, the underflow rate (flushed over nonzero elements) at each
    recorded step."""
    rows = [r for r in record["loss_scaling"]["history"] if r.get("layers")]
    steps = [r["step"] for r in rows]
    layers: dict[str, list[float]] = {}
    for row in rows:
        for name, stats in row["layers"].items():
            layers.setdefault(name, []).append(stats["underflow_of_nonzero"])
    return steps, layers


def moving_average(values: list[float], window: int) -> list[float]:
    """Mean of each value with up to ``window - 1`` values before it."""
    return [statistics.fmean(values[max(0, i - window + 1):i + 1]) for i in range(len(values))]


def underflow_summary(record: dict[str, Any]) -> tuple[float, float]:
    """(median over layers, worst layer) of each layer's mean underflow rate over the recorded steps."""
    _, layers = underflow_series(record)
    means = [statistics.fmean(v) for v in layers.values()]
    return statistics.median(means), max(means)


def mean_std(values: list[float], digits: int = 1) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def best_static(records: dict, fmt: str, static: list[str], seeds: list[int]) -> str:
    """The static scale of highest mean accuracy over the seeds."""
    return max(static, key=lambda s: statistics.fmean(accuracy(records[(fmt, s, seed)]) for seed in seeds))


def seeds_per_format(text: str, formats: list[str]) -> dict[str, list[int]]:
    """``N`` (every format) or ``FORMAT=N,...`` (formats not named: 1) as seed lists."""
    if "=" not in text:
        return {fmt: list(range(int(text))) for fmt in formats}
    given = {name.strip(): int(n) for name, n in (item.split("=") for item in text.split(","))}
    unknown = sorted(set(given) - set(formats))
    if unknown:
        raise SystemExit(f"--seeds names formats not in --formats: {unknown}")
    return {fmt: list(range(given.get(fmt, 1))) for fmt in formats}


def spelled(exponent: int) -> str:
    return f"static:2^{exponent}"


def tables(records: dict[tuple[str, str, int], dict[str, Any]], formats: list[str],
           seeds_of: dict[str, list[int]], scales: list[str]) -> str:
    lines = []
    for fmt in formats:
        seeds = seeds_of[fmt]
        lines += [f"**Errors in {fmt}** ({len(seeds)} seeds)", "",
                  "| loss scale | test accuracy (%) | skipped steps | underflow rate, median layer "
                  "| worst layer |",
                  "|---|---|---|---|---|"]
        for scale in scales:
            recs = [records[(fmt, scale, s)] for s in seeds]
            under = [underflow_summary(r) for r in recs]
            skipped = [r["loss_scaling"]["scaler"]["skipped"] for r in recs]
            lines.append(f"| {scale} | {mean_std([accuracy(r) for r in recs])} | "
                         f"{mean_std([float(x) for x in skipped], 0)} | "
                         f"{statistics.fmean(u[0] for u in under):.1e} | "
                         f"{statistics.fmean(u[1] for u in under):.1e} |")
        static = [s for s in scales if s != ADAPTIVE]
        best = best_static(records, fmt, static, seeds)
        differences = [accuracy(records[(fmt, ADAPTIVE, s)]) - accuracy(records[(fmt, best, s)])
                       for s in seeds]
        wins = sum(d >= 0 for d in differences)
        lines += ["", f"Adaptive minus the best static scale ({best}), per seed: "
                  f"{', '.join(f'{d:+.1f}' for d in differences)} points "
                  f"(mean {statistics.fmean(differences):+.2f}; "
                  f"adaptive >= best static on {wins} of {len(seeds)} seeds).", ""]
    return "\n".join(lines)


def plot_underflow(records, formats, best, docs: Path) -> Path:
    plt = pyplot()
    columns = [("static:2^0", "no scaling"), (None, "best static"), (ADAPTIVE, "adaptive")]
    fig, axes = plt.subplots(len(formats), 3, figsize=(13, 3.6 * len(formats)), squeeze=False, sharey=True)
    for i, fmt in enumerate(formats):
        for j, (scale, title) in enumerate(columns):
            scale = scale or best[fmt]
            ax = axes[i][j]
            steps, layers = underflow_series(records[(fmt, scale, 0)])
            colors = plt.cm.viridis([k / max(1, len(layers) - 1) for k in range(len(layers))])
            for color, (name, values) in zip(colors, layers.items(), strict=True):
                ax.plot(steps, [max(v, 1e-6) for v in moving_average(values, SMOOTHING)], color=color, lw=0.8,
                        label=name)
            ax.axhline(1e-3, color="red", ls="--", lw=1, label="T_uf = 1e-3")
            ax.set_yscale("log")
            ax.set_title(f"{fmt} errors, {title} ({scale})", fontsize=9)
            ax.set_xlabel("optimizer step")
            if j == 0:
                ax.set_ylabel("underflow rate (flushed / nonzero)")
            ax.grid(True, alpha=0.3)
    axes[0][2].legend(fontsize=6, loc="lower right", title="error at the output of", title_fontsize=6)
    fig.suptitle(f"{TASK}: per-layer underflow rate of the errors (seed 0; moving average over {SMOOTHING} "
                 "records; 1e-6 = none)", fontsize=10)
    fig.tight_layout()
    path = docs / "adaptive_underflow.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scale_series(record: dict[str, Any]) -> tuple[list[int], dict[str, list[float]], dict[str, list[float]]]:
    rows = [r for r in record["loss_scaling"]["history"] if r.get("layer_scales")]
    steps = [r["step"] for r in rows]
    own: dict[str, list[float]] = {}
    carried: dict[str, list[float]] = {}
    for row in rows:
        for name, values in row["layer_scales"].items():
            own.setdefault(name, []).append(values["scale"])
            carried.setdefault(name, []).append(values["carried"])
    return steps, own, carried


def plot_scales(records, formats, docs: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(len(formats), 2, figsize=(11, 3.6 * len(formats)), squeeze=False)
    for i, fmt in enumerate(formats):
        steps, own, carried = scale_series(records[(fmt, ADAPTIVE, 0)])
        colors = plt.cm.plasma([k / max(1, len(own) - 1) for k in range(len(own))])
        panels = ((axes[i][0], own, "layer's own scale s"), (axes[i][1], carried, "carried scale S"))
        for ax, series, label in panels:
            for color, (name, values) in zip(colors, series.items(), strict=True):
                ax.step(steps, values, where="post", color=color, lw=0.9, label=name)
            ax.set_yscale("log", base=2)
            ax.set_title(f"{fmt} errors, adaptive: {label}", fontsize=9)
            ax.set_xlabel("optimizer step")
            ax.grid(True, alpha=0.3)
    axes[0][1].legend(fontsize=6, loc="lower right")
    fig.suptitle(f"{TASK}: adaptive loss scales per layer (seed 0)", fontsize=10)
    fig.tight_layout()
    path = docs / "adaptive_scales.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_accuracy(records, formats, seeds_of, exponents, docs: Path, fp32: list[float] | None) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(formats), figsize=(5.5 * len(formats), 3.8), squeeze=False)
    for ax, fmt in zip(axes[0], formats, strict=True):
        seeds = seeds_of[fmt]
        means = [statistics.fmean(accuracy(records[(fmt, spelled(e), s)]) for s in seeds) for e in exponents]
        for s in seeds:
            ax.plot(exponents, [accuracy(records[(fmt, spelled(e), s)]) for e in exponents], color="gray",
                    lw=0.6, alpha=0.6, marker=".")
        ax.plot(exponents, means, color="black", marker="o", label="static scale (mean; gray: seeds)")
        adaptive = [accuracy(records[(fmt, ADAPTIVE, s)]) for s in seeds]
        low, high = min(adaptive), max(adaptive)
        ax.axhspan(low, high, color="tab:green", alpha=0.25, label="adaptive (range over seeds)")
        ax.axhline(statistics.fmean(adaptive), color="tab:green", lw=1.5)
        if fp32:
            ax.axhline(statistics.fmean(fp32), color="tab:blue", ls=":", label="fp32 (sgd-fp, mean)")
        ax.set_xlabel("log2 of the static loss scale")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{fmt} errors ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})", fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{TASK}: final test accuracy against the loss scale", fontsize=10)
    fig.tight_layout()
    path = docs / "adaptive_accuracy.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("adaptive-loss-scaling"), help="runs' folder")
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    parser.add_argument("--formats", default=",".join(FORMATS), help="error formats, comma-separated")
    parser.add_argument("--seeds", default="3", help="seeds per format: N for all, or FORMAT=N,...")
    parser.add_argument("--exponents", default=",".join(map(str, STATIC_EXPONENTS)),
                        help="log2 of the static loss scales, comma-separated")
    parser.add_argument("--stats-every", type=int, default=20, help="steps between recorded statistics")
    parser.add_argument("--epochs", type=int, default=None, help="default: the task's (60)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",")]
    exponents = [int(e) for e in args.exponents.split(",")]
    seeds_of = seeds_per_format(args.seeds, formats)
    seeds = list(range(max(len(s) for s in seeds_of.values())))
    scales = [spelled(e) for e in exponents] + [ADAPTIVE]
    jobs = [(fmt, scale, seed) for seed in seeds for fmt in formats for scale in scales
            if seed in seeds_of[fmt]]
    fp32_jobs = [(RunConfig(task=TASK, method="sgd-fp", seed=s, epochs=args.epochs),
                  args.out / "fp32" / f"seed{s}") for s in seeds]
    work = [(config(f, sc, s, args.stats_every, args.epochs), run_dir(args.out, f, sc, s))
            for f, sc, s in jobs]
    print(machine_line())
    print(f"code: {code_version()}; {len(work) + len(fp32_jobs)} runs on {args.workers} workers", flush=True)
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(run_one, work + fp32_jobs))
    records = dict(zip(jobs, results[:len(work)], strict=True))
    fp32 = [accuracy(r) for r in results[len(work):]]
    best = {fmt: best_static(records, fmt, [s for s in scales if s != ADAPTIVE], seeds_of[fmt])
            for fmt in formats}
    print(f"\nfp32 (sgd-fp) test accuracy: {mean_std(fp32)} %\n")
    print(tables(records, formats, seeds_of, scales))
    args.docs.mkdir(parents=True, exist_ok=True)
    for path in (plot_underflow(records, formats, best, args.docs), plot_scales(records, formats, args.docs),
                 plot_accuracy(records, formats, seeds_of, exponents, args.docs, fp32)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
