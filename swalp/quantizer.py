"""Quantizing torch tensors by role: a deterministic random stream, the autograd function
that quantizes activations forward and errors backward, and the :class:`Quantizer` module.

All quantization goes through :func:`lpformats.quantize` (CPU tensors: the Numba kernels,
zero-copy; tensors on other devices: the torch backend, same bits, no host copies). Every
call draws a fresh ``counter`` from a :class:`RandomStream`, so stochastic rounding is a pure
function of ``(seed, number of calls so far)``: the same seed gives the same bits, and saving
the counter in a checkpoint makes a resumed run bit-identical to an uninterrupted one.

NaN in a tensor whose format has no NaN raises :class:`NonFiniteError`: on CPU at once; on
other devices, where an immediate check would stop the host at every call until the device
caught up, the NaN is mapped to zero and recorded in :attr:`RandomStream.nan_seen` (on the
device), and :meth:`RandomStream.raise_if_nan_seen` raises once the caller checks (the
training loop: at the end of each epoch).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

import lpformats
from lpformats.quantize import nan_policy
from swalp.roles import RoleSpec


class NonFiniteError(ValueError):
    """A tensor to quantize holds NaN (training diverged)."""


class RandomStream:
    """Seed and call counter for stochastic rounding.

    Args:
        seed: non-negative integer; the run's seed.
        counter: calls made so far (restore it from a checkpoint to continue a stream).
    """

    def __init__(self, seed: int, counter: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
            raise ValueError(f"counter must be a non-negative integer, got {counter!r}")
        self.seed = seed
        self.counter = counter
        self.nan_seen: torch.Tensor | None = None
        self.nan_roles: set[str] = set()

    def record_nan(self, x: torch.Tensor, role: str) -> None:
        """Note (on ``x``'s device, without waiting for it) whether ``x`` holds NaN."""
        seen = torch.isnan(x).any()
        self.nan_seen = seen if self.nan_seen is None else self.nan_seen | seen
        self.nan_roles.add(role)

    def raise_if_nan_seen(self) -> None:
        """Raise :class:`NonFiniteError` if a tensor recorded by :meth:`record_nan` held NaN
        (waits for the device); then start recording afresh."""
        seen, self.nan_seen = self.nan_seen, None
        if seen is not None and bool(seen):
            roles = "/".join(sorted(self.nan_roles))
            raise NonFiniteError(f"role {roles}: a tensor to quantize held NaN, and its format has none")
        self.nan_roles = set()

    def next(self) -> int:
        """The counter for the next quantize call (then advances)."""
        value = self.counter
        self.counter += 1
        return value

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "counter": self.counter}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed = int(state["seed"])
        self.counter = int(state["counter"])


def quantize_tensor(
    x: torch.Tensor, spec: RoleSpec, stream: RandomStream, *, inplace: bool = False
) -> torch.Tensor:
    """``x`` rounded to ``spec``'s format for its shape (see :meth:`RoleSpec.format_for`).

    Args:
        x: float32/float64 CPU tensor; not modified unless ``inplace``.
        spec: the role's format, rounding and layout; a disabled (``fp32``) spec returns ``x``.
        stream: supplies the stochastic-rounding seed and a fresh counter.
        inplace: write the result into ``x`` (which must be contiguous) and return it.

    Raises:
        NonFiniteError: ``x`` holds NaN and the format has none.
    """
    if not spec.enabled:
        return x
    fmt = spec.format_for(tuple(x.shape))
    source = x.detach()
    if inplace and not source.is_contiguous():
        raise ValueError("x must be contiguous to be quantized in place")
    result = _quantize_as(source if inplace else source.contiguous(), fmt, spec.rounding, spec.role, stream)
    return source.copy_(result) if inplace else result


#: Block rows up to this length are zero-padded to it and stacked together (zeros change
#: neither a block's largest magnitude nor round to anything but zero).
SHORT_ROW = 64


@functools.lru_cache(maxsize=256)
def _one_row(fmt: lpformats.BlockFloat) -> lpformats.BlockFloat:
    """``fmt`` with one shared exponent per row (cached: a replace costs microseconds)."""
    return dataclasses.replace(fmt, block_axis=0)


def _row_view(x: torch.Tensor, fmt: lpformats.Format) -> tuple[torch.Tensor, tuple] | None:
    """``x`` as a 2-D view whose rows are whole blocks of ``fmt`` (one shared exponent per
    row), or a 1-D view for element-wise formats, and the key of the tensors it can be stacked
    with: ``(format of the stack, row length or None)``; None when its blocks are not rows."""
    if isinstance(fmt, lpformats.BlockFloat) and fmt.block_size is None:
        if fmt.block_axis is None:
            rows, fmt = x.view(1, -1), _one_row(fmt)
        elif fmt.block_axis == 0 and x.dim() >= 2:
            rows = x.view(x.shape[0], -1)
        else:
            return None
        return rows, (fmt, max(rows.shape[1], SHORT_ROW))
    if isinstance(fmt, (lpformats.FixedPoint, lpformats.FloatFormat)):
        return x.view(-1), (fmt, None)
    return None


