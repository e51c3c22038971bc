"""Executions of the quantizers' one semantic definition (``lpformats.rounding``,
``lpformats._elements``, ``lpformats._kernel``, ``lpformats.rng``):

* ``numba``: the parallel Numba kernels, on host memory (numpy arrays, CPU torch tensors);
* ``torch``: the same arithmetic as torch tensor operations, on any torch device (CUDA,
  CPU, ...), bit-identical to the Numba kernels, same stochastic draws for the same
  ``(seed, counter, element index)``.

``backend="auto"`` (the default of :func:`lpformats.quantize`, :func:`lpformats.encode`)
keeps the Numba kernels for numpy arrays and CPU tensors (faster there: see
``benchmarks/RESULTS.md``) and runs the torch backend for tensors on other devices.
"""

from __future__ import annotations

from typing import Any

from lpformats.arrays import is_torch_tensor

BACKENDS = ("auto", "numba", "torch")


def choose_backend(x: Any, backend: str, name: str = "x") -> str:
    """The execution (``"numba"`` or ``"torch"``) for input ``x`` under ``backend=``.

    Raises:
        ValueError: unknown ``backend``.
        TypeError: ``backend="numba"`` for a tensor outside host memory, or ``"torch"`` for
            something that is not a torch tensor.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    on_host = not is_torch_tensor(x) or x.device.type == "cpu"
    if backend == "auto":
        return "numba" if on_host else "torch"
    if backend == "numba" and not on_host:
        raise TypeError(f"backend='numba' runs on host memory; {name} is a torch tensor on "
                        f"{x.device}: use backend='torch' or 'auto'")
    if backend == "torch" and not is_torch_tensor(x):
        raise TypeError(f"backend='torch' needs a torch tensor; {name} is {type(x).__name__} "
                        "(wrap it with torch.from_numpy)")
    return backend
