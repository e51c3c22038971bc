"""Where a run trains: ``--device cpu|cuda|mps|auto`` resolved to a torch device, and the
settings that make training on it deterministic (so that a resumed run is bit-identical to an
uninterrupted one on the same device).

On CPU, quantizers run the Numba kernels; on other devices lpformats' torch backend (the same
bits for the same inputs). MPS has no float64, which the torch backend computes in: there
only full-precision methods (``sgd-fp``, ``swa-fp``) can run.
"""

from __future__ import annotations

import torch

DEVICES = ("cpu", "cuda", "mps", "auto")


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return kind == "cpu"


def resolve_device(name: str) -> str:
    """The concrete device type for ``name`` (``auto``: ``cuda``, else ``mps``, else ``cpu``).

    Raises:
        ValueError: unknown name, or a device this machine does not have.
    """
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {name!r}")
    if name == "auto":
        return next(kind for kind in ("cuda", "mps", "cpu") if _available(kind))
    if not _available(name):
        raise ValueError(f"device {name!r} is not available on this machine "
                         f"(torch {torch.__version__}); use --device cpu or auto")
    return name


def make_deterministic(device: torch.device) -> None:
    """Select deterministic kernels on ``device`` (cuDNN without autotuning, cuBLAS's
    deterministic workspace): the same inputs give the same bits on every call."""
    if device.type == "cuda":
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
