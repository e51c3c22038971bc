"""Figures of format analyses and sweeps (matplotlib, each saved as PNG and PDF).

* :func:`plot_sqnr`: SQNR (dB) against bits per element, one line per format family.
* :func:`plot_pareto`: test error against energy per training step, the Pareto front
  highlighted, points labelled by format.
* :func:`plot_error_vs_bits`: test error against bits per element, one line per family and
  method, full-precision methods as horizontal references.
* :func:`plot_sensitivity`: per-role sweeps: test error when one role alone is narrowed.
* :func:`plot_sweep`: all three from a sweep directory's CSV (``swalp plot DIR``).

Sweep figures use the mean over seeds of each configuration (``summarize``), error bars one
standard deviation when there are several seeds. A run's error is that of the model the method
delivers: the averaged model's (``swa_test_error``) for averaging methods, else ``test_error``.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swalp.roles import ROLES
from swalp.sweep.store import CSV_NAME, MANIFEST, catch_up_csv, read_csv
from swalp.tasks import CLASSIFICATION, REGRESSION, TASKS

FIGURE_TYPES = ("png", "pdf")
PLOTS_DIR = "plots"
#: Stems of the files :func:`plot_sweep` writes under ``DIR/plots``.
SWEEP_FIGURES = ("pareto", "error_vs_bits", "role_sensitivity")
FAMILY_ORDER = ("fixed", "bfp", "float", "mx")
DPI = 110


#: Offsets (points) tried in turn for a label, right of / left of, above / below its point.
LABEL_OFFSETS = ((5, 4), (5, -11), (-5, 4), (-5, -11), (5, 14), (5, -21), (-5, 14), (-5, -21), (5, 24),
                 (5, -31))


def place_labels(ax: Any, labels: Sequence[tuple[str, tuple[float, float], bool]],
                 fontsize: float = 7) -> None:
    """Annotate data points ``(text, (x, y), bold)`` so that labels do not overlap each other:
    each label, in order of x, takes the first of :data:`LABEL_OFFSETS` whose box (estimated
    from the text length) is free, else the last one."""
    ax.autoscale_view()
    scale = ax.figure.dpi / 72.0
    char_w, line_h = 0.62 * fontsize * scale, 1.15 * fontsize * scale
    taken: list[tuple[float, float, float, float]] = []
    for text, xy, bold in sorted(labels, key=lambda item: item[1]):
        px, py = ax.transData.transform(xy)
        width = char_w * len(text)
        for dx, dy in LABEL_OFFSETS:
            x0, y0 = px + dx * scale - (width if dx < 0 else 0.0), py + dy * scale
            box = (x0, y0, x0 + width, y0 + line_h)
            if not any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3] for b in taken):
                break
        taken.append(box)
        ax.annotate(text, xy, textcoords="offset points", xytext=(dx, dy), ha="right" if dx < 0 else "left",
                    fontsize=fontsize, fontweight="bold" if bold else "normal")


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use: start-up stays fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish_axes(fig: Any, ax: Any, xlabel: str, ylabel: str, title: str,
                 stem: str | os.PathLike[str]) -> list[Path]:
    """Label, grid, legend and title one-panel figure ``fig`` and save it (:func:`save_figure`)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, stem)


def save_figure(fig: Any, stem: str | os.PathLike[str]) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (directories created), close it, return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(f"{stem.name}.{ext}") for ext in FIGURE_TYPES]
    for path in paths:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return paths


