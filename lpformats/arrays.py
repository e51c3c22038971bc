"""Adapters between user tensors (numpy arrays, CPU torch tensors) and the float arrays the
kernels work on. Zero-copy wherever the memory layout allows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: numpy dtypes the kernels read and write directly.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_ACCEPTED = "a float16/float32/float64 numpy array or a CPU torch tensor of a floating dtype"


def _torch():
    import torch

    return torch


def is_torch_tensor(x: Any) -> bool:
    """True for a torch.Tensor (without importing torch when it is not loaded)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


@dataclass
class Operand:
    """A user tensor seen as a numpy array the kernels can read.

    ``array`` is float32 or float64; it shares memory with the user's tensor unless the
    dtype needed a conversion (float16, bfloat16), recorded in ``converted``.
    """

    original: Any
    array: np.ndarray
    converted: bool

    @property
    def is_torch(self) -> bool:
        return is_torch_tensor(self.original)


def as_operand(x: Any, name: str = "x") -> Operand:
    """Check ``x`` and view it as a float32/float64 numpy array.

    Raises:
        TypeError: not an array/tensor, integer/bool/complex dtype, or a non-CPU tensor.
    """
    if is_torch_tensor(x):
        torch = _torch()
        if x.device.type != "cpu":
            raise TypeError(f"{name} is a torch tensor on {x.device}; the Numba kernels read host "
                            "memory only (backend='torch' runs on any device)")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{name} must have a floating dtype ({_ACCEPTED}); got {x.dtype}")
        t = x.detach()
        if t.dtype in (torch.float32, torch.float64):
            return Operand(x, t.numpy(), converted=False)
        return Operand(x, t.to(torch.float32).numpy(), converted=True)
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, float, int, np.floating)):
            raise TypeError(
                f"{name} must be {_ACCEPTED}; got {type(x).__name__} (wrap it with np.asarray)"
            )
        raise TypeError(f"{name} must be {_ACCEPTED}; got {type(x).__name__}")
    if x.dtype in KERNEL_DTYPES:
        return Operand(x, x, converted=False)
    if x.dtype == np.float16:
        return Operand(x, x.astype(np.float32), converted=True)
    raise TypeError(f"{name} must have a floating dtype ({_ACCEPTED}); got {x.dtype}")


def floating_tensor(x: Any, name: str = "x") -> Any:
    """``x``, checked to be a torch tensor of a floating dtype (any device)."""
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must have a floating dtype; got {x.dtype}")
    return x


def check_tensor_out(out: Any, x: Any) -> None:
    """``out`` must be a tensor like the torch tensor ``x``: shape, dtype and device."""
    if not is_torch_tensor(out):
        raise TypeError(f"out must be a torch tensor like x, got {type(out).__name__}")
    if tuple(out.shape) != tuple(x.shape) or out.dtype != x.dtype or out.device != x.device:
        raise ValueError(
            f"out must match x in shape, dtype and device: x is {tuple(x.shape)} {x.dtype} on "
            f"{x.device}, out is {tuple(out.shape)} {out.dtype} on {out.device}"
        )


def check_out(out: Any, operand: Operand) -> None:
    """``out`` must have the input's kind, shape and dtype."""
    x = operand.original
    if is_torch_tensor(x) != is_torch_tensor(out):
        raise TypeError(f"out must be a {type(x).__name__} like x, got {type(out).__name__}")
    if tuple(out.shape) != tuple(x.shape) or out.dtype != x.dtype:
        raise ValueError(
            f"out must match x in shape and dtype: x is {tuple(x.shape)} {x.dtype}, "
            f"out is {tuple(out.shape)} {out.dtype}"
        )
    if is_torch_tensor(out) and out.device.type != "cpu":
        raise TypeError(f"out is on {out.device}; the Numba kernels write host memory only")


def deliver(result: np.ndarray, operand: Operand, out: Any) -> Any:
    """Return ``result`` (same shape as the operand, float32/64) as the user's type.

    With ``out`` given, ``result`` is copied into it unless it already is its memory.
    """
    x = operand.original
    if out is not None:
        if is_torch_tensor(out):
            torch = _torch()
            target = out.detach()
            if target.dtype in (torch.float32, torch.float64) and np.shares_memory(
                target.numpy(), result
            ):
                return out
            target.copy_(torch.from_numpy(np.ascontiguousarray(result)))
            return out
        if not np.shares_memory(out, result):
            np.copyto(out, result, casting="same_kind")
        return out
    if is_torch_tensor(x):
        torch = _torch()
        tensor = torch.from_numpy(result)
        return tensor if tensor.dtype == x.dtype else tensor.to(x.dtype)
    return result if result.dtype == x.dtype else result.astype(x.dtype)
