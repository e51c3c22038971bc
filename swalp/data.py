"""Data sets that need no download at run time, as in-memory float32 tensors, and a
deterministic batch iterator.

* :func:`digits`: scikit-learn's bundled 8x8 digits (1,797 images), a fixed split of 1,297
  training and 500 test images, standardized with the training mean and standard deviation
  (over all pixels for images, per feature for vectors).
* :func:`synthetic_regression`: ``y = X w* + noise`` with Gaussian ``X``, a fixed seed.
* :func:`halp_regression`: torchhalp's noiseless ``make_regression`` example (100 x 5).
* :func:`cifar`: CIFAR-10/100 from a local directory in torchvision's pickle format (never
  downloaded); per-channel normalization, and for training a random crop of the image padded
  with 4 black pixels, then a random horizontal flip, as the SWALP code's data pipeline.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

#: Seed of the fixed data splits (independent of a run's seed, so runs compare).
DATA_SEED = 0
DIGITS_TEST = 500


@dataclass
class Dataset:
    """Training and test tensors. ``x``: float32 inputs; ``y``: int64 class labels or float32
    regression targets. ``augment``: optional per-batch transform of training inputs, called
    with a ``torch.Generator``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None


class Batches:
    """Mini-batches of ``(x, y)`` in an order fixed by ``(seed, epoch)``.

    Args:
        x, y: tensors with the same first dimension.
        batch_size: examples per batch (the last batch may be smaller).
        seed: run seed; ``shuffle`` with ``epoch`` fixes the permutation.
        augment: transform applied to each input batch (training only).
        shard: ``(rank, world)``: :meth:`shards` gives rank ``rank``'s part of each batch of a
            data-parallel run of ``world`` processes (default: the whole batch).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0,
                 augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                 shard: tuple[int, int] = (0, 1)) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x, self.y, self.batch_size, self.seed, self.augment = x, y, batch_size, seed, augment
        self.rank, self.world = shard

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def epoch(self, epoch: int, shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of ``epoch``: shuffled by a generator seeded with ``(seed, epoch)``."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.x), generator=generator) if shuffle else torch.arange(len(self.x))
        order = order.to(self.x.device)  # one transfer per epoch, none per batch
        for start in range(0, len(self.x), self.batch_size):
            index = order[start:start + self.batch_size]
            x = self.x[index]
            if self.augment is not None and shuffle:
                x = self.augment(x, generator)
            yield x, self.y[index]

    def shards(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, float]]:
        """This rank's part of each batch of :meth:`epoch` (``torch.tensor_split`` of the
        batch into ``world`` parts) and the factor ``len(part) * world / len(batch)`` that
        makes the mean loss over the part, averaged over ranks, the batch's mean loss (1.0
        unless the last batch does not split evenly)."""
        for x, y in self.epoch(epoch):
            if self.world == 1:
                yield x, y, 1.0
                continue
            part_x, part_y = x.tensor_split(self.world)[self.rank], y.tensor_split(self.world)[self.rank]
            yield part_x, part_y, len(part_y) * self.world / len(y)

    def in_order(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """All batches in data order, without augmentation (evaluation, BatchNorm refresh)."""
        return [(self.x[i:i + self.batch_size], self.y[i:i + self.batch_size])
                for i in range(0, len(self.x), self.batch_size)]


def _standardize(train: np.ndarray, test: np.ndarray, per_feature: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Subtract the training mean and divide by the training standard deviation: one of each
    over all pixels, or one per feature (column; constant columns become 0)."""
    axis = 0 if per_feature else None
    mean, std = train.mean(axis=axis), train.std(axis=axis)
    std = np.where(std > 0, std, 1.0)
    return (torch.from_numpy(((train - mean) / std).astype(np.float32)),
            torch.from_numpy(((test - mean) / std).astype(np.float32)))


