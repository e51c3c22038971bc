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


class _RecurrentHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def lstm_model() -> nn.Module:
    """An LSTM (not supported by the tracer) followed by a linear head (input 3x1x4)."""
    return _RecurrentHead()
