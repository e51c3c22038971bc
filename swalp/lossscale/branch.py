"""Branch points for adaptive loss scaling: one tensor handed to several branches.

A residual block uses its input twice (the residual branch and the shortcut). In the
backward pass autograd sums the two errors arriving at that input, but under adaptive
layer-wise loss scaling (:mod:`swalp.lossscale.adaptive`) they carry different scales and
must first be brought to a common one. A model marks such a point with :class:`Branch`:
``shortcut, x = self.branch(x)``. Without adaptive scaling it returns ``(x, x)`` and changes
nothing; with it, one autograd node receives every branch's error separately and rescales
them before summing (the authors' ``AdaLossBranch``, ``kumasento/gradient-scaling``
``ada_loss/chainer_impl/functions/ada_loss_branch.py``).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class BranchScaling(Protocol):
    """What a :class:`Branch` calls when a per-layer scaler is attached."""

    def fork(self, branch: Branch, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``branch.count`` tensors equal to ``x`` whose errors are rescaled where they meet."""


class Branch(nn.Module):
    """Hands ``x`` to ``count`` branches (``count`` >= 2); no parameters, no state.

    Attributes:
        scaling: set by an attached per-layer scaler (None: plain ``(x,) * count``).
    """

    def __init__(self, count: int = 2) -> None:
        super().__init__()
        if isinstance(count, bool) or not isinstance(count, int) or count < 2:
            raise ValueError(f"count (number of branches) must be an integer >= 2, got {count!r}")
        self.count = count
        self.scaling: BranchScaling | None = None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.scaling is None or not torch.is_grad_enabled() or not x.requires_grad:
            return (x,) * self.count
        return self.scaling.fork(self, x)

    def extra_repr(self) -> str:
        return f"count={self.count}"
