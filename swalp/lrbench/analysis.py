"""LRBench's evaluation of learning-rate policies from a sweep's run records.

Per run (:func:`run_metrics`): the end-of-run metrics of :mod:`swalp.metrics` (top-1/top-5
accuracy, confidence mean/std over correct samples, per-class confidence spread,
robustness) and the cost, the optimizer steps until the delivered model first reached the
target accuracy (evaluated after every epoch; the average's accuracy once a run averages).
Per policy and setting (a method at a format), over seeds (:func:`aggregate`): means,
standard deviations, the spread of top-1 across seeds (LRBench's variance across seeds),
and how many seeds reached the target. Then ranks per metric (:func:`rank`), the agreement of
the rankings across settings (Kendall's tau, :func:`agreement`) and a recommendation
(:func:`recommend`): LRBench picks a high-accuracy policy at low cost and reports the
parameter ranges that do well.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swalp.metrics import steps_to_target
from swalp.schedules import parse_policy
from swalp.schedules.compose import PerEpoch, Piecewise
from swalp.schedules.policy import Policy, format_value

#: Metrics compared across policies and which way is better (+1: higher, -1: lower).
METRICS: dict[str, int] = {
    "top1_accuracy": +1, "top5_accuracy": +1, "confidence_mean": +1, "confidence_std": -1,
    "class_confidence_spread": -1, "robustness": -1, "cost_steps": -1, "top1_seed_std": -1,
}
#: End-of-run metrics a run record holds in ``final`` (:mod:`swalp.metrics`).
FINAL_METRICS = ("top1_accuracy", "top5_accuracy", "confidence_mean", "confidence_std",
                 "class_confidence_spread", "robustness", "test_loss")
#: Metrics that are averaged over seeds (the others are computed across seeds).
PER_RUN = (*FINAL_METRICS, "fluctuation")


def setting_of(method: str, label: str) -> str:
    """Name of a (method, format) setting: ``sgd-fp``, ``swalp bfp(8)``."""
    return method if label in ("", "fp32") else f"{method} {label}"


def accuracy_curve(result: Mapping[str, Any]) -> list[tuple[int, float]]:
    """``(optimizer steps, accuracy %)`` of the delivered model after every epoch: the
    average's once it exists, else the iterate's."""
    steps = result["steps_per_epoch"]
    curve = []
    for row in result["epochs"]:
        error = row["swa_test_error"] if row["swa_test_error"] is not None else row["test_error"]
        curve.append((row["epoch"] * steps, 100.0 - error))
    return curve


def fluctuation(curve: Sequence[tuple[int, float]]) -> float | None:
    """Mean absolute change of accuracy (points) between consecutive evaluations over the second
    half of ``curve``: how much a policy still shakes the model late in training (None for
    fewer than 3 evaluations). Not one of LRBench's metrics; it measures its TRIEXP remark."""
    late = [accuracy for _, accuracy in curve[len(curve) // 2:]]
    if len(late) < 2 or len(curve) < 3:
        return None
    return statistics.fmean(abs(b - a) for a, b in itertools.pairwise(late))


def run_metrics(record: Mapping[str, Any], target: float) -> dict[str, Any] | None:
    """One finished sweep record as a row of LRBench metrics (None for failed points)."""
    if record.get("status") != "ok":
        return None
    config, result = record["config"], record["result"]
    final = result["final"]
    curve = accuracy_curve(result)
    row = {"policy": config.get("lr_policy") or "", "method": config["method"], "label": record["label"],
           "setting": setting_of(config["method"], record["label"]), "seed": config["seed"],
           "steps_per_epoch": result["steps_per_epoch"],
           "cost_steps": steps_to_target(curve, target), "fluctuation": fluctuation(curve), "curve": curve}
    row.update({name: final.get(name) for name in FINAL_METRICS})
    return row


def _mean(values: Iterable[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _std(values: Iterable[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)


def aggregate(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped by (setting, policy) over seeds, in first-seen order: ``<metric>`` means and
    ``<metric>_std`` standard deviations of :data:`PER_RUN`; ``top1_seed_std`` and
    ``top1_seed_var`` (spread of top-1 across seeds); ``cost_steps`` (mean over the seeds that
    reached the target), ``reached`` and ``seeds``; ``curve`` (mean accuracy per evaluation)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["setting"], row["policy"]), []).append(row)
    out = []
    for (setting, policy), group in groups.items():
        item: dict[str, Any] = {"setting": setting, "policy": policy, "method": group[0]["method"],
                                "label": group[0]["label"], "seeds": len(group)}
        for name in PER_RUN:
            item[name] = _mean(r[name] for r in group)
            item[f"{name}_std"] = _std(r[name] for r in group)
        top1 = _std(r["top1_accuracy"] for r in group)
        item["top1_seed_std"] = top1
        item["top1_seed_var"] = None if top1 is None else top1**2
        reached = [r["cost_steps"] for r in group if r["cost_steps"] is not None]
        item["reached"] = len(reached)
        item["cost_steps"] = _mean(reached)
        length = min(len(r["curve"]) for r in group)
        item["curve"] = [(group[0]["curve"][i][0], statistics.fmean(r["curve"][i][1] for r in group))
                         for i in range(length)]
        out.append(item)
    return out


def _sort_key(item: Mapping[str, Any], metric: str) -> tuple:
    """Smaller is better. Cost ranks by the share of seeds that missed the target first."""
    value = item[metric]
    if metric == "cost_steps":
        return (item["seeds"] - item["reached"], math.inf if value is None else value)
    return (math.inf,) if value is None else (-METRICS[metric] * value,)


def rank(items: Sequence[dict[str, Any]]) -> None:
    """Add ``rank_<metric>`` (1 = best; ties share the smaller rank) within each setting."""
    for setting in dict.fromkeys(i["setting"] for i in items):
        mine = [i for i in items if i["setting"] == setting]
        for metric in METRICS:
            keys = [_sort_key(i, metric) for i in mine]
            for item, key in zip(mine, keys, strict=True):
                item[f"rank_{metric}"] = 1 + sum(1 for other in keys if other < key)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's tau-b between two rankings of the same items (None for fewer than 2 items or a
    constant ranking)."""
    if len(a) < 2:
        return None
    from scipy.stats import kendalltau

    tau = kendalltau(a, b).statistic
    return None if math.isnan(tau) else float(tau)


def agreement(items: Sequence[Mapping[str, Any]], metric: str = "top1_accuracy") -> list[dict[str, Any]]:
    """Kendall's tau between the first setting's ranking of the policies by ``metric`` and each
    other setting's (over the policies both have)."""
    settings = list(dict.fromkeys(i["setting"] for i in items))
    ranks = {s: {i["policy"]: i[f"rank_{metric}"] for i in items if i["setting"] == s} for s in settings}
    reference = settings[0]
    out = []
    for setting in settings[1:]:
        common = [p for p in ranks[reference] if p in ranks[setting]]
        tau = kendall_tau([ranks[reference][p] for p in common], [ranks[setting][p] for p in common])
        out.append({"reference": reference, "setting": setting, "metric": metric, "policies": len(common),
                    "kendall_tau": tau})
    return out


@dataclass(frozen=True)
class Recommendation:
    """The policy LRBench's rule picks in one setting.

    Attributes:
        setting: the (method, format) setting.
        policy: spec of the recommended policy; ``function``: its function's name.
        top1_accuracy, cost_steps: its mean top-1 (%) and mean steps to the target.
        good: specs of every policy within ``tolerance`` of the best top-1.
        ranges: for the recommended function, each parameter's ``(min, max)`` over the good
            policies of that function.
        tolerance: accuracy points below the best that still count as good.
    """

    setting: str
    policy: str
    function: str
    top1_accuracy: float
    cost_steps: float | None
    good: tuple[str, ...]
    ranges: dict[str, tuple[Any, Any]]
    tolerance: float

    def describe(self) -> str:
        ranges = ", ".join(f"{k} {_span(lo, hi)}" for k, (lo, hi) in self.ranges.items()) or "-"
        cost = "target not reached" if self.cost_steps is None else f"{self.cost_steps:.0f} steps to target"
        return (f"{self.setting}: {self.policy} (top-1 {self.top1_accuracy:.2f}%, {cost}); {self.function} "
                f"parameters that do well (within {self.tolerance:.2f} points of the best top-1): {ranges}")


def _span(lo: Any, hi: Any) -> str:
    return format_value(lo) if lo == hi else f"{format_value(lo)}..{format_value(hi)}"


def main_function(policy: Policy) -> Policy:
    """The policy that carries the schedule: the unit wrapper removed, and of several pieces the
    longest-running middle one (the piece after a warm-up, before a constant tail)."""
    if isinstance(policy, PerEpoch):
        policy = policy.policy
    if isinstance(policy, Piecewise):
        core = [p for p in policy.policies if p.NAME not in ("WARMUP", "FIX")]
        return core[0] if core else policy.policies[0]
    return policy


def recommend(items: Sequence[Mapping[str, Any]], setting: str, tolerance: float = 0.5) -> Recommendation:
    """LRBench's pick in ``setting``: of the policies whose mean top-1 is within ``tolerance``
    points (or one seed standard deviation, when larger) of the best, the cheapest (fewest
    steps to the target; most seeds reaching it first); ties go to the higher top-1.

    Raises:
        ValueError: ``setting`` has no evaluated policy.
    """
    mine = [i for i in items if i["setting"] == setting and i["top1_accuracy"] is not None]
    if not mine:
        raise ValueError(f"no finished run in setting {setting!r}")
    best = max(mine, key=lambda i: i["top1_accuracy"])
    slack = max(tolerance, best["top1_seed_std"] or 0.0)
    good = [i for i in mine if i["top1_accuracy"] >= best["top1_accuracy"] - slack]
    pick = min(good, key=lambda i: (*_sort_key(i, "cost_steps"), -i["top1_accuracy"]))
    function = main_function(parse_policy(pick["policy"])) if pick["policy"] else None
    name = function.NAME if function is not None else "task default"
    ranges: dict[str, tuple[Any, Any]] = {}
    if function is not None:
        same = [main_function(parse_policy(i["policy"])) for i in good if i["policy"]]
        same = [p for p in same if name == p.NAME]
        for key in function.parameters():
            values = [p.parameters()[key] for p in same if key in p.parameters()]
            ranges[key] = (min(values), max(values))
    return Recommendation(setting, pick["policy"], name, pick["top1_accuracy"], pick["cost_steps"],
                          tuple(i["policy"] for i in good), ranges, slack)


__all__ = ["METRICS", "PER_RUN", "Recommendation", "accuracy_curve", "aggregate", "agreement", "fluctuation",
           "kendall_tau", "rank", "recommend", "run_metrics", "setting_of"]
