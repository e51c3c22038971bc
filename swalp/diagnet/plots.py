"""Figures of the study (matplotlib, PNG and PDF via :func:`swalp.plots.save_figure`).

* :func:`plot_margins`: ``r1`` and ``r2`` against ``log(1/eps)`` (log axis), one curve per alpha.
* :func:`plot_formats`: per alpha, the float64 curve and every low-precision run up to where it
  stopped (a cross), one colour per format, solid for nearest and dashed for stochastic rounding.

Dotted verticals mark ``eps = 1e-100`` and ``1e-300``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from swalp.diagnet.trainer import Run
from swalp.plots import pyplot, save_figure

_MARKS = {"1e-100": 100 * math.log(10), "1e-300": 300 * math.log(10)}
_PANELS = (("r1", "l1 margin / l1 max margin"), ("r2", "l2 margin / l2 max margin"))


def _trajectory(run: Run, key: str) -> tuple[list[float], list[float]]:
    points = [(r["log_inv_eps"], r[key]) for r in run.records if r["log_inv_eps"] > 0]
    return [p[0] for p in points], [p[1] for p in points]


def _mark_eps(ax) -> None:
    for label, x in _MARKS.items():
        ax.axvline(x, color="grey", linestyle=":", linewidth=0.8)
        ax.text(x, 0.98, f"eps={label} ", transform=ax.get_xaxis_transform(), fontsize=7, color="grey",
                rotation=90, ha="right", va="top")


def plot_margins(runs: Sequence[Run], stem: str | os.PathLike[str], title: str = "") -> list[Path]:
    """Margin ratios against ``log(1/eps)``, one curve per run (labelled by alpha)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    cmap = plt.get_cmap("viridis")
    for ax, (key, label) in zip(axes, _PANELS, strict=True):
        for i, run in enumerate(runs):
            xs, ys = _trajectory(run, key)
            ax.plot(xs, ys, color=cmap(i / max(1, len(runs) - 1)), label=f"alpha={run.config.alpha:g}")
        _mark_eps(ax)
        ax.set_xscale("log")
        ax.set_xlabel("log(1/eps)   (eps = training loss)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)


def plot_formats(references: Sequence[Run], runs: Sequence[Run], stem: str | os.PathLike[str],
                 title: str = "") -> list[Path]:
    """One column per alpha, rows ``r1`` and ``r2``: float64 in black, every format run to its stop."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(references), figsize=(5.5 * len(references), 7.5), squeeze=False,
                             sharex=True)
    formats = list(dict.fromkeys(run.config.numerics().name for run in runs))
    colours = {name: plt.get_cmap("tab10")(i) for i, name in enumerate(formats)}
    for col, ref in enumerate(references):
        for row, (key, label) in enumerate(_PANELS):
            ax = axes[row][col]
            ax.plot(*_trajectory(ref, key), color="black", linewidth=2, label="float64")
            for run in (r for r in runs if r.config.alpha == ref.config.alpha):
                xs, ys = _trajectory(run, key)
                name = run.config.numerics().name
                style = "-" if run.config.rounding == "nearest" else "--"
                run_label = f"{name} {run.config.rounding}"
                if not xs:  # stopped while the loss was still above 1/e: off the log axis
                    run_label += f" (stopped at eps={math.exp(-run.final['log_inv_eps']):.3g})"
                ax.plot(xs, ys, style, color=colours[name], label=run_label)
                if xs:
                    ax.plot(xs[-1], ys[-1], "x", color=colours[name], markersize=8)
            _mark_eps(ax)
            ax.set_xscale("log")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            if row == 0:
                ax.set_title(f"alpha = {ref.config.alpha:g}", fontsize=10)
            else:
                ax.set_xlabel("log(1/eps)   (x: where the run stopped)")
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.0))
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)
