"""An LRBench study on the sweep machinery: policies x settings x seeds, analysed.

:func:`study_grid` builds the sweep grid (every policy under every method and format, each
seed); :func:`swalp.sweep.run_sweep` trains it (local pool or Ray, resumable); :func:`analyze`
reads the finished records back and writes, next to the sweep's ``results.csv``:

* ``lrbench_runs.csv``: one row per run, LRBench's metrics and the cost (steps to target);
* ``lrbench.csv``: one row per (setting, policy): means, standard deviations, seed spread,
  cost, and ``rank_<metric>`` within the setting;
* ``lrbench.json``: the same plus the rank agreement across settings and the recommendation
  per setting;
* ``plots/``: the figures of :mod:`swalp.lrbench.plots`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from swalp.lrbench.analysis import (
    METRICS,
    Recommendation,
    aggregate,
    agreement,
    main_function,
    rank,
    recommend,
    run_metrics,
)
from swalp.runio.files import write_text
from swalp.schedules import parse_policy
from swalp.schedules.compose import Piecewise
from swalp.schedules.policy import format_value
from swalp.sweep.grid import GridSpec
from swalp.sweep.store import SweepStore, rows_to_csv

RUNS_CSV, TABLE_CSV, REPORT_JSON = "lrbench_runs.csv", "lrbench.csv", "lrbench.json"


def split_policies(texts: Sequence[str]) -> list[str]:
    """Canonical specs from ``--policies`` values (each may hold several, separated by ``;``),
    duplicates removed.

    Raises:
        ValueError: no policy, or a spec that cannot be read.
    """
    specs = [part.strip() for text in texts for part in text.split(";") if part.strip()]
    if not specs:
        raise ValueError("--policies must name at least one policy, e.g. "
                         "'FIX(k0=0.05); COS(k0=0.001,k1=0.1,l=500)'")
    return list(dict.fromkeys(parse_policy(spec).spec() for spec in specs))


def study_grid(task: str, policies: Sequence[str], methods: Sequence[str], formats: Sequence[str],
               seeds: Sequence[int], fixed: Mapping[str, Any] | None = None) -> GridSpec:
    """The sweep grid of a study: each policy under each method (low-precision methods at each
    format, all roles) and seed; ``fixed`` run options shared by every point."""
    return GridSpec(task=task, methods=tuple(methods), formats=tuple(formats), seeds=tuple(seeds),
                    fixed=dict(fixed or {}), lr_policies=tuple(policies))


def short_labels(specs: Sequence[str]) -> dict[str, str]:
    """A short, unique label per spec for legends: the name of its main function (pieces joined
    with ``+``), plus the parameters that differ between specs sharing that name."""
    policies = {spec: parse_policy(spec) for spec in specs}

    def name(spec: str) -> str:
        inner = getattr(policies[spec], "policy", policies[spec])
        return "+".join(p.NAME for p in inner.policies) if isinstance(inner, Piecewise) else inner.NAME

    labels = {}
    for spec in specs:
        peers = [s for s in specs if name(s) == name(spec)]
        mine = main_function(policies[spec]).parameters()
        others = [main_function(policies[s]).parameters() for s in peers]
        differ = [k for k in mine if any(other.get(k) != mine[k] for other in others)]
        suffix = ",".join(f"{k}={format_value(mine[k])}" for k in differ)
        labels[spec] = f"{name(spec)} {suffix}" if suffix else name(spec)
    for spec, label in labels.items():  # the same label twice: number them
        twins = [s for s, other in labels.items() if other == label]
        if len(twins) > 1:
            labels[spec] = f"{label} #{twins.index(spec) + 1}"
    return labels


@dataclass
class StudyReport:
    """The analysis of a study (see :func:`analyze`)."""

    runs: list[dict[str, Any]]
    table: list[dict[str, Any]]
    agreement: list[dict[str, Any]]
    recommendations: list[Recommendation]
    labels: dict[str, str]
    target: float


def analyze(out: str | os.PathLike[str], target: float, tolerance: float = 0.5) -> StudyReport:
    """Analyse the finished runs of the study in ``out`` and write its CSV and JSON files.

    Raises:
        ValueError: ``out`` holds no sweep, or no finished run with a learning-rate policy.
    """
    store = SweepStore.load(out)
    runs = [row for row in (run_metrics(rec, target) for rec in store.records()) if row is not None]
    runs = [row for row in runs if row["policy"]]
    if not runs:
        raise ValueError(f"{out} holds no finished run with a learning-rate policy")
    table = aggregate(runs)
    rank(table)
    labels = short_labels(list(dict.fromkeys(r["policy"] for r in runs)))
    agreements = agreement(table, "top1_accuracy") + agreement(table, "cost_steps")
    settings = list(dict.fromkeys(i["setting"] for i in table))
    recommendations = [recommend(table, s, tolerance) for s in settings]
    report = StudyReport(runs, table, agreements, recommendations, labels, target)
    path = Path(out)
    write_text(path / RUNS_CSV, rows_to_csv([_flat(r, labels) for r in runs]))
    write_text(path / TABLE_CSV, rows_to_csv([_flat(i, labels) for i in table]))
    summary = {"target": target, "tolerance": tolerance, "labels": labels,
               "table": [_flat(i, labels) for i in table], "agreement": agreements,
               "recommendations": [asdict(r) for r in recommendations]}
    write_text(path / REPORT_JSON, json.dumps(summary, indent=1))
    return report


def _flat(row: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A row without its curve, its policy's label first."""
    return {"policy_label": labels[row["policy"]], **{k: v for k, v in row.items() if k != "curve"}}


