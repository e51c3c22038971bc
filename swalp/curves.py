"""The demo's figure: test error over epochs per method, with energy per training step
(and the saving against fp32) beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def plot_runs(records: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Save a PNG at ``path``: left, test error (%) per epoch of each run's iterate (solid)
    and average (dashed); right, energy per training step in microjoules per run, labelled
    with the energy saving and speedup against fp32."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, record in enumerate(records):
        color = colors[i % len(colors)]
        history = record["epochs"]
        label = record["method"]
        left.plot([row["epoch"] for row in history], [row["test_error"] for row in history], color=color,
                  label=label)
        swa = [(row["epoch"], row["swa_test_error"]) for row in history if row["swa_test_error"] is not None]
        if swa:
            left.plot(*zip(*swa, strict=True), color=color, linestyle="--", label=f"{label} (average)")
    left.set_xlabel("epoch")
    left.set_ylabel("test error (%)")
    left.set_yscale("symlog", linthresh=1.0)
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    names = [r["method"] for r in records]
    energy = [(r["cost"].get("energy_pj_per_step") or 0.0) / 1e6 for r in records]
    bars = right.bar(names, energy, color=[colors[i % len(colors)] for i in range(len(records))])
    for bar, record in zip(bars, records, strict=True):
        saving, speedup = record["cost"].get("energy_ratio_vs_fp32"), record["cost"].get("speedup_vs_fp32")
        if saving is None or speedup is None:
            label = ""
        elif saving == 1.0 and speedup == 1.0:
            label = "fp32"
        else:
            label = f"{saving:.1f}x less\nenergy,\n{speedup:.1f}x faster"
        right.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                       va="bottom", fontsize=8)
    if any(energy):
        right.set_ylim(min(e for e in energy if e > 0) / 3, max(energy) * 4)
    accelerator = records[0]["cost"].get("accelerator", "") if records else ""
    right.set_ylabel(f"energy per training step (uJ, {accelerator})")
    right.set_yscale("log")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