def quantize_tensors(items: Sequence[tuple[torch.Tensor, RoleSpec]], stream: RandomStream) -> None:
    """Round every tensor of ``items`` (contiguous float32 tensors, e.g. parameters, gradients,
    momentum buffers, each with its role's spec) in place to its spec's format for its shape,
    with the blocks and shared exponents that :func:`quantize_tensor` would use one by one, in
    fewer calls: tensors whose specs round alike and whose blocks are rows of the same length
    (rows up to :data:`SHORT_ROW` zero-padded to it), or whose format is element-wise, are
    stacked and rounded together, each group drawing one counter (so stochastic draws differ
    from one-by-one rounding).

    Raises:
        NonFiniteError: a tensor holds NaN and the format has none.
    """
    groups: dict[tuple, list[tuple[torch.Tensor, torch.Tensor, RoleSpec]]] = {}
    for x, spec in items:
        if not spec.enabled:
            continue
        if not x.is_contiguous():
            raise ValueError(f"role {spec.role}: tensors must be contiguous to be quantized in place")
        rows = _row_view(x.detach(), spec.format_for(tuple(x.shape)))
        if rows is None:
            quantize_tensor(x, spec, stream, inplace=True)
            continue
        view, (fmt, length) = rows
        groups.setdefault((fmt, length, spec.rounding), []).append((x, view, spec))
    for (fmt, length, rounding), members in groups.items():
        if len(members) == 1:
            quantize_tensor(members[0][0], members[0][2], stream, inplace=True)
            continue
        roles = "/".join(sorted({spec.role for _, _, spec in members}))
        parts = [v if length is None else nn.functional.pad(v, (0, length - v.shape[1]))
                 for _, v, _ in members]
        stacked = _quantize_as(torch.cat(parts), fmt, rounding, roles, stream)
        offset = 0
        for _, view, _ in members:
            view.copy_(stacked[offset:offset + len(view)] if length is None
                       else stacked[offset:offset + len(view), :view.shape[1]])
            offset += len(view)


def _quantize_as(x: torch.Tensor, fmt: lpformats.Format, rounding: str, role: str,
                 stream: RandomStream) -> torch.Tensor:
    """``x`` (contiguous) rounded to the concrete format ``fmt``, as a new tensor. ``role``
    names the tensor's role in errors."""
    counter = stream.next()
    if x.device.type != "cpu" and nan_policy(None, fmt) == "raise":
        stream.record_nan(x, role)
        return lpformats.quantize(x, fmt, rounding, seed=stream.seed, counter=counter, nan="zero")
    try:
        return lpformats.quantize(x, fmt, rounding, seed=stream.seed, counter=counter)
    except ValueError as err:
        if torch.isnan(x).any():
            raise NonFiniteError(f"role {role}: {err}") from None
        raise


#: Called in the backward pass with the incoming error and its rounded value (see
#: :attr:`Quantizer.error_observer`).
ErrorObserver = Callable[[torch.Tensor, torch.Tensor], None]


class _QuantizeFunction(torch.autograd.Function):
    """Forward: quantize with the activation spec; backward: quantize the incoming error with
    the error spec (a straight-through estimator with a quantized gradient), then show both
    to the observer, if any."""

    @staticmethod
    def forward(ctx, x, forward_spec, backward_spec, stream, observer):  # type: ignore[override]
        ctx.backward_spec = backward_spec
        ctx.stream = stream
        ctx.observer = observer
        return quantize_tensor(x, forward_spec, stream)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        rounded = quantize_tensor(grad, ctx.backward_spec, ctx.stream)
        if ctx.observer is not None:
            ctx.observer(grad, rounded)
        return rounded, None, None, None, None


def quantize_activation(
    x: torch.Tensor, forward_spec: RoleSpec, backward_spec: RoleSpec, stream: RandomStream,
    observer: ErrorObserver | None = None,
) -> torch.Tensor:
    """Differentiable quantization: the value is ``x`` in ``forward_spec``'s format and the
    gradient flowing back is the incoming gradient in ``backward_spec``'s format; ``observer``
    (if given) sees each incoming gradient and its rounded value."""
    if not forward_spec.enabled and not backward_spec.enabled:
        return x
    return _QuantizeFunction.apply(x, forward_spec, backward_spec, stream, observer)


class Quantizer(nn.Module):
    """Quantizes activations (role ``A``) in the forward pass and errors (role ``E``) in the
    backward pass. ``enabled = False`` turns it into the identity (full-precision evaluation).

    Args:
        activations: spec of role ``A``.
        errors: spec of role ``E``.
        stream: shared random stream of the run.

    Attributes:
        error_observer: None, or a callable ``(error, rounded_error)`` run in the backward
            pass after the error is rounded (per-layer statistics,
            :class:`swalp.lossscale.stats.ErrorStatistics`); it must not modify its arguments.
    """

    def __init__(self, activations: RoleSpec, errors: RoleSpec, stream: RandomStream) -> None:
        super().__init__()
        if activations.role != "A" or errors.role != "E":
            raise ValueError(
                f"Quantizer needs specs of roles A and E, got {activations.role} and {errors.role}"
            )
        self.activations = activations
        self.errors = errors
        self.stream = stream
        self.enabled = True
        self.error_observer: ErrorObserver | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        return quantize_activation(x, self.activations, self.errors, self.stream, self.error_observer)

    def extra_repr(self) -> str:
        return f"{self.activations}, {self.errors}"

    def output_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        """Forward hook: replaces ``module``'s output by its quantized value."""
        return self(output)

    def input_hook(self, module: nn.Module, inputs: tuple) -> tuple:
        """Forward pre-hook: replaces ``module``'s first positional input by its quantized value."""
        return (self(inputs[0]), *inputs[1:]) if inputs else inputs


def set_quantizers_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every :class:`Quantizer` inside ``model`` on or off."""
    for module in model.modules():
        if isinstance(module, Quantizer):
            module.enabled = enabled


def share_stream(model: nn.Module, stream: RandomStream) -> None:
    """Point every module inside ``model`` that draws random numbers from a stream (a
    :class:`Quantizer`, or a module with ``draws_from_stream = True`` such as
    :class:`swalp.dropout.Dropout`) at ``stream``: a model's own, or, after a deep copy, the
    stream the copy should share instead of its own."""
    for module in model.modules():
        if isinstance(module, Quantizer) or getattr(module, "draws_from_stream", False):
            module.stream = stream
