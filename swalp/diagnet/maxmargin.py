"""Max-margin predictors of separable data and the normalised margins of any predictor.

For signed inputs ``Z`` (rows ``y_i x_i``) the p-normalised margin of ``w`` is
``gamma_p(w) = min_i (Z w)_i / ||w||_p``, and the max-margin solutions are

* l1: ``gamma_1* = max_{||w||_1 <= 1} min_i (Z w)_i``, a linear program (``w = w+ - w-``,
  ``w+, w- >= 0``) solved by scipy's HiGHS;
* l2: ``gamma_2* = max_{||w||_2 <= 1} min_i (Z w)_i``, the hard-margin SVM without bias,
  i.e. the quadratic program ``min ||w||^2 s.t. Z w >= 1`` (then ``gamma_2* = 1 / ||w||``),
  solved exactly as a least-distance program through non-negative least squares
  (Lawson & Hanson, *Solving Least Squares Problems*, 1974, ch. 23; scipy's ``nnls``).

Margins are in the units of ``Z``; directions are returned with unit p-norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, nnls


@dataclass(frozen=True, eq=False)
class MaxMargin:
    """A max-margin direction ``w`` (unit ``p``-norm) and its margin ``min_i (Z w)_i``."""

    p: int
    w: np.ndarray
    margin: float


def _signed_inputs(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.size == 0:
        raise ValueError(f"Z must be a non-empty 2-D array (n samples x d features), got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"Z holds {int(np.sum(~np.isfinite(Z)))} non-finite value(s)")
    return Z


def _not_separable(p: int, margin: float) -> ValueError:
    return ValueError(f"the data are not linearly separable through the origin: the l{p} max margin is "
                      f"{margin:.3g} (it must be positive)")


def l1_max_margin(Z: np.ndarray) -> MaxMargin:
    """The l1 max-margin direction of signed inputs ``Z`` (n x d), by linear programming."""
    Z = _signed_inputs(Z)
    n, d = Z.shape
    # variables: w+ (d), w- (d), gamma; maximise gamma
    cost = np.zeros(2 * d + 1)
    cost[-1] = -1.0
    margins_at_least_gamma = np.hstack([-Z, Z, np.ones((n, 1))])
    unit_l1_ball = np.concatenate([np.ones(2 * d), [0.0]])[None, :]
    result = linprog(cost, A_ub=np.vstack([margins_at_least_gamma, unit_l1_ball]),
                     b_ub=np.concatenate([np.zeros(n), [1.0]]),
                     bounds=[(0, None)] * (2 * d) + [(None, None)], method="highs")
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on the l1 max-margin LP: {result.message}")
    gamma = -result.fun
    if gamma <= 1e-12 * np.abs(Z).max():
        raise _not_separable(1, gamma)
    w = result.x[:d] - result.x[d:2 * d]
    w /= np.abs(w).sum()
    return MaxMargin(1, w, float(np.min(Z @ w)))


def l2_max_margin(Z: np.ndarray) -> MaxMargin:
    """The l2 max-margin direction of signed inputs ``Z`` (n x d): ``min ||w||^2 s.t. Z w >= 1``
    as a least-distance program, solved by non-negative least squares."""
    Z = _signed_inputs(Z)
    n, d = Z.shape
    scale = np.abs(Z).max()
    # LDP min ||v|| s.t. G v >= h with G = Z/scale, h = 1: NNLS on E = [G^T; h^T], f = e_{d+1}
    E = np.vstack([(Z / scale).T, np.ones((1, n))])
    f = np.zeros(d + 1)
    f[-1] = 1.0
    u, _ = nnls(E, f, maxiter=50 * (n + d))
    residual = E @ u - f
    if abs(residual[-1]) < 1e-12 or np.linalg.norm(residual[:d]) == 0:
        raise _not_separable(2, 0.0)
    w = -residual[:d] / residual[-1]
    w /= np.linalg.norm(w)
    margin = float(np.min(Z @ w))
    if margin <= 1e-12 * scale:
        raise _not_separable(2, margin)
    return MaxMargin(2, w, margin)


def normalized_margin(w: np.ndarray, Z: np.ndarray, p: int) -> float:
    """``min_i (Z w)_i / ||w||_p`` (0 for ``w = 0``), in the units of ``Z``."""
    w = np.asarray(w, dtype=np.float64)
    norm = np.linalg.norm(w, ord=p)
    if norm == 0:
        return 0.0
    if not np.isfinite(norm):
        raise ValueError(f"w holds non-finite values (its l{p} norm is {norm})")
    return float(np.min(Z @ w) / norm)


@dataclass(frozen=True, eq=False)
class MaxMargins:
    """Both max-margin solutions of one data set, for margin ratios along a run."""

    l1: MaxMargin
    l2: MaxMargin

    @classmethod
    def of(cls, Z: np.ndarray) -> MaxMargins:
        """Solve the l1 LP and the l2 QP for signed inputs ``Z``."""
        return cls(l1_max_margin(Z), l2_max_margin(Z))

    def ratios(self, w: np.ndarray, Z: np.ndarray) -> tuple[float, float]:
        """``(gamma_1(w) / gamma_1*, gamma_2(w) / gamma_2*)``: 1 means ``w`` points along that
        max-margin solution (in margin), values below 1 how far short it falls."""
        return (normalized_margin(w, Z, 1) / self.l1.margin, normalized_margin(w, Z, 2) / self.l2.margin)
