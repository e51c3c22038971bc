"""MNIST-1D (Greydanus & Kobak, 2020/2024): ten 1-D digit templates of 12 points, randomly
padded, scaled, translated, sheared and noised into sequences of 40 samples. Generated
locally by the pinned ``mnist1d`` package (``make_dataset``; its ``get_dataset`` would
download, so it is never called), then cached on disk.

* The standard set is ``make_dataset(get_dataset_args())``: 5,000 sequences from seed 42,
  the first 4,000 for training and the last 1,000 for testing, standardized by the package
  (mean 0, standard deviation 1 over the whole set).
* ``train_size`` below 4,000 takes the first ``train_size`` training sequences; above it,
  the extra sequences come from further sets of the same arguments with seeds 43, 44, ...
  (4,000 sequences each, all used for training, each standardized over itself as the
  package does), so the test set and the first 4,000 training sequences never change.

Generation draws from numpy's and Python's global generators (the package seeds them); the
caller's global random state is restored afterwards. The cache lives in
``$LOWPREC_CACHE`` (default ``~/.cache/lowprec``), one ``.npz`` per generated set, keyed by
the package version, the seed and the arguments; files are written atomically.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import random
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from swalp.runio.files import atomic_write

#: Sequences of the standard set, training sequences in it, and its seed.
STANDARD_SAMPLES, STANDARD_TRAIN, STANDARD_SEED = 5000, 4000, 42
SEQUENCE_LENGTH, CLASSES = 40, 10
CACHE_ENV = "LOWPREC_CACHE"


def cache_dir() -> Path:
    """Directory of generated data sets: ``$LOWPREC_CACHE`` or ``~/.cache/lowprec``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lowprec")


def _arguments(seed: int, samples: int, train_split: float) -> dict:
    """The package's default arguments with another seed, size and split (no URL: nothing
    is downloaded)."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    args.pop("url")
    args.update(seed=seed, num_samples=samples, train_split=train_split)
    return args


def _generate(args: dict) -> dict[str, np.ndarray]:
    """``make_dataset`` with ``args``, leaving numpy's and Python's global state as found."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {key: np.asarray(data[key]) for key in ("x", "y", "x_test", "y_test")}


def generated_set(seed: int, samples: int, train_split: float) -> dict[str, np.ndarray]:
    """One ``make_dataset`` result (arrays ``x``, ``y``, ``x_test``, ``y_test``), from the disk
    cache when present, else generated and cached."""
    args = _arguments(seed, samples, train_split)
    text = json.dumps({"mnist1d": version("mnist1d"), **args}, sort_keys=True)
    path = cache_dir() / f"mnist1d-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        try:
            # our own handle: np.load leaves its file open when the archive is damaged
            with path.open("rb") as handle, np.load(handle) as cached:
                return {key: cached[key] for key in cached.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # a damaged cache file is generated again and replaced
    data = _generate(args)
    buffer = io.BytesIO()
    np.savez(buffer, **data)
    atomic_write(path, buffer.getvalue())
    return data


@functools.lru_cache(maxsize=8)
def mnist1d(train_size: int = STANDARD_TRAIN) -> tuple[torch.Tensor, ...]:
    """``(x_train, y_train, x_test, y_test)``: float32 inputs ``(N, 40)`` and int64 labels;
    ``train_size`` training sequences (see the module docstring), always the same 1,000 test
    sequences.

    Raises:
        ValueError: ``train_size`` is not a positive integer.
    """
    if isinstance(train_size, bool) or not isinstance(train_size, int) or train_size < 1:
        raise ValueError(f"train_size must be a positive integer, got {train_size!r}")
    standard = generated_set(STANDARD_SEED, STANDARD_SAMPLES, STANDARD_TRAIN / STANDARD_SAMPLES)
    xs, ys = [standard["x"]], [standard["y"]]
    seed = STANDARD_SEED
    while sum(len(y) for y in ys) < train_size:
        seed += 1
        extra = generated_set(seed, STANDARD_TRAIN, 1.0)
        xs.append(extra["x"])
        ys.append(extra["y"])
    x, y = np.concatenate(xs)[:train_size], np.concatenate(ys)[:train_size]
    return (torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64)),
            torch.from_numpy(standard["x_test"].astype(np.float32)),
            torch.from_numpy(standard["y_test"].astype(np.int64)))
