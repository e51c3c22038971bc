"""Small torch models for the CLI tests (``--torch tests.accel_model.models:small_cnn``)."""

from torch import nn


def small_cnn() -> nn.Module:
    """conv 3->8 (3x3, pad 1), ReLU, conv 8->8 depthwise, flatten, linear to 10 (input 1x3x8x8)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 10),
    )
