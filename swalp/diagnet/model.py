"""The diagonal linear network of depth D: ``w = u_plus**D - u_minus**D`` (element-wise), a
linear predictor ``<w, x>`` parametrised by two positive vectors of the input's width, both
initialised at the scale ``alpha`` (so ``w = 0`` at the start), as in Moroshko et al. (2020).

The parameters are stored stacked, ``u = [u_plus, u_minus]`` (shape 2 x d). The training
signal is the exponential loss ``L(w) = sum_i exp(-(Z w)_i)`` over the signed inputs ``Z``;
with the per-sample weights ``l_i = exp(-(Z w)_i)`` and ``s = Z^T l`` (``= -dL/dw``)::

    dL/du_plus  = -D * u_plus**(D-1)  * s
    dL/du_minus = +D * u_minus**(D-1) * s

The gradient of ``log L`` has the same form with the softmax weights ``l / L``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: d w / d(u_plus**D, u_minus**D): the sign of each stacked parameter row in ``w``.
_ROW_SIGN = np.array([[1.0], [-1.0]])


@dataclass(frozen=True, eq=False)
class DiagonalNetwork:
    """Parameters ``u`` (float64, 2 x d: ``u_plus`` then ``u_minus``) and ``depth`` D >= 2."""

    u: np.ndarray
    depth: int

    @classmethod
    def initial(cls, d: int, alpha: float, depth: int = 2) -> DiagonalNetwork:
        """Every parameter at ``alpha``: ``w = 0``, and the scale of ``w`` is ``alpha**depth``."""
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
        if isinstance(alpha, bool) or not (isinstance(alpha, (int, float, np.floating))
                                           and np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha (initialisation scale) must be a positive finite number, got {alpha!r}")
        return cls(np.full((2, d), float(alpha)), int(depth))

    def powers(self) -> np.ndarray:
        """``[u_plus**D, u_minus**D]`` (2 x d)."""
        return self.u ** self.depth

    def weights(self) -> np.ndarray:
        """The linear predictor ``w = u_plus**D - u_minus**D`` (length d)."""
        powered = self.powers()
        return powered[0] - powered[1]

    def gradient(self, s: np.ndarray) -> np.ndarray:
        """``dL/du`` (2 x d) given ``s = Z^T l = -dL/dw``, per the module docstring."""
        return -self.depth * self.u ** (self.depth - 1) * (_ROW_SIGN * s)
