"""Quantizing torch tensors by role: a deterministic random stream, the autograd function
that quantizes activations forward and errors backward, and the :class:`Quantizer` module.

All quantization goes through :func:`lpformats.quantize` on CPU tensors (zero-copy). Every
call draws a fresh ``counter`` from a :class:`RandomStream`, so stochastic rounding is a pure
function of ``(seed, number of calls so far)``: the same seed gives the same bits, and saving
the counter in a checkpoint makes a resumed run bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import torch
from torch import nn

import lpformats
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
    source = source if inplace else source.contiguous()
    counter = stream.next()
    try:
        return lpformats.quantize(
            source, fmt, spec.rounding, seed=stream.seed, counter=counter,
            out=source if inplace else None,
        )
    except ValueError as err:
        if torch.isnan(source).any():
            raise NonFiniteError(f"role {spec.role}: {err}") from None
        raise


class _QuantizeFunction(torch.autograd.Function):
    """Forward: quantize with the activation spec; backward: quantize the incoming error with
    the error spec (a straight-through estimator with a quantized gradient)."""

    @staticmethod
    def forward(ctx, x, forward_spec, backward_spec, stream):  # type: ignore[override]
        ctx.backward_spec = backward_spec
        ctx.stream = stream
        return quantize_tensor(x, forward_spec, stream)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return quantize_tensor(grad, ctx.backward_spec, ctx.stream), None, None, None


def quantize_activation(
    x: torch.Tensor, forward_spec: RoleSpec, backward_spec: RoleSpec, stream: RandomStream
) -> torch.Tensor:
    """Differentiable quantization: the value is ``x`` in ``forward_spec``'s format and the
    gradient flowing back is the incoming gradient in ``backward_spec``'s format."""
    if not forward_spec.enabled and not backward_spec.enabled:
        return x
    return _QuantizeFunction.apply(x, forward_spec, backward_spec, stream)


class Quantizer(nn.Module):
    """Quantizes activations (role ``A``) in the forward pass and errors (role ``E``) in the
    backward pass. ``enabled = False`` turns it into the identity (full-precision evaluation).

    Args:
        activations: spec of role ``A``.
        errors: spec of role ``E``.
        stream: shared random stream of the run.
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        return quantize_activation(x, self.activations, self.errors, self.stream)

    def extra_repr(self) -> str:
        return f"{self.activations}, {self.errors}"

    def output_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        """Forward hook: replaces ``module``'s output by its quantized value."""
        return self(output)


def set_quantizers_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every :class:`Quantizer` inside ``model`` on or off."""
    for module in model.modules():
        if isinstance(module, Quantizer):
            module.enabled = enabled


def share_stream(model: nn.Module, stream: RandomStream) -> None:
    """Point every :class:`Quantizer` inside ``model`` at ``stream`` (after a deep copy, which
    would otherwise give the copy its own stream)."""
    for module in model.modules():
        if isinstance(module, Quantizer):
            module.stream = stream
