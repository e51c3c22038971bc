"""The MNIST-1D paper's models (Greydanus & Kobak; ``notebooks/models.py`` of
``greydanus/mnist1d``), in full precision with ``nn.ReLU`` modules so that
:func:`swalp.insert.insert_quantizers` finds their activations.

* :class:`MNIST1DCNN` (``ConvBase``): three 1-D convolutions of 25 channels (kernel 5, then
  3 and 3; stride 2, padding 1; lengths 40 -> 19 -> 10 -> 5), each followed by a ReLU, and a
  linear classifier on the 125 flattened features: 5,210 parameters.
* :class:`MNIST1DMLP` (``MLPBase``): ``h = relu(linear1(x)); h = h + relu(linear2(h));
  linear3(h)`` with 100 hidden units: 15,210 parameters. Quantizers after the ReLUs round
  both summands of the residual sum; the sum itself, the classifier's input, is not rounded
  again. ``h`` is handed to the sum and to ``linear2`` by a
  :class:`~swalp.lossscale.branch.Branch` (a no-op unless adaptive loss scaling is attached).
* :class:`MNIST1DDeepMLP` (ours, not the paper's): a deep narrow MLP, ``depth`` linear layers
  (default 10: nine hidden layers of ``width`` 64, each followed by a ReLU, then the linear
  classifier): 36,554 parameters. Weights start from He's normal initialization (``fan_in``,
  ReLU gain) and biases at zero: with torch's default initialization (variance
  ``1/(3 fan_in)``) the signal shrinks at every layer and this depth does not train (a 60-epoch
  fp32 run stays at chance, 8.9 %). Its errors shrink as training fits the data, layer by
  layer, which is what loss scaling (issue 13) has to counter.
"""

from __future__ import annotations

import torch
from torch import nn

from swalp.data_mnist1d import CLASSES, SEQUENCE_LENGTH
from swalp.lossscale.branch import Branch

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
        self.branch = Branch()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu1(self.linear1(x.reshape(len(x), -1)))
        shortcut, h = self.branch(h)
        h = shortcut + self.relu2(self.linear2(h))
        return self.classifier(h)


class MNIST1DDeepMLP(nn.Module):
    """A deep narrow MLP on ``(N, 40)`` sequences; logits ``(N, 10)``.

    Args:
        depth: number of linear layers (>= 2): ``depth - 1`` hidden layers with a ReLU each,
            then the classifier.
        width: hidden units per layer.
    """

    def __init__(self, depth: int = 10, width: int = 64, length: int = SEQUENCE_LENGTH,
                 classes: int = CLASSES) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2 (hidden layers + classifier), got {depth!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        layers: list[nn.Module] = []
        fan_in = length
        for _ in range(depth - 1):
            linear = nn.Linear(fan_in, width)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.ReLU()]
            fan_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(fan_in, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.reshape(len(x), -1)))
