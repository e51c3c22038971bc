"""Per-layer underflow and overflow of the back-propagated errors.

:class:`ErrorStatistics` watches every :class:`~swalp.quantizer.Quantizer` of a model whose
error spec (role ``E``) is enabled: in the backward pass each one rounds the error arriving
at its layer, and on the steps chosen (every ``every`` steps) the statistics count, with
:func:`lpformats.analyze.range_counts` (the semantics of :func:`lpformats.analyze`'s
``frac_flushed`` and ``frac_saturated``), how many elements of that error flushed to zero
(underflow) and how many saturated or overflowed to inf/NaN (overflow). On every step they
also note the first layer, in backward order, whose rounded error was not finite: the layer
an overflow started in.

Layers are named by the quantizer's place in the model: the module whose output it rounds
(``features.1``), or ``output`` for the quantizer of the model's output (errors of the loss
with respect to the logits). The input's quantizer is left out: no error flows back to the
input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lpformats.analyze import RangeCounts, range_counts
from swalp.insert import INPUT_QUANTIZER_NAME, QUANTIZER_NAME
from swalp.quantizer import Quantizer

#: Name of the quantizer on a model's output (errors of the logits), see :func:`layer_name`.
OUTPUT_QUANTIZER_NAME = "logits_quantizer"


def layer_name(path: str) -> str:
    """The layer a quantizer at module path ``path`` belongs to."""
    if path == OUTPUT_QUANTIZER_NAME:
        return "output"
    suffix = "." + QUANTIZER_NAME
    return path[: -len(suffix)] if path.endswith(suffix) else path


class ErrorStatistics:
    """Per-layer error statistics of a model's training steps (see the module docstring).

    Args:
        model: a model with quantizers inserted.
        every: take the statistics on steps ``0, every, 2*every, ...`` (global, 0-based).

    Raises:
        ValueError: ``every`` is not a positive integer, or no quantizer rounds errors.
    """

    def __init__(self, model: nn.Module, every: int) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every (statistics interval in steps) must be a positive integer, "
                             f"got {every!r}")
        self.every = every
        self.quantizers = {layer_name(path): q for path, q in model.named_modules()
                           if isinstance(q, Quantizer) and q.errors.enabled and path != INPUT_QUANTIZER_NAME}
        if not self.quantizers:
            raise ValueError("the model has no quantizer that rounds errors (role E is fp32): "
                             "nothing to count")
        self.layers = list(self.quantizers)
        self.counting = False
        self.counts: dict[str, RangeCounts] = {}
        self.first_nonfinite: str | None = None
        for name, quantizer in self.quantizers.items():
            quantizer.error_observer = self._observer(name, quantizer)

    def detach(self) -> None:
        """Stop observing (the quantizers' observers are removed)."""
        for quantizer in self.quantizers.values():
            quantizer.error_observer = None

    def _observer(self, name: str, quantizer: Quantizer):
        def observe(error: torch.Tensor, rounded: torch.Tensor) -> None:
            if self.first_nonfinite is None and not bool(torch.isfinite(rounded).all()):
                self.first_nonfinite = name
            if self.counting:
                fmt = quantizer.errors.format_for(tuple(error.shape))
                counts = range_counts(error.detach().cpu(), rounded.detach().cpu(), fmt)
                self.counts[name] = self.counts[name] + counts if name in self.counts else counts
        return observe

    def begin_step(self, step: int) -> None:
        """Call before the backward pass of global step ``step`` (0-based)."""
        self.counting = step % self.every == 0
        self.counts = {}
        self.first_nonfinite = None

    def row(self) -> dict[str, dict[str, float]] | None:
        """After the backward pass: per layer (backward order) ``underflow`` (flushed elements
        over all), ``underflow_of_nonzero`` (flushed over nonzero elements), ``overflow``
        (saturated or non-finite over all) and ``nonzero`` (fraction of nonzero elements);
        None on a step without statistics."""
        if not self.counting:
            return None
        return {name: {"underflow": c.frac_flushed, "underflow_of_nonzero": c.flushed_of_nonzero,
                       "overflow": c.frac_saturated, "nonzero": c.nonzero / c.size if c.size else 0.0}
                for name, c in self.counts.items()}

    def describe(self) -> dict[str, Any]:
        """The record's description of the statistics."""
        return {"every": self.every, "layers": self.layers,
                "formats": {name: q.errors.fmt for name, q in self.quantizers.items()}}
