"""Models of the SWALP experiments, in full precision (quantizers are inserted afterwards by
:func:`swalp.insert.insert_quantizers`). No dropout: training uses no global random state.

* :class:`VGG`: conv3x3-BN-ReLU stacks with max pooling, then a linear classifier; ``vgg16``
  is the paper's CIFAR configuration, ``vgg_digits`` a small one for 8x8 digits.
* :class:`PreResNet`: pre-activation ResNet (He et al. 2016) with basic blocks for depth 6n+2
  and bottleneck blocks for depth 9n+2 (``preresnet164``), widths 16/32/64 times ``width``.
"""

from __future__ import annotations

from torch import nn

VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG_DIGITS = (32, 32, "M", 64, 64, "M")


class VGG(nn.Module):
    """VGG-style network: ``config`` lists conv widths and ``"M"`` (2x2 max pool).

    Args:
        config: layer list, e.g. :data:`VGG16`.
        in_channels: input image channels.
        image_size: input height = width in pixels.
        classes: output classes.
    """

    def __init__(self, config: tuple, in_channels: int, image_size: int, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                size //= 2
            else:
                conv = nn.Conv2d(channels, item, 3, padding=1, bias=False)
                layers += [conv, nn.BatchNorm2d(item), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels * size * size, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.relu1 = nn.BatchNorm2d(inplanes), nn.ReLU()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn2, self.relu2 = nn.BatchNorm2d(planes), nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or inplanes != planes * self.expansion:
            self.shortcut = nn.Conv2d(inplanes, planes * self.expansion, 1, stride, bias=False)

    def forward(self, x):
        out = self.relu1(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.relu2(self.bn2(out)))
        return out + residual


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.relu1 = nn.BatchNorm2d(inplanes), nn.ReLU()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn2, self.relu2 = nn.BatchNorm2d(planes), nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3, self.relu3 = nn.BatchNorm2d(planes), nn.ReLU()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.shortcut = None
        if stride != 1 or inplanes != planes * 4:
            self.shortcut = nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False)

    def forward(self, x):
        out = self.relu1(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.relu2(self.bn2(out)))
        out = self.conv3(self.relu3(self.bn3(out)))
        return out + residual


class PreResNet(nn.Module):
    """Pre-activation ResNet for small images.

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
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        layers, inplanes = [], width
        for stage in range(3):
            planes = width * 2**stage
            for i in range(n):
                layers.append(block(inplanes, planes, 2 if (stage > 0 and i == 0) else 1))
                inplanes = planes * block.expansion
        self.blocks = nn.Sequential(*layers)
        self.bn, self.relu = nn.BatchNorm2d(inplanes), nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(inplanes, classes)

    def forward(self, x):
        out = self.relu(self.bn(self.blocks(self.conv(x))))
        return self.classifier(self.pool(out).flatten(1))
