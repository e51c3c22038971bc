"""Figures of an LRBench study (PNG and PDF under ``OUT/plots``).

* ``accuracy_vs_steps``: mean test accuracy of the delivered model against optimizer steps,
  one line per policy, one panel per setting, the target dashed.
* ``metrics``: per setting, the metric table as a heat map coloured by rank (1 = best).
* ``ranks``: each policy's top-1 rank in every setting (do rankings hold across settings?).
* ``lr_policies``: the learning rate of every policy over the study's steps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swalp.lrbench.analysis import METRICS
from swalp.plots import pyplot, save_figure
from swalp.schedules import parse_policy
from swalp.schedules.plot import plot_policies

#: Column titles of the metric table.
METRIC_TITLES = {
    "top1_accuracy": "top-1 %", "top5_accuracy": "top-5 %", "confidence_mean": "conf. mean",
    "confidence_std": "conf. std", "class_confidence_spread": "class spread", "robustness": "robustness",
    "cost_steps": "steps to target", "top1_seed_std": "top-1 seed std",
}


def _settings(items: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(i["setting"] for i in items))


def _grid(count: int) -> tuple[int, int]:
    cols = min(count, 3)
    return math.ceil(count / cols), cols


def plot_accuracy(items: Sequence[Mapping[str, Any]], labels: Mapping[str, str], target: float,
                  stem: str | os.PathLike[str], title: str = "") -> list[Path]:
    """Accuracy against steps per policy, one panel per setting (see the module docstring)."""
    plt = pyplot()
    settings = _settings(items)
    rows, cols = _grid(len(settings))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False, sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {p: colors[k % len(colors)] for k, p in enumerate(labels)}
    for ax, setting in zip(axes.flat, settings, strict=False):
        for item in (i for i in items if i["setting"] == setting):
            steps, accuracy = zip(*item["curve"], strict=True)
            ax.plot(steps, accuracy, marker=".", markersize=3, linewidth=1.1, color=color_of[item["policy"]],
                    label=labels[item["policy"]])
        ax.axhline(target, linestyle="--", color="gray", linewidth=0.8)
        ax.set_title(setting, fontsize=9)
        ax.set_xlabel("optimizer steps")
        ax.grid(True, alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy % (delivered model)")
    for ax in list(axes.flat)[len(settings):]:
        ax.set_visible(False)
    low = min(a for i in items for _, a in i["curve"])
    axes[0, 0].set_ylim(max(low, target - 25), 100)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)


def _cell(metric: str, item: Mapping[str, Any]) -> str:
    value = item[metric]
    if metric == "cost_steps":
        return f"{'-' if value is None else format(value, '.0f')} ({item['reached']}/{item['seeds']})"
    if value is None:
        return "-"
    return f"{value:.2f}" if metric.endswith("accuracy") or metric == "top1_seed_std" else f"{value:.3f}"


def plot_metrics(items: Sequence[Mapping[str, Any]], labels: Mapping[str, str],
                 stem: str | os.PathLike[str], title: str = "") -> list[Path]:
    """The metric table per setting, cells coloured by rank within the setting (green = best)."""
    plt = pyplot()
    settings = _settings(items)
    policies = len(labels)
    fig, axes = plt.subplots(len(settings), 1, figsize=(13, (0.32 * policies + 0.9) * len(settings)),
                             squeeze=False)
    for ax, setting in zip(axes[:, 0], settings, strict=True):
        mine = [i for i in items if i["setting"] == setting]
        ranks = [[i[f"rank_{m}"] for m in METRICS] for i in mine]
        ax.imshow(ranks, cmap="RdYlGn_r", vmin=1, vmax=max(len(mine), 2), aspect="auto", alpha=0.5)
        for r, item in enumerate(mine):
            for c, metric in enumerate(METRICS):
                ax.text(c, r, _cell(metric, item), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(METRICS)), [METRIC_TITLES[m] for m in METRICS], fontsize=8)
        ax.set_yticks(range(len(mine)), [labels[i["policy"]] for i in mine], fontsize=8)
        ax.xaxis.tick_top()
        ax.set_title(setting, fontsize=9, loc="left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, stem)


def plot_ranks(items: Sequence[Mapping[str, Any]], labels: Mapping[str, str], stem: str | os.PathLike[str],
               metric: str = "top1_accuracy", title: str = "") -> list[Path]:
    """Each policy's rank by ``metric`` in every setting, one line per policy."""
    plt = pyplot()
    settings = _settings(items)
    fig, ax = plt.subplots(figsize=(1.6 * len(settings) + 3, 4))
    for policy, label in labels.items():
        ranks = {i["setting"]: i[f"rank_{metric}"] for i in items if i["policy"] == policy}
        xs = [k for k, s in enumerate(settings) if s in ranks]
        ax.plot(xs, [ranks[settings[k]] for k in xs], marker="o", label=label)
    ax.set_xticks(range(len(settings)), settings, rotation=20, fontsize=8)
    ax.invert_yaxis()
    ax.set_ylabel(f"rank by {METRIC_TITLES[metric]} (1 = best)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, stem)


def plot_study(items: Sequence[Mapping[str, Any]], labels: Mapping[str, str], target: float, steps: int,
               steps_per_epoch: int, plots: Path, title: str = "") -> list[Path]:
    """Every figure of the study into ``plots`` (see the module docstring)."""
    policies = [parse_policy(spec).per_step(steps_per_epoch) for spec in labels]
    lr = plots / "lr_policies.png"
    plot_policies(policies, steps, lr, labels=list(labels.values()), title=title)
    return [*plot_accuracy(items, labels, target, plots / "accuracy_vs_steps", title),
            *plot_metrics(items, labels, plots / "metrics", title),
            *plot_ranks(items, labels, plots / "ranks", title=title), lr]


__all__ = ["plot_accuracy", "plot_metrics", "plot_ranks", "plot_study"]
