"""The float64 study: margin ratios along gradient flow for a range of initialisation scales.

For every ``alpha`` a diagonal network is trained in float64 (loss in log space) down to
``L = exp(-target_log_inv_eps)``; each record holds ``r1 = gamma_1(w) / gamma_1*`` and
``r2 = gamma_2(w) / gamma_2*``, the l1- and l2-normalised margins against the max-margin
solutions. Small ``alpha`` moves towards the l1 (rich) solution as ``L`` falls; large
``alpha`` stays at the l2 (kernel) solution until ``L`` is astronomically small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from swalp.diagnet.data import Dataset, make_separable
from swalp.diagnet.maxmargin import MaxMargins
from swalp.diagnet.records import cached_run
from swalp.diagnet.trainer import Run, TrainConfig, train

#: One curve per alpha, 1e-3 to 10 (the range of the issue and of the paper's figures).
DEFAULT_ALPHAS = (1e-3, 1e-2, 1e-1, 0.3, 1.0, 3.0, 10.0)
#: Where tables read the trajectories: log(1/eps) for eps = 1e-5, 1e-30, 1e-100, 1e-300 and e^-2000.
TABLE_POINTS = (5 * math.log(10), 30 * math.log(10), 100 * math.log(10), 300 * math.log(10), 2000.0)


@dataclass(frozen=True)
class DataConfig:
    """The separable data set: ``n`` samples, ``d`` features, ``k``-sparse teacher, ``seed``."""

    n: int = 30
    d: int = 100
    k: int = 3
    seed: int = 0

    def dataset(self) -> Dataset:
        """The data set (validates the sizes)."""
        return make_separable(self.n, self.d, self.k, self.seed)


def train_config_fields() -> list[str]:
    """The :class:`TrainConfig` fields a study passes through (all but ``alpha``)."""
    return [f.name for f in fields(TrainConfig) if f.name != "alpha"]


def run_alphas(data: DataConfig, alphas: Sequence[float], out: Path | None = None, force: bool = False,
               prefix: str = "float64", **train_options: object) -> list[Run]:
    """Train one run per ``alpha`` with ``train_options`` (:class:`TrainConfig` fields), reusing
    the records under ``out`` (see :func:`swalp.diagnet.records.cached_run`)."""
    if not alphas:
        raise ValueError("alphas must name at least one initialisation scale")
    configs = [TrainConfig(alpha=alpha, **train_options) for alpha in alphas]  # refuse bad input first
    dataset = data.dataset()
    margins = MaxMargins.of(dataset.Z)
    runs = []
    for alpha, config in zip(alphas, configs, strict=True):
        identity = {"data": asdict(data), "train": asdict(config)}
        run, _ = cached_run(out, f"{prefix}-alpha{alpha:g}", identity,
                            lambda config=config: train(dataset, config, margins), force)
        runs.append(run)
    return runs


def value_at(run: Run, log_inv_eps: float, key: str) -> float:
    """``key`` of ``run``'s records interpolated at ``log_inv_eps`` (linear in log(1/eps));
    NaN outside the recorded range."""
    xs = np.array([r["log_inv_eps"] for r in run.records])
    if not len(xs) or log_inv_eps < xs[0] or log_inv_eps > xs[-1]:
        return math.nan
    return float(np.interp(log_inv_eps, xs, [r[key] for r in run.records]))


def ratio_table(runs: Sequence[Run], points: Sequence[float] = TABLE_POINTS) -> str:
    """A text table: one row per run (alpha), ``r1 / r2`` at each ``log(1/eps)`` of ``points``
    that some run reached."""
    reached = max(run.final["log_inv_eps"] for run in runs)
    points = [p for p in points if p <= reached]
    header = ["alpha"] + [f"eps={_eps_text(p)}" for p in points] + ["stop", "steps"]
    rows = [header]
    for run in runs:
        cells = []
        for p in points:
            r1, r2 = value_at(run, p, "r1"), value_at(run, p, "r2")
            cells.append("-" if math.isnan(r1) else f"{r1:.3f} / {r2:.3f}")
        rows.append([f"{run.config.alpha:g}", *cells, run.stop, str(run.steps)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _eps_text(log_inv_eps: float) -> str:
    """``eps = exp(-log_inv_eps)`` as ``1e-100`` (or ``e^-2000`` when not a power of ten)."""
    decades = log_inv_eps / math.log(10)
    return f"1e-{round(decades)}" if abs(decades - round(decades)) < 1e-9 else f"e^-{log_inv_eps:g}"
