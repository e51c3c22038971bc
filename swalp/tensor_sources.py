"""Tensors to analyse with :func:`lpformats.analyze`: samples of a distribution, a saved array,
or the real tensors of one training step of a task's model.

Spellings of a tensor source (``swalp formats --tensor-source``):

* ``normal``, ``laplace``, ``log-uniform``: samples from :func:`lpformats.analyze.sample`;
* ``TASK:ROLE`` (e.g. ``digits-vgg:E``): the tensors of role ``ROLE`` in one forward and
  backward pass of the task's model, freshly initialized with the seed, on the first
  training batch: ``W`` the weights of every conv/linear layer, ``A`` the output of every
  module of :func:`swalp.insert.quantization_points` (where training quantizes activations),
  ``E`` the gradient of the loss with respect to those outputs, ``G`` the weight gradients;
* ``PATH.npy`` / ``PATH.npz``: a saved array (every array of an ``.npz``).

Each source is a mapping from tensor name to float32 array; analysis quantizes each tensor on
its own (its own shared exponents) and pools the statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lpformats.analyze import DISTRIBUTIONS, sample
from swalp.insert import quantization_points
from swalp.tasks import TASKS, get_task

#: Roles whose tensors a training step yields (``M``, optimizer state, does not exist yet).
CAPTURE_ROLES = ("W", "A", "E", "G")
WEIGHT_LAYER_TYPES = (nn.Conv2d, nn.Linear)
DEFAULT_BATCH = 64


def capture_step(task: str, seed: int = 0, batch_size: int = DEFAULT_BATCH,
                 data_dir: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Role -> {tensor name -> array} for one forward/backward pass of ``task``'s model in
    float32 (see the module docstring). Names are module paths (``features.0.weight``,
    ``features.2:out``)."""
    spec = get_task(task)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    data = spec.load(data_dir)
    torch.manual_seed(seed)
    model = spec.build()
    model.train()
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            output.retain_grad()
            outputs[name] = output
        return hook

    points = {id(m) for m in quantization_points(model)}
    handles = [m.register_forward_hook(keep(name or "model")) for name, m in model.named_modules()
               if id(m) in points]
    try:
        x, y = data.x_train[:batch_size], data.y_train[:batch_size]
        spec.loss(model(x), y).backward()
    finally:
        for handle in handles:
            handle.remove()
    weights = {f"{name or 'model'}.weight": m.weight for name, m in model.named_modules()
               if isinstance(m, WEIGHT_LAYER_TYPES)}
    arrays = {
        "W": {k: w.detach() for k, w in weights.items()},
        "G": {k: w.grad for k, w in weights.items()},
        "A": {f"{k}:out": t.detach() for k, t in outputs.items()},
        "E": {f"{k}:grad": t.grad for k, t in outputs.items() if t.grad is not None},
    }
    return {role: {k: t.numpy().astype(np.float32) for k, t in group.items()}
            for role, group in arrays.items()}


def load_tensor_source(source: str, size: int = 1 << 16, seed: int = 0,
                       data_dir: str | None = None) -> dict[str, np.ndarray]:
    """The tensors a source spelling names (see the module docstring).

    Args:
        source: the spelling.
        size: number of samples of a distribution.
        seed: seed of the samples or of the model's initialization.
        data_dir: data directory of tasks that need one (CIFAR).

    Raises:
        ValueError: an unknown distribution, task or role, or a missing file.
    """
    source = source.strip()
    if source in DISTRIBUTIONS:
        return {source: sample(source, size, seed)}
    if source.endswith((".npy", ".npz")):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"tensor source {source!r}: no such file")
        loaded = np.load(path)
        items = {path.stem: loaded} if isinstance(loaded, np.ndarray) else dict(loaded)
        return {k: np.asarray(v, dtype=np.float32) for k, v in items.items()}
    task, sep, role = source.rpartition(":")
    if not sep or task not in TASKS or role not in CAPTURE_ROLES:
        raise ValueError(
            f"tensor source must be one of {', '.join(DISTRIBUTIONS)}, TASK:ROLE with ROLE in "
            f"{''.join(CAPTURE_ROLES)} and TASK one of {', '.join(sorted(TASKS))}, or a .npy/.npz file; "
            f"got {source!r}")
    return capture_step(task, seed, data_dir=data_dir)[role]


__all__ = ["CAPTURE_ROLES", "capture_step", "load_tensor_source"]
