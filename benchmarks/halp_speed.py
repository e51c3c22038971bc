"""HALP's speed claim ("up to 4x faster than fp32 SVRG on CPU", from native 8-bit SIMD kernels),
measured on our integer arithmetic: wall time to a fixed tolerance of HALP's inner loop on
``lpformats.int_matmul`` (int8/int16 codes, exact int64 sums) against fp32 SVRG (numpy float32,
BLAS) in the same process, for linear and logistic regression.

Both solve the same problem (the data are 8-bit codes times a scale; the float32 method uses
their values) with the same outer loop (every T steps the full gradient at the anchor in float32
and, for logistic regression, the anchor's logits ``X w~`` kept for the inner loop) and the same
algebra in the inner loop (De Sa et al.'s bit centering): the difference of minibatch
gradients ``grad_i(w~ + z) - grad_i(w~)`` needs only ``X_b z`` and ``X_b^T r``:

* fp32 SVRG: ``w = w~ + z`` in float32; ``X_b z`` and ``X_b^T r`` as float32 BLAS calls;
* HALP: ``z`` as int8 codes of step ``s = ||g~|| / (mu (2^7 - 1))`` (rescaled every outer loop);
  ``X_b z`` = ``int_matmul(int8 X codes, int8 z codes)``; the residual difference ``r``
  rounded to int16 codes (per-batch scale) and ``X_b^T r`` = ``int_matmul`` of int16 codes;
  ``z`` updated and rounded stochastically to its 8-bit grid by ``lpformats.quantize``
  (counter-based seed), clamped to [-128, 127].

The tolerance is on the full gradient's norm at the anchor (checked every outer loop), so
neither needs the optimum. Each method is warmed up (Numba compilation) before the timed runs;
the best of ``--repeat`` runs is kept and the load is printed next to the figures. Numba runs
one thread (as swalp's training does). On a shared
machine run it under the timing lock:

    flock /tmp/timing.lock python benchmarks/halp_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import code_version, load_line, machine_line

BITS = 8


class Problem:
    """Data as 8-bit codes ``X = sx * Xq`` and the objective's full gradient."""

    def __init__(self, kind: str, n: int, d: int, classes: int, weight_decay: float, seed: int) -> None:
        import lpformats

        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, d)).astype(np.float32)
        self.sx = np.float32(np.abs(x).max() / 127)
        self.xq = lpformats.quantize(x / self.sx, lpformats.FixedPoint(8, 0)).astype(np.int8)
        self.xq_t16 = np.ascontiguousarray(self.xq.T.astype(np.int16))
        self.x = self.xq.astype(np.float32) * self.sx
        self.kind, self.n, self.wd = kind, n, np.float32(weight_decay)
        truth = rng.standard_normal((d, classes)).astype(np.float32) / np.sqrt(d)
        if kind == "linreg":
            self.y = (self.x @ truth + 0.1 * rng.standard_normal((n, classes))).astype(np.float32)
        else:
            labels = (self.x @ truth + rng.gumbel(size=(n, classes))).argmax(1)
            self.y = np.eye(classes, dtype=np.float32)[labels]

    def residual(self, logits: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        """d loss / d logits of the examples ``rows`` (mean loss: divided by the batch later)."""
        if self.kind == "linreg":
            return logits - self.y[rows]
        return softmax(logits) - self.y[rows]

    def full_gradient(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gradient of the mean loss + wd/2 |w|^2 at ``w``, the logits ``X w``), float32."""
        logits = self.x @ w
        return self.x.T @ self.residual(logits, slice(None)) / np.float32(self.n) + self.wd * w, logits


def softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


class FP32SVRG:
    """fp32 SVRG in the bit-centred algebra: the offset ``z = w - w~`` in float32."""

    name = "fp32 SVRG (numpy float32)"

    def __init__(self, problem: Problem) -> None:
        self.problem = problem

    def start_outer(self, state: dict, norm: float) -> None:
        state["z"] = np.zeros_like(state["anchor"])

    def offset(self, state: dict) -> np.ndarray:
        return state["z"]

    def inner(self, state: dict, rows: np.ndarray, lr: float) -> None:
        p, z = self.problem, state["z"]
        xb, anchor_logits = p.x[rows], state["logits"][rows]
        diff = p.residual(anchor_logits + xb @ z, rows) - p.residual(anchor_logits, rows)
        u = xb.T @ diff / np.float32(len(rows)) + p.wd * z + state["full"]
        z -= np.float32(lr) * u


class IntHALP:
    """HALP on integer codes (see the module docstring)."""

    name = "HALP, int8 z, lpformats.int_matmul"

    def __init__(self, problem: Problem, mu: float) -> None:
        import lpformats

        self.problem, self.mu, self.lp = problem, mu, lpformats
        self.int8, self.int16 = lpformats.FixedPoint(8, 0), lpformats.FixedPoint(16, 0)

    def start_outer(self, state: dict, norm: float) -> None:
        state["s"] = np.float32(norm / (self.mu * (2 ** (BITS - 1) - 1)))
        state["z"] = np.zeros(state["anchor"].shape, np.int8)

    def offset(self, state: dict) -> np.ndarray:
        return state["z"].astype(np.float32) * state["s"]

    def inner(self, state: dict, rows: np.ndarray, lr: float) -> None:
        p, lp, s, zq = self.problem, self.lp, state["s"], state["z"]
        if s == 0:
            return
        anchor_logits = state["logits"][rows]
        zx = lp.int_matmul(p.xq[rows], zq).astype(np.float32) * (p.sx * s)
        diff = p.residual(anchor_logits + zx, rows) - p.residual(anchor_logits, rows)
        sr = np.float32(max(float(np.abs(diff).max()), 1e-30) / 32767)
        rq = lp.quantize(diff / sr, self.int16).astype(np.int16)
        grad = lp.int_matmul(p.xq_t16[:, rows], rq).astype(np.float32) * (p.sx * sr / np.float32(len(rows)))
        u = grad + p.wd * (zq.astype(np.float32) * s) + state["full"]
        state["calls"] += 1
        moved = zq.astype(np.float32) - np.float32(lr) * u / s
        state["z"] = lp.quantize(moved, self.int8, "stochastic", seed=state["calls"]).astype(np.int8)


def solve(problem: Problem, method: FP32SVRG | IntHALP, lr: float, batch: int, period: int,
          tolerance: float, max_epochs: int, seed: int = 0) -> tuple[float, int, float]:
    """SVRG's outer loop around ``method``'s inner steps; returns (wall seconds, inner steps,
    last full-gradient norm). Stops when the full gradient at the anchor is below ``tolerance``
    (or after ``max_epochs``)."""
    d, c = problem.x.shape[1], problem.y.shape[1]
    state: dict = {"anchor": np.zeros((d, c), np.float32), "z": None, "calls": 0}
    order_rng = np.random.default_rng(seed)
    steps, norm = 0, float("inf")
    start = time.perf_counter()
    for _ in range(max_epochs):
        order = order_rng.permutation(problem.n)
        for first in range(0, problem.n - batch + 1, batch):
            if steps % period == 0:
                if state["z"] is not None:
                    state["anchor"] = state["anchor"] + method.offset(state)
                state["full"], state["logits"] = problem.full_gradient(state["anchor"])
                norm = float(np.linalg.norm(state["full"]))
                if norm < tolerance:
                    return time.perf_counter() - start, steps, norm
                method.start_outer(state, norm)
            method.inner(state, np.sort(order[first:first + batch]), lr)
            steps += 1
    return time.perf_counter() - start, steps, norm


#: kind -> (problem options, solve options, HALP's mu)
SETUPS = {
    "linreg": (dict(n=8192, d=256, classes=1, weight_decay=1e-3),
               dict(lr=2e-3, batch=32, period=256, tolerance=1e-3, max_epochs=30), 1.0),
    "logreg": (dict(n=8192, d=256, classes=10, weight_decay=1e-3),
               dict(lr=2e-2, batch=32, period=256, tolerance=1e-3, max_epochs=30), 0.1),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (best kept; default 3)")
    parser.add_argument("--kinds", default="linreg,logreg", help="linreg and/or logreg")
    args = parser.parse_args(argv)
    import numba

    numba.set_num_threads(1)  # one thread for both, as swalp's runs (BLAS: see the machine line)
    print(f"code {code_version()}")
    print(machine_line())
    print("| problem | method | inner steps | wall s to tolerance (best of "
          f"{args.repeat}) | us / inner step | final ||g~|| | load |")
    print("|---|---|---|---|---|---|---|")
    for kind in args.kinds.split(","):
        problem_options, solve_options, mu = SETUPS[kind]
        problem = Problem(kind, seed=0, **problem_options)
        methods = (FP32SVRG(problem), IntHALP(problem, mu))
        for method in methods:  # warm-up (Numba compilation, caches), untimed
            solve(problem, method, **{**solve_options, "max_epochs": 1})
        results = {m.name: [solve(problem, m, **solve_options) for _ in range(args.repeat)] for m in methods}
        load = load_line()
        best = {}
        for method in methods:
            wall, steps, norm = min(results[method.name])
            best[method.name] = wall
            size = f"n={problem.n} d={problem.x.shape[1]} C={problem.y.shape[1]}"
            per_step = wall / max(steps, 1) * 1e6
            print(f"| {kind} {size} | {method.name} | {steps} | {wall:.3f} | {per_step:.1f} | {norm:.2e} "
                  f"| {load} |")
        fp32, halp = (best[m.name] for m in methods)
        print(f"| {kind} | HALP / fp32 SVRG wall time | | {halp / fp32:.2f}x | | | |")
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