def _families(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {r["family"] for r in rows}
    return [f for f in FAMILY_ORDER if f in present] + sorted(present - set(FAMILY_ORDER))


def plot_sqnr(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str], title: str = "") -> list[Path]:
    """SQNR against bits per element of an analysis table's rows (``format``, ``family``,
    ``bits_per_element``, ``sqnr_db``): markers for every format, a line per family through
    the best SQNR at each bit width; formats of the float and MX families are labelled. When no
    format has a finite SQNR (an all-zero tensor, or every format exact: infinite SQNR), the
    figure says so instead of drawing an empty legend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels: list[tuple[str, tuple[float, float], bool]] = []
    if not any(math.isfinite(r["sqnr_db"]) for r in rows):
        ax.text(0.5, 0.5, "no format has a finite SQNR on this tensor\n"
                "(all-zero input, or every format exact)", transform=ax.transAxes, ha="center", va="center")
    for family in _families(rows):
        points = sorted((r["bits_per_element"], r["sqnr_db"], r["format"]) for r in rows
                        if r["family"] == family and math.isfinite(r["sqnr_db"]))
        if not points:
            continue
        best: dict[float, float] = {}
        for bits, sqnr, _ in points:
            best[bits] = max(best.get(bits, -math.inf), sqnr)
        (line,) = ax.plot(list(best), list(best.values()), marker="o", markersize=4, label=family)
        ax.scatter([p[0] for p in points], [p[1] for p in points], color=line.get_color(), s=14)
        if family in ("float", "mx"):
            labels += [(name, (bits, sqnr), False) for bits, sqnr, name in points]
    place_labels(ax, labels)
    ax.set_xlabel("bits per element (shared scales included)")
    ax.set_ylabel("SQNR (dB)")
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(title="family")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, stem)


def run_error(row: Mapping[str, Any]) -> float | None:
    """Test error of the model a run delivers: ``swa_test_error`` when the run averaged, else
    ``test_error`` (None when the row has neither)."""
    swa = row.get("swa_test_error")
    return swa if swa is not None else row.get("test_error")


def summarize(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Finished sweep rows grouped by configuration (method, label, varied roles, lr policy) over seeds:
    ``test_error`` (mean of :func:`run_error`), ``test_error_std`` (0 for one seed), ``seeds``, and the first
    row's ``family``, ``bits_per_element`` and ``cost_energy_pj_per_step``. Grid order."""
    groups: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("status") == "ok" and run_error(row) is not None:
            key = (row["method"], row["label"], row.get("varied_roles") or "", row.get("lr_policy") or "")
            groups.setdefault(key, []).append(row)
    out = []
    for (method, label, varied, policy), group in groups.items():
        errors = [float(run_error(r)) for r in group]
        first = group[0]
        out.append({"method": method, "label": label, "varied_roles": varied, "lr_policy": policy,
                    "family": first["family"],
                    "bits_per_element": first.get("bits_per_element"),
                    "cost_energy_pj_per_step": first.get("cost_energy_pj_per_step"),
                    "test_error": statistics.fmean(errors),
                    "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
                    "seeds": len(errors)})
    return out


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (both minimized; of equal
    points the first), ordered by the first coordinate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front, best = [], math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def _method_colors(methods: Sequence[str]) -> dict[str, str]:
    colors = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: colors[i % len(colors)] for i, m in enumerate(dict.fromkeys(methods))}


def _display(point: Mapping[str, Any]) -> str:
    varied = point["varied_roles"]
    return point["label"] if len(varied) != 1 else f"{point['label']} ({varied})"


def _error_label(rows: Sequence[Mapping[str, Any]]) -> str:
    tasks = sorted({str(r.get("task")) for r in rows})
    kinds = {TASKS[t].kind for t in tasks if t in TASKS}
    unit = {frozenset([CLASSIFICATION]): " (%)", frozenset([REGRESSION]): " (MSE)"}.get(frozenset(kinds), "")
    return f"test error{unit}, {', '.join(tasks)}"


def plot_pareto(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str],
                title: str = "") -> list[Path]:
    """Test error against energy per training step (uJ) of each configuration; the Pareto
    front (no configuration both cheaper and more accurate) drawn as a line with its points
    ringed. Points are labelled by format (the front always; all when there are 24 or fewer)."""
    plt = pyplot()
    points = [p for p in summarize(rows) if p["cost_energy_pj_per_step"]]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colors = _method_colors([p["method"] for p in points])
    xy = [(p["cost_energy_pj_per_step"] / 1e6, p["test_error"]) for p in points]
    for method, color in colors.items():
        mine = [i for i, p in enumerate(points) if p["method"] == method]
        ax.errorbar([xy[i][0] for i in mine], [xy[i][1] for i in mine],
                    yerr=[points[i]["test_error_std"] for i in mine], fmt="o", color=color, markersize=5,
                    capsize=2, label=method, alpha=0.85)
    front = pareto_front(xy)
    if front:
        ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], color="black", linewidth=1.2,
                drawstyle="steps-post", zorder=1, label="Pareto front")
        ax.scatter([xy[i][0] for i in front], [xy[i][1] for i in front], s=110, facecolors="none",
                   edgecolors="black", linewidths=1.2, zorder=3)
    if xy and max(x for x, _ in xy) > 10 * min(x for x, _ in xy):
        ax.set_xscale("log")
    labelled = range(len(points)) if len(points) <= 24 else front
    place_labels(ax, [(_display(points[i]), xy[i], i in front) for i in labelled])
    return _finish_axes(fig, ax, "energy per training step (uJ)", _error_label(rows), title, stem)


