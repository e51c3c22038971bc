"""Linearly separable data for the diagonal-network study: a k-sparse linear teacher labels
Gaussian inputs (the setting of Moroshko et al., NeurIPS 2020, and of Woodworth et al., 2020).

A :class:`Dataset` holds inputs ``X`` (n x d, float64), labels ``y`` (+1/-1) and, when it was
generated, the ``teacher``. Training and the margins only need the signed inputs
``Z = y[:, None] * X``: a predictor ``w`` separates the data when every ``Z @ w`` is positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs ``X`` (n x d), labels ``y`` in {-1, +1} and the generating ``teacher`` (or None)."""

    X: np.ndarray
    y: np.ndarray
    teacher: np.ndarray | None = None

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        y = np.asarray(self.y)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must be a non-empty 2-D array (n samples x d features), got shape {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must hold one label per row of X: shape ({X.shape[0]},), got {y.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"X holds {int(np.sum(~np.isfinite(X)))} non-finite value(s)")
        if not np.all(np.isin(y, (-1, 1))):
            bad = y[~np.isin(y, (-1, 1))]
            raise ValueError(f"labels y must be -1 or +1, got {bad[0].item()!r} ({bad.size} such label(s))")
        object.__setattr__(self, "X", X.astype(np.float64))
        object.__setattr__(self, "y", y.astype(np.float64))

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def d(self) -> int:
        """Number of features (the width of the diagonal network)."""
        return self.X.shape[1]

    @property
    def Z(self) -> np.ndarray:  # noqa: N802 (the paper's matrix name)
        """Signed inputs ``y_i * x_i`` (n x d): the margins of ``w`` are ``Z @ w``."""
        return self.y[:, None] * self.X


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def make_separable(n: int = 30, d: int = 100, k: int = 3, seed: int = 0) -> Dataset:
    """``n`` inputs with i.i.d. standard normal entries in ``d`` dimensions, labelled by the sign
    of a teacher with ``k`` nonzero entries (each +1 or -1, at random coordinates).

    The teacher separates the data by construction; the draw is a function of ``seed`` alone.
    """
    n = _positive_int(n, "n")
    d = _positive_int(d, "d")
    k = _positive_int(k, "k")
    if n < 2:
        raise ValueError(f"n must be at least 2 samples, got {n}")
    if k > d:
        raise ValueError(f"k (teacher nonzeros) must be at most d = {d}, got {k}")
    rng = np.random.default_rng(seed)
    teacher = np.zeros(d)
    support = rng.choice(d, size=k, replace=False)
    teacher[support] = rng.choice((-1.0, 1.0), size=k)
    X = rng.standard_normal((n, d))
    scores = X @ teacher
    if np.any(scores == 0):
        raise ValueError(f"seed {seed} drew an input on the teacher's decision boundary; use another seed")
    return Dataset(X, np.sign(scores), teacher)
