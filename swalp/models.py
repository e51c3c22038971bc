"""Models of the SWALP experiments, in full precision (quantizers are inserted afterwards by
:func:`swalp.insert.insert_quantizers` at the modules each model's ``quantized_modules()``
names: the placement of the authors' ``vgg_low``/``preresnet_low``).

* :class:`VGG`: conv3x3(-BN)-ReLU stacks with max pooling, then a linear classifier or the
  authors' Dropout-Linear-ReLU x2 classifier. :func:`vgg16` is the authors' CIFAR VGG16
  (``stevenygd/SWALP`` ``models/vgg_low.py``, the same network as ``timgaripov/swa``
  ``models/vgg.py``): no BatchNorm, convolutions with bias, classifier Dropout -
  Linear(512, 512) - ReLU - Dropout - Linear(512, 512) - ReLU - Linear(512, classes), conv
  weights N(0, sqrt(2 / (9 * out_channels))) and zero biases (linear layers keep torch's
  init); 15,245,130 parameters for 10 classes. :data:`VGG_DIGITS` is a small BN variant for
  8x8 digits.
* :class:`PreResNet`: pre-activation ResNet (He et al. 2016) as ``stevenygd/SWALP``
  ``models/preresnet_low.py`` (from bearpaw/pytorch-classification): basic blocks for depth
  6n+2, bottleneck blocks for depth 9n+2 (``preresnet164``: 18 per stage; the reference's
  ``PreResNet164LP`` passes depth 110 to a 6n+2 rule that switches to bottleneck blocks from
  depth 44, which builds the same 18 per stage), widths 16/32/64;
  the projection shortcut (a strided 1x1 conv) takes the block input ``x``; conv weights
  N(0, sqrt(2 / (k * k * out_channels))), BatchNorm weight 1 and bias 0. Module and
  ``state_dict`` names are the reference's (``conv1``, ``layer1..3``, ``bn``, ``fc``; blocks
  ``bn1``, ``conv1``, ..., ``downsample.0``).

Dropout is :class:`swalp.dropout.Dropout`: its masks come from the run's random stream.
"""

from __future__ import annotations

import math

from torch import nn

from swalp.dropout import Dropout
from swalp.lossscale.branch import Branch

VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG_DIGITS = (32, 32, "M", 64, 64, "M")


def _authors_init(model: nn.Module) -> None:
    """The authors' initialization (``vgg_low.py``, ``preresnet_low.py``): every conv weight
    N(0, sqrt(2 / (kh * kw * out_channels))), conv biases 0, BatchNorm weight 1 and bias 0;
    linear layers keep torch's default."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class VGG(nn.Module):
    """VGG-style network: ``config`` lists conv widths and ``"M"`` (2x2 max pool).

    Args:
        config: layer list, e.g. :data:`VGG16`.
        in_channels: input image channels.
        image_size: input height = width in pixels.
        classes: output classes.
        batch_norm: a BatchNorm between each convolution and its ReLU.
        bias: convolutions with a bias.
        hidden: width of the authors' classifier (Dropout - Linear(features, hidden) - ReLU -
            Dropout - Linear(hidden, hidden) - ReLU - Linear(hidden, classes)); None for one
            Linear(features, classes).
        dropout: dropout probability of that classifier.
        authors_init: the authors' initialization (see :func:`_authors_init`) instead of
            torch's default.
    """

    def __init__(self, config: tuple, in_channels: int, image_size: int, classes: int, *,
                 batch_norm: bool = True, bias: bool = False, hidden: int | None = None,
                 dropout: float = 0.5, authors_init: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                size //= 2
            else:
                layers.append(nn.Conv2d(channels, item, 3, padding=1, bias=bias))
                layers += [nn.BatchNorm2d(item), nn.ReLU()] if batch_norm else [nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        flat = channels * size * size
        if hidden is None:
            self.classifier: nn.Module = nn.Linear(flat, classes)
        else:
            self.classifier = nn.Sequential(
                Dropout(dropout), nn.Linear(flat, hidden), nn.ReLU(),
                Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                nn.Linear(hidden, classes))
        if authors_init:
            _authors_init(self)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))

    def quantized_modules(self) -> list[nn.Module]:
        """Where ``vgg_low.py`` quantizes: the output of every ReLU, features (before the max
        pool that may follow) and hidden classifier layers alike; not the input, not the logits."""
        return [m for m in self.modules() if isinstance(m, nn.ReLU)]


def vgg16(classes: int) -> VGG:
    """The authors' CIFAR VGG16 (32x32 RGB inputs; see the module docstring)."""
    return VGG(VGG16, 3, 32, classes, batch_norm=False, bias=True, hidden=512, dropout=0.5,
               authors_init=True)


