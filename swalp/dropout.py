"""Dropout whose masks are a function of the run's seed: each call draws one counter from the
run's :class:`~swalp.quantizer.RandomStream` (as stochastic rounding does) and builds its mask
from ``(seed, counter)``. A run with dropout stays a pure function of its seed, and a run
resumed from a checkpoint (which saves the stream's counter) stays bit-identical.

Semantics are ``torch.nn.Dropout``'s (inverted dropout): in training mode each element is
zeroed with probability ``p`` and the survivors are scaled by ``1 / (1 - p)``; in eval mode the
module is the identity.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from swalp.quantizer import RandomStream


def keep_mask(shape: tuple[int, ...], p: float, seed: int, counter: int) -> torch.Tensor:
    """Boolean CPU tensor of ``shape``: True (keep) where a uniform draw on [0, 1) is ``>= p``.

    The draws come from a ``torch.Generator`` seeded with a 64-bit word that numpy's
    ``SeedSequence`` derives from ``(seed, counter)``: the same pair gives the same mask."""
    word = int(np.random.SeedSequence([seed, counter]).generate_state(1, np.uint64)[0])
    generator = torch.Generator().manual_seed(word)
    return torch.rand(shape, generator=generator) >= p


class Dropout(nn.Module):
    """``torch.nn.Dropout`` drawing its masks from a :class:`RandomStream`.

    Args:
        p: probability of zeroing an element, in [0, 1).

    Attributes:
        stream: the run's stream (set by :func:`swalp.quantizer.share_stream`). While it is
            None the module draws from torch's global generator, exactly as ``nn.Dropout``.
    """

    #: :func:`swalp.quantizer.share_stream` points this module at the run's stream.
    draws_from_stream = True

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must be in [0, 1), got {p!r}")
        self.p = p
        self.stream: RandomStream | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.stream is None:
            return nn.functional.dropout(x, self.p, training=True)
        mask = keep_mask(tuple(x.shape), self.p, self.stream.seed, self.stream.next()).to(x.device)
        return x * mask / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
