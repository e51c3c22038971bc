"""The format study: the same training with every tensor held in a low-precision format.

For each ``alpha``, format and rounding mode a run (:func:`swalp.diagnet.trainer.train` with
``fmt``) is compared with the float64 reference of the same ``alpha``: where the format stops
the trajectory (``stop``, and ``eps`` = the loss ``L`` of the rounded weights there), the margin
ratios it leaves (``r1``, ``r2``) against float64's at the same ``eps``, the regime, and the
lpformats statistics at the stop (``loss_underflow``, ``grad_underflow``: fractions flushed to
zero; ``swamped``: fraction of nonzero updates since the previous record that changed nothing;
``swamped_run``: the same over the whole run).

Regime of a predictor: ``not separating`` while some margin is <= 0; else ``l1 (rich)`` when
``r1 >= r2`` and ``l2 (kernel)`` when ``r2 > r1``, provided the larger ratio is at least
``REGIME_RATIO`` (the predictor is within 30% of that max margin); ``neither`` otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from swalp.diagnet.maxmargin import MaxMargins
from swalp.diagnet.records import cached_run
from swalp.diagnet.study import DataConfig, run_alphas, value_at
from swalp.diagnet.trainer import Run, TrainConfig, train

DEFAULT_FORMATS = ("fp32", "bf16", "fp16", "fp8_e5m2", "bfp8")
DEFAULT_ROUNDINGS = ("nearest", "stochastic")
#: One alpha that ends l1-like and one that starts l2-like in float64 within the studied range.
DEFAULT_FORMAT_ALPHAS = (0.01, 1.0)
#: Steps allowed to a low-precision run (stochastic runs that keep moving end here).
DEFAULT_FORMAT_STEPS = 20_000
#: A regime is named only when its margin ratio reaches this.
REGIME_RATIO = 0.7


def run_formats(data: DataConfig, alphas: Sequence[float], formats: Sequence[str], roundings: Sequence[str],
                out: Path | None = None, force: bool = False, format_steps: int = DEFAULT_FORMAT_STEPS,
                **train_options: Any) -> tuple[list[Run], list[Run]]:
    """``(references, runs)``: the float64 run of every alpha and one run per (alpha, format,
    rounding), in that nesting order; ``train_options`` are :class:`TrainConfig` fields shared by
    all. Records under ``out`` are reused (:func:`swalp.diagnet.records.cached_run`)."""
    if not formats or not roundings:
        raise ValueError("formats and roundings must each name at least one entry")
    options = {**train_options, "max_steps": format_steps}
    configs = [TrainConfig(alpha=alpha, fmt=fmt, rounding=rounding, **options)  # refuse bad input first
               for alpha in alphas for fmt in formats for rounding in roundings]
    references = run_alphas(data, alphas, out, force, **train_options)
    dataset = data.dataset()
    margins = MaxMargins.of(dataset.Z)
    runs = []
    for config in configs:
        key = re.sub(r"[^A-Za-z0-9_.]+", "_",
                     f"{config.fmt}-{config.rounding}-{config.loss_in}-alpha{config.alpha:g}")
        run, _ = cached_run(out, key, {"data": asdict(data), "train": asdict(config)},
                            lambda config=config: train(dataset, config, margins), force)
        runs.append(run)
    return references, runs


def regime(gamma: float, r1: float, r2: float) -> str:
    """``not separating``, ``l1 (rich)``, ``l2 (kernel)`` or ``neither`` (module docstring)."""
    if gamma <= 0:
        return "not separating"
    if max(r1, r2) < REGIME_RATIO:
        return "neither"
    return "l1 (rich)" if r1 >= r2 else "l2 (kernel)"


def eps_text(log_inv_eps: float) -> str:
    """The loss ``exp(-log_inv_eps)`` written as a power of ten (``1e-44``) or plainly when above 1e-3."""
    if log_inv_eps < 3 * math.log(10):
        return f"{math.exp(-log_inv_eps):.3g}"
    return f"1e-{log_inv_eps / math.log(10):.0f}"


def format_rows(references: Sequence[Run], runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per low-precision run (fields in the module docstring), ``ref_*`` the float64
    run of the same alpha at the same loss, ``ref_end_*`` at its end."""
    by_alpha = {ref.config.alpha: ref for ref in references}
    rows = []
    for run in runs:
        ref, end = by_alpha[run.config.alpha], run.final
        x = end["log_inv_eps"]
        rows.append({
            "alpha": run.config.alpha, "format": run.config.numerics().name,
            "rounding": run.config.rounding, "loss_in": run.config.loss_in, "stop": run.stop,
            "steps": run.steps, "log_inv_eps": x, "eps": eps_text(x), "r1": end["r1"], "r2": end["r2"],
            "regime": regime(end["gamma1"], end["r1"], end["r2"]),
            "ref_r1": value_at(ref, x, "r1"), "ref_r2": value_at(ref, x, "r2"),
            "ref_end_eps": eps_text(ref.final["log_inv_eps"]), "ref_end_r1": ref.final["r1"],
            "ref_end_r2": ref.final["r2"],
            "ref_end_regime": regime(ref.final["gamma1"], ref.final["r1"], ref.final["r2"]),
            "loss_underflow": end["loss_underflow"], "grad_underflow": end["grad_underflow"],
            "swamped": end["swamped"], "swamped_run": run.swamped_total})
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The per-format table as Markdown (ratios to 3 decimals, fractions to 2)."""
    header = ("| alpha | format | rounding | stops at eps | because | steps | r1 / r2 there "
              "| float64 at that eps | regime left | loss underflow | grad underflow "
              "| swamped (last / run) |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in rows:
        ref = "-" if math.isnan(r["ref_r1"]) else f"{r['ref_r1']:.3f} / {r['ref_r2']:.3f}"
        lines.append(
            f"| {r['alpha']:g} | {r['format']} | {r['rounding']} | {r['eps']} | {r['stop']} | {r['steps']} "
            f"| {r['r1']:.3f} / {r['r2']:.3f} | {ref} | {r['regime']} | {r['loss_underflow']:.2f} "
            f"| {r['grad_underflow']:.2f} | {r['swamped']:.2f} / {r['swamped_run']:.2f} |")
    return "\n".join(lines)