def _conv1x1(inplanes: int, planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inplanes, planes, 1, stride, bias=False)


def _conv3x3(inplanes: int, planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)


class _Basic(nn.Module):
    """BN-ReLU-conv3x3 twice, plus the shortcut (identity, or a 1x1 conv of the block input)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.relu1 = nn.BatchNorm2d(inplanes), nn.ReLU()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn2, self.relu2, self.conv2 = nn.BatchNorm2d(planes), nn.ReLU(), _conv3x3(planes, planes)
        self.downsample = None
        if stride != 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(_conv1x1(inplanes, planes * self.expansion, stride))
        self.branch = Branch()  # the input feeds both paths (adaptive loss scaling merges their errors)

    def forward(self, x):
        shortcut, x = self.branch(x)
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        return out + (shortcut if self.downsample is None else self.downsample(shortcut))

    def quantized_modules(self) -> list[nn.Module]:
        return [self.relu1, self.conv1, self.relu2, self.conv2]


class _Bottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (strided), BN-ReLU-conv1x1 (x4 channels), plus the
    shortcut (identity, or a strided 1x1 conv of the block input)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.relu1, self.conv1 = nn.BatchNorm2d(inplanes), nn.ReLU(), _conv1x1(inplanes, planes)
        self.bn2, self.relu2, self.conv2 = nn.BatchNorm2d(planes), nn.ReLU(), _conv3x3(planes, planes, stride)
        self.bn3, self.relu3, self.conv3 = nn.BatchNorm2d(planes), nn.ReLU(), _conv1x1(planes, planes * 4)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(_conv1x1(inplanes, planes * 4, stride))
        self.branch = Branch()  # the input feeds both paths (adaptive loss scaling merges their errors)

    def forward(self, x):
        shortcut, x = self.branch(x)
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        out = self.conv3(self.relu3(self.bn3(out)))
        return out + (shortcut if self.downsample is None else self.downsample(shortcut))

    def quantized_modules(self) -> list[nn.Module]:
        return [self.relu1, self.conv1, self.relu2, self.conv2, self.relu3, self.conv3]


class PreResNet(nn.Module):
    """Pre-activation ResNet for small images (see the module docstring).

    Args:
        depth: 6n+2 (basic blocks) or 9n+2 with ``bottleneck`` (e.g. 164).
        in_channels, classes: input channels and output classes.
        width: base width (16 in the paper).
        bottleneck: use bottleneck blocks.
    """

    def __init__(self, depth: int, in_channels: int, classes: int, width: int = 16,
                 bottleneck: bool = False) -> None:
        super().__init__()
        per = 9 if bottleneck else 6
        if depth < per + 2 or (depth - 2) % per:
            kind = "bottleneck" if bottleneck else "basic"
            raise ValueError(f"depth must be {per}n+2 with n >= 1 for {kind} blocks, got {depth}")
        block = _Bottleneck if bottleneck else _Basic
        n = (depth - 2) // per
        self.conv1 = _conv3x3(in_channels, width)
        inplanes = width
        for stage in range(3):
            planes = width * 2**stage
            blocks = []
            for i in range(n):
                blocks.append(block(inplanes, planes, 2 if (stage > 0 and i == 0) else 1))
                inplanes = planes * block.expansion
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
        self.bn, self.relu = nn.BatchNorm2d(inplanes), nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # the reference's AvgPool2d(8) on 32x32 inputs
        self.fc = nn.Linear(inplanes, classes)
        _authors_init(self)

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        out = self.relu(self.bn(out))
        return self.fc(self.avgpool(out).flatten(1))

    def quantized_modules(self) -> list[nn.Module]:
        """Where ``preresnet_low.py`` quantizes: the stem convolution's output, and in every
        block the output of each ReLU and each convolution of the residual branch; not the
        input, not the projection shortcut, not the final BN-ReLU before pooling."""
        blocks = [b for layer in (self.layer1, self.layer2, self.layer3) for b in layer]
        return [self.conv1] + [m for b in blocks for m in b.quantized_modules()]


def preresnet164(classes: int) -> PreResNet:
    """The authors' PreResNet-164 (bottleneck blocks, 18 per stage) for 32x32 RGB inputs."""
    return PreResNet(164, 3, classes, bottleneck=True)