def format_report(report: StudyReport) -> str:
    """The study as text: per setting, the policies by top-1 with every metric; the rank
    agreement across settings; the recommendations."""
    lines = []
    header = (f"{'policy':28s} {'top-1 %':>13s} {'top-5 %':>7s} {'conf':>6s} {'conf sd':>7s} {'spread':>7s} "
              f"{'robust':>7s} {'fluct':>6s} {'steps to ' + format(report.target, 'g') + '%':>17s}")
    for setting in dict.fromkeys(i["setting"] for i in report.table):
        lines += ["", f"{setting}:", header]
        mine = sorted((i for i in report.table if i["setting"] == setting),
                      key=lambda i: i["rank_top1_accuracy"])
        for i in mine:
            cost = "not reached" if i["cost_steps"] is None else f"{i['cost_steps']:.0f}"
            lines.append(
                f"{report.labels[i['policy']]:28.28s} {i['top1_accuracy']:7.2f} ±{i['top1_seed_std']:4.2f} "
                f"{i['top5_accuracy']:7.2f} {_num(i['confidence_mean'])} {_num(i['confidence_std'], 7)} "
                f"{_num(i['class_confidence_spread'], 7)} {_num(i['robustness'], 7)} "
                f"{_num(i['fluctuation'], 6, 2)} "
                f"{cost + ' (' + str(i['reached']) + '/' + str(i['seeds']) + ')':>17s}")
    if report.agreement:
        lines += ["", "rank agreement with the first setting (Kendall's tau over policies):"]
        for a in report.agreement:
            tau = "n/a" if a["kendall_tau"] is None else f"{a['kendall_tau']:+.2f}"
            lines.append(f"  {a['metric']:14s} {a['reference']} vs {a['setting']}: {tau} "
                         f"({a['policies']} policies)")
    lines += ["", "recommended (LRBench's rule: within tolerance of the best top-1, fewest steps to target):"]
    lines += [f"  {r.describe()}" for r in report.recommendations]
    return "\n".join(lines)


def _num(value: float | None, width: int = 6, digits: int = 3) -> str:
    return f"{'-':>{width}s}" if value is None else f"{value:{width}.{digits}f}"


__all__ = ["METRICS", "StudyReport", "analyze", "format_report", "short_labels", "split_policies",
           "study_grid"]
