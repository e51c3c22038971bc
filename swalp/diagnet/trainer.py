"""Gradient descent on the diagonal network with loss-normalised steps, in float64 or with
every tensor held in an :mod:`lpformats` format.

**The float64 reference** approximates gradient flow on the exponential loss ``L``. The step
follows ``-grad log L = -grad L / L`` (a *loss-normalised* step: the same path as gradient flow
on ``L``, traversed at a speed that does not vanish as ``L -> 0``), and ``log L`` is computed
as a log-sum-exp of the margins, so training continues to ``L = 1e-300`` and far below (the
per-sample weights ``exp(-m_i) / L`` are a softmax and never underflow together). Each step
size ``eta`` is the largest that keeps both

* the predicted decrease of ``log L``, ``eta * ||grad log L||^2``, at most ``loss_step``, and
* every parameter's relative change ``eta * |g_j| / |u_j|`` at most ``max_relative_change``,

so the path stays close to the gradient-flow path (halving both changes the margins along the
run by less than 1e-3: tested).

**Low-precision runs** hold the parameters ``u_plus, u_minus``, their powers ``u**D``, the
weights ``w``, the per-sample
losses ``l_i = exp(-m_i)`` and their sum ``L``, the gradients and the updates in one format,
each rounded with :func:`lpformats.quantize` as it is produced (margins ``Z @ w`` are summed
exactly from the rounded ``w``). With ``loss_in="format"`` (default) the step is the rounded
gradient of ``L`` divided by the rounded ``L``, what a low-precision trainer would compute;
with ``loss_in="log"`` the loss is kept in log space in float64 and only the softmax weights,
gradients, updates and parameters are rounded, which isolates what the format does to the
parameters. A run stops at the first of

``target``
    ``log(1/L)`` reached ``target_log_inv_eps`` (``L`` of the rounded weights, in float64);
``loss underflow``
    every per-sample loss, and so ``L``, rounded to zero: no training signal is left;
``gradient underflow``
    every entry of the parameter gradient rounded to zero;
``swamped``
    no parameter changed in a step (deterministic rounding: the next step would be identical)
    or in ``patience`` steps in a row (stochastic rounding): every update was swamped;
``overflow``
    a parameter or weight left the format's finite range;
``step budget``
    ``max_steps`` steps.

Statistics along the run (per record): ``loss_underflow`` and ``grad_underflow``, the fractions
of nonzero per-sample losses and parameter-gradient entries that the format flushes to zero
(:func:`lpformats.analyze`'s ``frac_flushed``), and ``swamped``, the fraction of nonzero updates
since the previous record that left their parameter unchanged (``u + du`` rounded back to ``u``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from swalp.diagnet.data import Dataset
from swalp.diagnet.maxmargin import MaxMargins, normalized_margin
from swalp.diagnet.model import DiagonalNetwork
from swalp.diagnet.numerics import Numerics

LOSS_IN = ("format", "log")


@dataclass(frozen=True)
class TrainConfig:
    """One run: initialisation ``alpha``, ``depth`` D, where to stop, step rule and numerics.

    ``target_log_inv_eps`` is ``log(1/L)`` (natural log, ``L`` the summed exponential loss) at
    which the run ends; records are taken at ``records`` points geometrically spaced in
    ``log(1/L)`` from 1 to the target. ``fmt`` None means float64.
    """

    alpha: float
    depth: int = 2
    target_log_inv_eps: float = 2000.0
    loss_step: float = 0.1
    max_relative_change: float = 0.02
    max_steps: int = 1_000_000
    records: int = 120
    fmt: str | None = None
    rounding: str = "nearest"
    loss_in: str = "format"
    seed: int = 0
    patience: int = 1000

    def __post_init__(self) -> None:
        DiagonalNetwork.initial(1, self.alpha, self.depth)  # validates alpha and depth
        positive = {"target_log_inv_eps": self.target_log_inv_eps, "loss_step": self.loss_step}
        for name, value in positive.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if not (isinstance(self.max_relative_change, (int, float)) and 0 < self.max_relative_change < 1):
            raise ValueError(f"max_relative_change must be in (0, 1), got {self.max_relative_change!r}")
        for name in ("max_steps", "records", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.loss_in not in LOSS_IN:
            raise ValueError(f"loss_in must be one of {', '.join(LOSS_IN)}, got {self.loss_in!r}")
        num = Numerics(self.fmt, self.rounding, self.seed)  # validates the format and the rounding
        if not np.isfinite(num.round(num.round(np.full((2, 1), float(self.alpha))) ** self.depth)).all():
            raise ValueError(f"alpha**depth = {self.alpha ** self.depth:g} overflows {num.name}: "
                             "choose a smaller alpha")

    def numerics(self) -> Numerics:
        """A fresh :class:`Numerics` (call counter at 0) for this run."""
        return Numerics(self.fmt, self.rounding, self.seed)


@dataclass
class Run:
    """A finished run: its config, the records along it, why and where it stopped."""

    config: TrainConfig
    records: list[dict[str, float]] = field(default_factory=list)
    stop: str = ""
    steps: int = 0
    swamped_total: float = 0.0

    @property
    def final(self) -> dict[str, float]:
        """The last record (the state the run left the model in)."""
        return self.records[-1]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {"config": asdict(self.config), "stop": self.stop, "steps": self.steps,
                "swamped_total": self.swamped_total, "records": self.records}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        """Inverse of :meth:`to_dict`."""
        return cls(TrainConfig(**data["config"]), list(data["records"]), data["stop"], data["steps"],
                   data["swamped_total"])


def log_loss(margins: np.ndarray) -> float:
    """``log sum_i exp(-margins_i)`` without overflow or underflow."""
    low = float(np.min(margins))
    return -low + math.log(float(np.sum(np.exp(low - margins))))


class _Counter:
    """Nonzero updates and swamped updates since the last record and over the run."""

    def __init__(self) -> None:
        self.updates = self.swamped = self.run_updates = self.run_swamped = 0

    def add(self, update: np.ndarray, before: np.ndarray, after: np.ndarray) -> None:
        nonzero = update != 0
        updates, swamped = int(np.count_nonzero(nonzero)), int(np.count_nonzero(nonzero & (after == before)))
        self.updates += updates
        self.swamped += swamped
        self.run_updates += updates
        self.run_swamped += swamped

    def take(self) -> float:
        fraction = self.swamped / self.updates if self.updates else 0.0
        self.updates = self.swamped = 0
        return fraction

    def run_fraction(self) -> float:
        return self.run_swamped / self.run_updates if self.run_updates else 0.0


def train(data: Dataset, config: TrainConfig, margins: MaxMargins | None = None) -> Run:
    """Train a diagonal network on ``data`` under ``config`` (see the module docstring).

    ``margins`` (the data's max-margin solutions, solved once per data set) gives the margin
    ratios ``r1``, ``r2`` of each record; computed here when None.
    """
    margins = margins or MaxMargins.of(data.Z)
    num = config.numerics()
    Z = data.Z
    depth = config.depth
    u = num.round(DiagonalNetwork.initial(data.d, config.alpha, depth).u)
    grid = np.geomspace(1.0, config.target_log_inv_eps, config.records)
    next_record = 0
    run = Run(config)
    counter = _Counter()
    unchanged = 0

    def record(step: int, w: np.ndarray, log_inv_eps: float, **stats: float) -> None:
        r1, r2 = margins.ratios(w, Z)
        run.records.append({
            "step": step, "log_inv_eps": log_inv_eps,
            "gamma1": normalized_margin(w, Z, 1), "gamma2": normalized_margin(w, Z, 2), "r1": r1, "r2": r2,
            "loss_underflow": stats.get("loss_underflow", 0.0),
            "grad_underflow": stats.get("grad_underflow", 0.0), "swamped": counter.take()})

    step, stop, last_u = 0, "", u
    while True:
        net = DiagonalNetwork(u, depth)
        powered = num.round(net.powers())
        w = num.round(powered[0] - powered[1])
        if not (np.isfinite(u).all() and np.isfinite(w).all()):
            u, stop = last_u, "overflow"  # the last finite parameters are recorded on the next pass
            continue
        m = Z @ w
        log_inv_eps = -log_loss(m)
        if num.exact or config.loss_in == "log":
            loss_exact = np.exp(-m + log_inv_eps)  # softmax weights: the gradient of log L
            losses, scale = num.round(loss_exact), 1.0
        else:
            loss_exact = np.exp(-m)
            losses = num.round(loss_exact)
            total = num.round(np.array([losses.sum()]))[0]
            scale = 1.0 / total if total > 0 else 0.0
        g_exact = net.gradient(num.round(Z.T @ losses))
        g = num.round(g_exact) * scale
        squared = float(np.vdot(g, g))
        if not stop:
            stop = ("target" if log_inv_eps >= config.target_log_inv_eps else
                    "step budget" if step >= config.max_steps else
                    "loss underflow" if scale == 0.0 else
                    "gradient underflow" if squared == 0.0 else "")
        if stop or (next_record < len(grid) and log_inv_eps >= grid[next_record]):
            record(step, w, log_inv_eps, loss_underflow=num.flushed_fraction(loss_exact),
                   grad_underflow=num.flushed_fraction(g_exact))
            next_record = int(np.searchsorted(grid, log_inv_eps, side="right"))
        if stop:
            break
        nonzero = u != 0
        relative = float(np.max(np.abs(g[nonzero]) / u[nonzero])) if nonzero.any() else 0.0
        eta = min(config.loss_step / squared,
                  config.max_relative_change / relative if relative > 0 else math.inf)
        du = num.round(-eta * g)
        new_u = num.round(u + du)
        counter.add(du, u, new_u)
        step += 1
        unchanged = 0 if (new_u != u).any() else unchanged + 1
        last_u, u = u, new_u
        if unchanged and (num.deterministic or unchanged >= config.patience):
            stop = "swamped"
    run.stop, run.steps = stop, step
    run.swamped_total = counter.run_fraction()
    return run
