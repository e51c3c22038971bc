"""The MNIST-1D paper's models (Greydanus & Kobak; ``notebooks/models.py`` of
``greydanus/mnist1d``), in full precision with ``nn.ReLU`` modules so that
:func:`swalp.insert.insert_quantizers` finds their activations.

* :class:`MNIST1DCNN` (``ConvBase``): three 1-D convolutions of 25 channels (kernel 5, then
  3 and 3; stride 2, padding 1; lengths 40 -> 19 -> 10 -> 5), each followed by a ReLU, and a
  linear classifier on the 125 flattened features: 5,210 parameters.
* :class:`MNIST1DMLP` (``MLPBase``): ``h = relu(linear1(x)); h = h + relu(linear2(h));
  linear3(h)`` with 100 hidden units: 15,210 parameters. Quantizers after the ReLUs round
  both summands of the residual sum; the sum itself, the classifier's input, is not rounded
  again.
"""

from __future__ import annotations

import torch
from torch import nn

from swalp.data_mnist1d import CLASSES, SEQUENCE_LENGTH

#: Kernel sizes of the CNN's convolutions (stride 2, padding 1 each).
KERNELS = (5, 3, 3)


class MNIST1DCNN(nn.Module):
    """The paper's 1-D CNN on ``(N, 40)`` sequences (or ``(N, 1, 40)``); logits ``(N, 10)``."""

    def __init__(self, channels: int = 25, length: int = SEQUENCE_LENGTH, classes: int = CLASSES) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for kernel in KERNELS:
            layers += [nn.Conv1d(in_channels, channels, kernel, stride=2, padding=1), nn.ReLU()]
            in_channels, length = channels, (length + 2 - kernel) // 2 + 1
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels * length, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.reshape(len(x), 1, x.shape[-1]))
        return self.classifier(h.flatten(1))


class MNIST1DMLP(nn.Module):
    """The paper's MLP (one residual hidden layer) on ``(N, 40)`` sequences; logits ``(N, 10)``."""

    def __init__(self, hidden: int = 100, length: int = SEQUENCE_LENGTH, classes: int = CLASSES) -> None:
        super().__init__()
        self.linear1, self.relu1 = nn.Linear(length, hidden), nn.ReLU()
        self.linear2, self.relu2 = nn.Linear(hidden, hidden), nn.ReLU()
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu1(self.linear1(x.reshape(len(x), -1)))
        h = h + self.relu2(self.linear2(h))
        return self.classifier(h)
