"""SWALP averaging: a full-precision running mean of the (low-precision) iterates, built on
``torch.optim.swa_utils.AveragedModel``, with BatchNorm statistics recomputed for the average
(``torch.optim.swa_utils.update_bn``: one pass over the training data, cumulative moving
average, as the paper's code) before it is evaluated.

The average can be evaluated in full precision (quantizers off) or as a low-precision model:
its weights rounded to ``W``'s format (nearest) and activations quantized as in training.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, update_bn

from swalp.quantizer import RandomStream, quantize_tensor, set_quantizers_enabled, share_stream
from swalp.roles import RoleSpec


class Averager:
    """Running mean of a model's parameters, in float32; its quantizers draw from ``stream``.

    After ``n`` calls to :meth:`update` every parameter of :attr:`model` is
    ``sum(p_i) / n`` (computed as torch's ``AveragedModel``: ``avg += (p - avg) / (k + 1)``).
    """

    def __init__(self, model: nn.Module, stream: RandomStream) -> None:
        self._averaged = AveragedModel(model)
        share_stream(self.model, stream)

    @property
    def model(self) -> nn.Module:
        """The averaged model (a copy of the trained model's structure)."""
        return self._averaged.module

    @property
    def count(self) -> int:
        """Number of iterates averaged so far."""
        return int(self._averaged.n_averaged)

    def update(self, model: nn.Module) -> None:
        """Add ``model``'s current parameters to the mean."""
        self._averaged.update_parameters(model)

    def state_dict(self) -> dict:
        return self._averaged.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self._averaged.load_state_dict(state)

    def full_precision(self, train_batches: Iterable) -> nn.Module:
        """The average with quantizers off and BatchNorm statistics recomputed over
        ``train_batches`` (an iterable of ``(inputs, targets)``)."""
        set_quantizers_enabled(self.model, False)
        update_bn(train_batches, self.model)
        return self.model

    def low_precision(self, train_batches: Iterable, weights: RoleSpec, stream: RandomStream) -> nn.Module:
        """A copy of the average with weights rounded to ``weights``' format (nearest),
        quantizers on, and BatchNorm statistics recomputed with them."""
        model = copy.deepcopy(self.model)
        share_stream(model, stream)
        nearest = RoleSpec(weights.role, weights.fmt, "nearest", weights.layout)
        with torch.no_grad():
            for p in model.parameters():
                quantize_tensor(p.data, nearest, stream, inplace=True)
        set_quantizers_enabled(model, True)
        update_bn(train_batches, model)
        return model