def plot_error_vs_bits(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str],
                       title: str = "") -> list[Path]:
    """Test error against bits per element of the swept roles: a line per (family, method) over
    configurations that narrow all swept roles together; full-precision methods dashed."""
    plt = pyplot()
    points = summarize(rows)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    full = [p for p in points if p["label"] == "fp32"]
    for i, p in enumerate(full):
        ax.axhline(p["test_error"], linestyle="--", color="gray", alpha=0.5 + 0.5 * i / max(len(full), 1),
                   label=f"{p['method']} (fp32)")
    narrowed = [p for p in points if p["label"] != "fp32" and len(p["varied_roles"]) != 1
                and p["bits_per_element"] is not None]
    methods = list(dict.fromkeys(p["method"] for p in narrowed))
    styles = ("-", ":", "-.", "--")
    for family in _families(narrowed):
        color = None
        for k, method in enumerate(methods):
            line = sorted((p["bits_per_element"], p["test_error"], p["test_error_std"]) for p in narrowed
                          if p["family"] == family and p["method"] == method)
            if not line:
                continue
            bits, err, std = zip(*line, strict=True)
            drawn = ax.errorbar(bits, err, yerr=std, marker="o", markersize=4, capsize=2, color=color,
                                linestyle=styles[k % len(styles)], label=f"{family}, {method}")
            color = drawn.lines[0].get_color()
    return _finish_axes(fig, ax, "bits per element of the narrowed roles (shared scales included)",
                        _error_label(rows), title, stem)


def plot_sensitivity(rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike[str],
                     title: str = "") -> list[Path]:
    """Per-role sweeps (``--per-role``): for each role, test error when that role alone takes
    each format (bars, narrowest format rightmost in each group) and the others stay at the
    base format; one panel per method. Returns no paths when ``rows`` hold no per-role runs."""
    points = [p for p in summarize(rows) if len(p["varied_roles"]) == 1]
    if not points:
        return []
    plt = pyplot()
    methods = list(dict.fromkeys(p["method"] for p in points))
    fig, axes = plt.subplots(1, len(methods), figsize=(6.5 * len(methods), 4.2), squeeze=False)
    full = {p["method"]: p["test_error"] for p in summarize(rows) if p["label"] == "fp32"}
    for ax, method in zip(axes[0], methods, strict=True):
        mine = [p for p in points if p["method"] == method]
        roles = [r for r in ROLES if any(p["varied_roles"] == r for p in mine)]
        labels = sorted(dict.fromkeys(p["label"] for p in mine),
                        key=lambda lab: -max(p["bits_per_element"] or 0 for p in mine if p["label"] == lab))
        width = 0.8 / len(labels)
        for j, label in enumerate(labels):
            by_role = {p["varied_roles"]: p for p in mine if p["label"] == label}
            xs = [i + (j - (len(labels) - 1) / 2) * width for i, r in enumerate(roles) if r in by_role]
            ax.bar(xs, [by_role[r]["test_error"] for r in roles if r in by_role], width,
                   yerr=[by_role[r]["test_error_std"] for r in roles if r in by_role], capsize=2, label=label)
        for name, err in full.items():
            ax.axhline(err, linestyle="--", color="gray", label=f"{name} (fp32)")
        ax.set_xticks(range(len(roles)), roles)
        ax.set_xlabel("role narrowed (others at the base format)")
        ax.set_ylabel(_error_label(rows))
        ax.set_title(f"{method}: {title}" if title else method, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7, title="format", title_fontsize=7)
    return save_figure(fig, stem)


def plot_sweep(out: str | os.PathLike[str]) -> list[Path]:
    """Regenerate every figure of the sweep in ``out`` from its CSV into ``out/plots`` (the CSV
    first caught up with the sweep's records, see :func:`swalp.sweep.store.catch_up_csv`).

    Raises:
        FileNotFoundError: ``out`` holds no results CSV.
        ValueError: the CSV holds no finished run.
    """
    out = Path(out)
    csv_path = out / CSV_NAME
    if (out / MANIFEST).exists():
        catch_up_csv(out)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{out} holds no sweep results: {csv_path} not found "
                                "(run `swalp sweep` first)")
    rows = read_csv(csv_path)
    if not summarize(rows):
        raise ValueError(f"{csv_path} holds no finished run to plot")
    tasks = sorted({str(r.get("task")) for r in rows})
    title = f"{', '.join(tasks)}: {len(rows)} runs"
    plots = out / PLOTS_DIR
    pareto, by_bits, sensitivity = SWEEP_FIGURES
    return [*plot_pareto(rows, plots / pareto, title), *plot_error_vs_bits(rows, plots / by_bits, title),
            *plot_sensitivity(rows, plots / sensitivity, title)]


__all__ = ["FIGURE_TYPES", "SWEEP_FIGURES", "pareto_front", "place_labels", "plot_error_vs_bits",
           "plot_pareto", "plot_sensitivity", "plot_sqnr", "plot_sweep", "run_error", "save_figure",
           "summarize"]
