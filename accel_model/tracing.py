"""Trace a ``torch.nn.Module`` into a :class:`Workload` of GEMMs (im2col, as SCALE-Sim maps convolutions).

The module runs once on the example input (under ``torch.no_grad``) with a ``TorchFunctionMode``
that records every GEMM-like call and forward pre-hooks that name it after the module running:

* ``conv1d``/``conv2d`` (stride, padding, dilation, groups): M = batch * output pixels,
  K = (C / groups) * kernel, N = out_channels / groups, ``repeat = groups`` (a depthwise
  convolution is ``C`` GEMMs with N = 1); ifmap elements = the unpadded input per group;
* ``linear``: M = rows of the input (all leading dims), K = in_features, N = out_features;
* ``matmul``/``mm``/``bmm``/``addmm``/``@``: M, K, N of the last two dims, ``repeat`` = the
  broadcast batch; the second operand has role ``weights`` when it is a ``Parameter``, else
  ``activations``.

Unsupported: calls to :data:`UNSUPPORTED_FUNCTIONS` and leaf modules with parameters of a type not
in :data:`NO_GEMM_MODULES` (e.g. ``LSTM``, ``ConvTranspose2d``, ``Conv3d``). They raise ValueError
listing every one by name and type, or with ``skip_unsupported=True`` are left out and listed in
``Workload.skipped`` (and in the report).
"""

from __future__ import annotations

import math
from typing import Any

from accel_model.workload import Layer, Workload

#: Leaf modules with parameters that do no GEMM work (their cost is not modelled).
NO_GEMM_MODULES = (
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "Embedding",
    "PReLU",
    "RMSNorm",
)
#: Torch functions with MACs that the tracer does not map to GEMMs.
UNSUPPORTED_FUNCTIONS = (
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "einsum",
    "tensordot",
    "scaled_dot_product_attention",
    "baddbmm",
    "addbmm",
    "bilinear",
    "lstm",
    "gru",
    "rnn_tanh",
    "rnn_relu",
)
SUPPORTED_MODULES = ("Conv1d", "Conv2d", "Linear", "NonDynamicallyQuantizableLinear")


def trace(module: Any, example_input: Any, *, skip_unsupported: bool = False) -> Workload:
    """The forward GEMMs of ``module`` on ``example_input`` (a tensor or a tuple of tensors)."""
    import torch
    from torch.overrides import TorchFunctionMode

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    if not all(isinstance(x, torch.Tensor) for x in inputs):
        raise TypeError("example_input must be a tensor or a tuple of tensors")

    stack: list[str] = []
    layers: list[Layer] = []
    unsupported: list[str] = []
    counts: dict[str, int] = {}
    bad_modules: set[str] = set()

    def name_for() -> str:
        base = stack[-1] if stack else type(module).__name__
        counts[base] = counts.get(base, 0) + 1
        return base if counts[base] == 1 else f"{base}.{counts[base] - 1}"

    def in_bad_module() -> bool:
        return any(s in bad_modules for s in stack)

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            fname = getattr(func, "__name__", str(func))
            if in_bad_module():
                return out
            if fname in UNSUPPORTED_FUNCTIONS:
                unsupported.append(f"{stack[-1] if stack else '<top>'} ({fname})")
            elif fname in ("conv1d", "conv2d"):
                layers.append(_conv(name_for(), args, kwargs, out))
            elif fname == "linear":
                layers.append(_linear(name_for(), args))
            elif fname in ("matmul", "mm", "bmm", "__matmul__", "addmm"):
                a, b = (args[1], args[2]) if fname == "addmm" else (args[0], args[1])
                layers.append(_matmul(name_for(), a, b))
            return out

    handles = []
    for qual, mod in module.named_modules():
        label = qual or type(module).__name__
        is_leaf = next(mod.children(), None) is None
        kind = type(mod).__name__
        known = kind in SUPPORTED_MODULES or kind in NO_GEMM_MODULES
        if is_leaf and not known and any(True for _ in mod.parameters(recurse=False)):
            bad_modules.add(label)
        handles.append(mod.register_forward_pre_hook(_push(stack, label)))
        handles.append(mod.register_forward_hook(_pop(stack)))
    seen_bad: list[str] = []
    try:
        with torch.no_grad(), Recorder():
            _run_with_bad_module_log(module, inputs, stack, bad_modules, seen_bad)
    finally:
        for h in handles:
            h.remove()
    problems = [f"{name} ({_type_of(module, name)})" for name in seen_bad] + unsupported
    if problems and not skip_unsupported:
        raise ValueError(
            "unsupported layers (pass skip_unsupported=True to leave them out): " + ", ".join(problems)
        )
    if not layers:
        raise ValueError(
            f"{type(module).__name__}: no conv/linear/matmul work found in the traced forward pass"
        )
    return Workload(layers, name=type(module).__name__, skipped=problems)


def _push(stack: list[str], label: str):
    def hook(mod, args):
        stack.append(label)

    return hook


def _pop(stack: list[str]):
    def hook(mod, args, out):
        stack.pop()

    return hook


def _run_with_bad_module_log(module, inputs, stack, bad_modules, seen_bad) -> None:
    handles = []
    for qual, mod in module.named_modules():
        label = qual or type(module).__name__
        if label in bad_modules:
            handles.append(mod.register_forward_pre_hook(lambda m, a, label=label: seen_bad.append(label)))
    try:
        module(*inputs)
    finally:
        for h in handles:
            h.remove()


def _type_of(module: Any, label: str) -> str:
    for qual, mod in module.named_modules():
        if (qual or type(module).__name__) == label:
            return type(mod).__name__
    return "?"


def _conv(name: str, args: tuple, kwargs: dict, out: Any) -> Layer:
    x, w = args[0], args[1]
    groups = kwargs.get("groups", args[6] if len(args) > 6 else 1)
    batch = x.shape[0] if x.dim() == w.dim() else 1
    channels = x.shape[-(w.dim() - 1)]
    spatial_in = math.prod(x.shape[-(w.dim() - 2) :])
    out_pixels = math.prod(out.shape[-(w.dim() - 2) :])
    kernel = math.prod(w.shape[2:])
    return Layer(
        name,
        M=batch * out_pixels,
        N=w.shape[0] // groups,
        K=(channels // groups) * kernel,
        repeat=groups,
        ifmap_elements=batch * spatial_in * (channels // groups),
        op="conv",
    )


def _linear(name: str, args: tuple) -> Layer:
    x, w = args[0], args[1]
    k = w.shape[1]
    return Layer(name, M=max(1, x.numel() // k), N=w.shape[0], K=k, op="linear")


def _matmul(name: str, a: Any, b: Any) -> Layer:
    import torch

    a_shape = (1, *a.shape) if a.dim() == 1 else tuple(a.shape)
    b_shape = (*b.shape, 1) if b.dim() == 1 else tuple(b.shape)
    batch = torch.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    role = "weights" if isinstance(b, torch.nn.Parameter) else "activations"
    return Layer(
        name,
        M=a_shape[-2],
        N=b_shape[-1],
        K=a_shape[-1],
        repeat=max(1, math.prod(batch)),
        filter_role=role,
        op="matmul",
    )