def digits(image: bool = True) -> Dataset:
    """scikit-learn's 8x8 digits: inputs ``(N, 1, 8, 8)`` standardized over all pixels
    (``image``), or ``(N, 64)`` feature vectors standardized per feature (a well-conditioned
    convex problem for logistic regression)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.RandomState(DATA_SEED).permutation(len(bunch.target))
    test, train = order[:DIGITS_TEST], order[DIGITS_TEST:]
    x = bunch.data.astype(np.float64)
    x_train, x_test = _standardize(x[train], x[test], per_feature=not image)
    if image:
        x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset(x_train, y[train], x_test, y[test])


def synthetic_regression(features: int = 64, train: int = 1024, test: int = 256,
                         noise: float = 0.1) -> Dataset:
    """``y = X w* + noise``: ``X`` and ``w*`` standard normal (``w*`` scaled by
    ``1/sqrt(features)``), Gaussian noise of standard deviation ``noise``; fixed seed."""
    rng = np.random.RandomState(DATA_SEED)
    w_star = rng.standard_normal(features) / np.sqrt(features)
    x = rng.standard_normal((train + test, features))
    y = x @ w_star + noise * rng.standard_normal(train + test)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    return Dataset(xt[:train], yt[:train], xt[train:], yt[train:])


def halp_regression() -> Dataset:
    """The linear-regression example of HazyResearch/torchhalp (``examples/regression/main.py``):
    scikit-learn's ``make_regression(n_samples=100, n_features=5, random_state=0xc0ffee)``,
    noiseless (``y = X w*`` exactly, ``w*`` from 14 to 46). It is an optimization problem, not a
    learning one: the test set is the training set."""
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=100, n_features=5, random_state=0xC0FFEE)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    return Dataset(xt, yt, xt, yt)


#: (subdirectory, training files, test file, label key) of torchvision's CIFAR layouts.
CIFAR_LAYOUT = {
    10: ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels"),
    100: ("cifar-100-python", ["train"], "test", b"fine_labels"),
}
#: Per-channel (mean, standard deviation) of the inputs: ``cifar`` is the SWALP code's
#: (``stevenygd/SWALP`` ``train.py`` calls ``data.get_data``, whose copy is
#: ``Tiiiger/QPyTorch`` ``examples/SWALP/data.py``) and ``timgaripov/swa`` ``models/preresnet.py``'s;
#: ``imagenet`` is what ``timgaripov/swa`` ``models/vgg.py`` uses for VGG16.
NORMALIZATIONS = {
    "cifar": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
#: Padding of the random crop, in pixels on each side.
CROP_PADDING = 4


def _crop_and_flip(fill: torch.Tensor) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """Training augmentation of normalized images: a random crop of the image padded by
    :data:`CROP_PADDING` pixels of ``fill`` (per channel: a black pixel after normalization, so
    padding comes before normalization as in torchvision's ``RandomCrop(32, padding=4)``
    followed by ``Normalize``), then a random horizontal flip with probability 1/2."""

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, channels, height, width = x.shape
        pad = CROP_PADDING
        padded = fill.to(x.device).view(1, channels, 1, 1).expand(
            n, channels, height + 2 * pad, width + 2 * pad).clone()
        padded[:, :, pad:pad + height, pad:pad + width] = x
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        flip = torch.rand(n, generator=generator) < 0.5
        # every (dy, dx) window of every image as a view, then each image's own window
        windows = padded.unfold(2, height, 1).unfold(3, width, 1)  # n, c, 2p+1, 2p+1, h, w
        dx, dy, flip = dx.to(x.device), dy.to(x.device), flip.to(x.device)
        crops = windows[torch.arange(n, device=x.device), :, dy, dx]
        return torch.where(flip[:, None, None, None], crops.flip(-1), crops)

    return augment


def cifar(data_dir: str | Path, classes: int, normalization: str = "cifar") -> Dataset:
    """CIFAR-10 or CIFAR-100 from ``data_dir`` in torchvision's format (the directory that
    holds ``cifar-10-batches-py/`` or ``cifar-100-python/``): pixels scaled to [0, 1] and
    normalized per channel with :data:`NORMALIZATIONS` ``[normalization]``, training batches
    augmented by :func:`_crop_and_flip`.

    Raises:
        ValueError: ``classes`` is not 10 or 100, or an unknown ``normalization``.
        FileNotFoundError: an expected file is missing (the message names it).
    """
    if classes not in CIFAR_LAYOUT:
        raise ValueError(f"classes must be 10 or 100, got {classes!r}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALIZATIONS[normalization])
    sub, train_files, test_file, label_key = CIFAR_LAYOUT[classes]
    root = Path(data_dir) / sub
    missing = [str(root / f) for f in [*train_files, test_file] if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"--data-dir {data_dir}: CIFAR-{classes} in torchvision's format needs {', '.join(missing)}"
        )

    def load(files: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for name in files:
            with open(root / name, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[label_key], dtype=np.int64))
        x = torch.from_numpy(np.concatenate(xs).astype(np.float32) / 255.0)
        return (x - mean) / std, torch.from_numpy(np.concatenate(ys))

    x_train, y_train = load(train_files)
    x_test, y_test = load([test_file])
    black = ((torch.zeros(1, 3, 1, 1) - mean) / std).view(3)  # the ops that normalize a pixel
    return Dataset(x_train, y_train, x_test, y_test, augment=_crop_and_flip(black))
