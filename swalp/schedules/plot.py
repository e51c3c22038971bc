"""Figure of learning-rate policies: the rate against the step, one line per policy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from swalp.plots import DPI, pyplot
from swalp.schedules.policy import Policy


def plot_policies(policies: Sequence[Policy], steps: int, path: str | os.PathLike[str],
                  labels: Sequence[str] | None = None, title: str = "") -> Path:
    """Save a figure (format from ``path``'s suffix: .png, .pdf, .svg) of each policy's rate
    at iterations ``0 .. steps - 1``; the legend shows ``labels`` (default: the specs)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    names = labels if labels is not None else [p.spec() for p in policies]
    for policy, name in zip(policies, names, strict=True):
        ax.plot(range(steps), policy.values(steps), linewidth=1.2, label=name)
    ax.set_xlabel("iteration (optimizer step)")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1 + (len(names) > 4))
    ax.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


__all__ = ["plot_policies"]
