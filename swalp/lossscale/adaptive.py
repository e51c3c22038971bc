"""Adaptive layer-wise loss scaling (Zhao, Vogel, Chen, Luk, Constantinides: "Adaptive Loss
Scaling for Mixed Precision Training", arXiv:1910.12385, 2019), computed as the authors' code
``kumasento/gradient-scaling`` computes it. Files read (cited below by name):
``ada_loss/core.py`` (the ``AdaLoss`` base), ``ada_loss/chainer_impl/ada_loss_chainer.py``
(its Chainer implementation, the newest; ``ada_loss/chainer_impl/ada_loss.py`` is an older
copy), ``ada_loss/chainer_impl/functions/ada_loss_linear.py`` (where a layer applies it),
``ada_loss/chainer_impl/functions/ada_loss_branch.py`` (branch merges) and
``ada_loss/chainer_impl/ada_loss_scaled.py`` (the initial scale of the model's output).

In the backward pass of every Linear and Conv layer, the error ``g`` arriving at the layer's
output carries a scale ``S`` (the product of the scales of the layers after it: the
"previous scale", ``get_prev_scale``). The layer multiplies ``g`` by its own scale ``s``
before its backward-data GEMM, so the error leaving it carries ``S * s``:

1. statistics (``get_mean_and_std_of_product``, ``get_loss_scale_by_approx_range``):
   ``sigma_o = sqrt((sigma_g^2 + mu_g^2) (sigma_W^2 + mu_W^2)) * sqrt(K / 2)`` over all
   elements of ``g`` and of the weight ``W`` (population moments), ``K`` the GEMM's reduction
   length (their ``get_fan_in``: output features of a Linear, output channels x kernel taps of
   a convolution). The factor ``sqrt(K / 2)`` ("assuming the existence of ReLU") is in their
   newest code and not in the issue's summary nor in their older ``ada_loss.py``: it turns the
   spread of one product into that of a sum of ``K`` products, half of them zeroed by a ReLU.
2. ``s = u_min / (sqrt(2) erfinv(T_uf) sigma_o)`` with ``T_uf = 1e-3`` (``n_uf_threshold``)
   and ``u_min`` the error format's smallest positive value; ``s = 1`` when ``sigma_o = 0``.
3. ``s = max(s, 1)``, then the overflow bound ``s = min(s, u_max / K / (max|g| max|W|))``,
   ``u_max`` the format's largest finite value: no sum of ``K`` products can overflow. The
   bound comes after ``s >= 1`` in their code, so it wins: ``s`` may end below 1.
4. bounds (``bound_loss_scale_by_heuristics``): ``s = min(s, 1024 / S)`` (the carried scale
   ``S * s`` stays at most ``accum_upper_bound = 1024``: the cap relative to the previous
   scale) and ``s = min(s, 16)`` (``scale_upper_bound``).
5. rounded down to a power of two (``get_power_of_two_scale``).

Steps 1-3 are recomputed every ``every`` optimizer steps (``update_per_n_iteration``); in
between the stored result of step 3 is reused and steps 4-5 are redone with the current
``S``. The weight and bias gradients of the layer carry ``S``; they are divided by it after
the backward pass (their ``get_unscaled_gradient``; here the layer's GEMMs see ``g * s``
and the gradients are divided by ``S * s``: with power-of-two scales in float32 the bits are
the same). Layers with parameters that are neither Linear nor Conv (BatchNorm) pass the error
through unscaled and have their gradients divided by the ``S`` they see (their
``functions/ada_loss_batch_normalization.py``).

At a :class:`~swalp.lossscale.branch.Branch` the errors of the branches, with scales
``S_i``, are brought to one scale before they are summed (``rescaling``): with
``m = max_i max|g_i| / S_i``, the largest ``S_i`` with ``m * S_i < u_max``; if none, the
smallest ``S_i`` halved until ``m * S < u_max`` (down to 1/16); none at all is an error. As
with the layers, the target is recomputed every ``every`` steps and reused in between.

The model's output error starts at the scale ``init`` (``AdaLossScaled.init_scale``,
default 1). Differences from their code: errors that are already inf or NaN get ``s = 1``
and a branch passes them at its smallest scale (their code raises), so that the loss-scaling
step (:mod:`swalp.lossscale.step`) sees the overflow and skips the step; a branch with no
safe scale raises :class:`BranchOverflowError`, naming it. Statistics are computed in
float64 (theirs in float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from scipy.special import erfinv
from torch import nn

import lpformats
from swalp.lossscale.branch import Branch
from swalp.lossscale.scalers import DEFAULT_PATIENCE, LossScaler

#: Target fraction of underflowing products (``n_uf_threshold``).
T_UF = 1e-3
#: Largest scale of one layer (``scale_upper_bound``).
LAYER_CAP = 16.0
#: Largest carried scale (``accum_upper_bound``).
TOTAL_CAP = 1024.0
#: A branch's smallest fallback scale before it gives up (their loop stops below 1/8).
BRANCH_FLOOR = 1.0 / 16
SCALED_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class BranchOverflowError(ValueError):
    """No common scale keeps the errors meeting at a branch below the format's largest value."""


def error_range(fmt: str | lpformats.Format) -> tuple[float, float]:
    """``(u_min, u_max)``: the smallest positive and the largest finite value of an error
    format with a fixed range (a float format: its smallest subnormal, or smallest normal
    without subnormals; fixed point: its step).

    Raises:
        ValueError: fp32 (nothing underflows) or a block/MX format (each block's shared
            exponent follows the data, so scaling the errors cannot move them out of underflow).
    """
    parsed = lpformats.parse(fmt) if isinstance(fmt, str) else fmt
    if isinstance(parsed, lpformats.FloatFormat):
        if (parsed.exp, parsed.man) == (8, 23):
            raise ValueError("adaptive loss scaling: the errors are float32, nothing underflows; give role E "
                             "a low-precision float or fixed-point format")
        return (parsed.smallest_subnormal if parsed.subnormals else parsed.smallest_normal), parsed.max_value
    if isinstance(parsed, lpformats.FixedPoint):
        return parsed.step, parsed.max_value
    raise ValueError(f"adaptive loss scaling needs an error format with a fixed range (float or fixed "
                     f"point); {parsed} shares an exponent per block that follows the data, so it has no "
                     "underflow threshold to scale against")


def reduction_length(module: nn.Module) -> int:
    """``K``: products summed into one element of the module's backward-data GEMM (output
    features of a Linear; output channels per group x kernel taps of a convolution)."""
    weight = module.weight
    if isinstance(module, nn.Linear):
        return int(weight.shape[0])
    return int(weight.shape[0] // module.groups * math.prod(weight.shape[2:]))


def statistical_scale(error: torch.Tensor, weight: torch.Tensor, u_min: float, reduction: int,
                      t_uf: float = T_UF) -> float:
    """Steps 1-2 of the module docstring: ``u_min / (sqrt(2) erfinv(t_uf) sigma_o)``, or 1
    when ``sigma_o`` is 0."""
    g, w = error.detach().double(), weight.detach().double()
    second_moments = float(g.square().mean()) * float(w.square().mean())  # sigma^2 + mu^2 each
    sigma_o = math.sqrt(second_moments) * math.sqrt(0.5 * reduction)
    if sigma_o == 0:
        return 1.0
    return u_min / (math.sqrt(2.0) * float(erfinv(t_uf)) * sigma_o)


def overflow_bound(error: torch.Tensor, weight: torch.Tensor, u_max: float, reduction: int) -> float:
    """Largest scale with which no sum of ``reduction`` products ``g W`` exceeds ``u_max``
    (inf when ``g`` or ``W`` is zero)."""
    largest = float(error.detach().abs().max()) * float(weight.detach().abs().max())
    return math.inf if largest == 0 else u_max / reduction / largest


def unbound_scale(error: torch.Tensor, weight: torch.Tensor, u_min: float, u_max: float, reduction: int,
                  t_uf: float = T_UF) -> float:
    """Steps 1-3: ``min(max(statistical_scale, 1), overflow_bound)``."""
    return min(max(statistical_scale(error, weight, u_min, reduction, t_uf), 1.0),
               overflow_bound(error, weight, u_max, reduction))


def power_of_two_floor(value: float) -> float:
    """The largest power of two ``<= value`` (``value`` positive and finite)."""
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"a scale must be positive and finite, got {value!r}")
    _, exponent = math.frexp(value)  # value = mantissa * 2^exponent, mantissa in [0.5, 1)
    return math.ldexp(1.0, exponent - 1)


def layer_scale(raw: float, carried: float, layer_cap: float = LAYER_CAP,
                total_cap: float = TOTAL_CAP) -> float:
    """Steps 4-5: ``raw`` (steps 1-3) capped by ``total_cap / carried`` and ``layer_cap``,
    rounded down to a power of two."""
    return power_of_two_floor(min(raw, total_cap / carried, layer_cap))


def common_scale(largest_unscaled: float, scales: list[float], u_max: float) -> float:
    """The scale the errors meeting at a branch are brought to (module docstring):
    ``largest_unscaled`` is ``max_i max|g_i| / S_i``.

    Raises:
        BranchOverflowError: not even the smallest scale halved down to
            :data:`BRANCH_FLOOR` keeps them below ``u_max``.
    """
    for scale in sorted(scales, reverse=True):
        if largest_unscaled * scale < u_max:
            return scale
    scale = min(scales)
    while scale >= BRANCH_FLOOR and largest_unscaled * scale >= u_max:
        scale /= 2
    if largest_unscaled * scale >= u_max:
        raise BranchOverflowError(f"errors of largest unscaled magnitude {largest_unscaled:g} overflow "
                                  f"{u_max:g} at every scale down to {BRANCH_FLOOR:g}")
    return scale


def check_options(init: float = 1.0, every: int = 1, t_uf: float = T_UF, layer_cap: float = LAYER_CAP,
                  total_cap: float = TOTAL_CAP) -> None:
    """Refuse bad options of :class:`AdaptiveScaler` (a ``ValueError`` naming the option)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"adaptive loss scaling: every (steps between recomputations) must be an "
                         f"integer >= 1, got {every!r}")
    if not (isinstance(t_uf, (int, float)) and 0 < t_uf < 1):
        raise ValueError(f"adaptive loss scaling: t_uf (target underflow fraction) must be in (0, 1), "
                         f"got {t_uf!r}")
    for name, value in (("layer_cap", layer_cap), ("total_cap", total_cap)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 1):
            raise ValueError(f"adaptive loss scaling: {name} must be a finite number >= 1, got {value!r}")
    if not (isinstance(init, (int, float)) and init > 0 and math.isfinite(init)
            and power_of_two_floor(init) == init):
        raise ValueError(f"adaptive loss scaling: init must be a power of two > 0, got {init!r}")


@dataclass
class _Call:
    """One forward call of a scaled site: the scale its error leaves with (set in backward)."""

    site: str
    scale_out: float | None = None


@dataclass
class _Site:
    """What a layer or branch keeps across steps (checkpointed) and its latest backward."""

    raw: float | None = None  # layers: steps 1-3; branches: the common scale
    scale: float = 1.0  # its own factor in the latest backward
    carried: float = 1.0  # scale of the error leaving it in the latest backward
    updated_at: int = -1  # step of the latest backward
    kind: str = "layer"
    parameters: list[nn.Parameter] = field(default_factory=list)


#: Attribute of an autograd node (our functions' ctx) listing the calls that consume its outputs.
CONSUMERS = "adaptive_consumers"


class _ScaleErrors(torch.autograd.Function):
    """Identity forward at a layer's output; backward: the error times the layer's scale."""

    @staticmethod
    def forward(ctx, y, call, scaler):  # type: ignore[override]
        ctx.call, ctx.scaler = call, scaler
        setattr(ctx, CONSUMERS, {})
        return y.view_as(y)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        return ctx.scaler._scale_layer(ctx, g), None, None


class _Fork(torch.autograd.Function):
    """``count`` copies of ``x`` forward; backward: the copies' errors at a common scale, summed."""

    @staticmethod
    def forward(ctx, x, count, call, scaler):  # type: ignore[override]
        ctx.call, ctx.scaler = call, scaler
        setattr(ctx, CONSUMERS, {})
        return tuple(x.view_as(x) for _ in range(count))

    @staticmethod
    def backward(ctx, *grads):  # type: ignore[override]
        return ctx.scaler._merge(ctx, list(grads)), None, None, None


def _register_consumer(x: torch.Tensor, call: _Call) -> None:
    """Note ``call`` as a consumer of the nearest scale nodes upstream of ``x`` (walking the
    autograd graph through ops that pass the error's scale on unchanged)."""
    stack, seen = [(x.grad_fn, x.output_nr)], set()
    while stack:
        node, index = stack.pop()
        if node is None or (id(node), index) in seen:
            continue
        seen.add((id(node), index))
        consumers = getattr(node, CONSUMERS, None)
        if consumers is not None:
            consumers.setdefault(index, []).append(call)
            continue
        stack.extend(node.next_functions)


class AdaptiveScaler(LossScaler):
    """Adaptive layer-wise loss scaling (module docstring) for errors in format ``fmt``, a
    per-layer :class:`~swalp.lossscale.scalers.LossScaler`: :meth:`attach` installs it in a
    model, :meth:`gradient_scale` is the scale each parameter's gradient carries. A step whose
    gradients overflow is skipped (the scales are recomputed from the next step's errors); more
    than ``patience`` overflowing steps in a row stop the run (there is no lower scale to fall
    back to: the scaler is always at its floor).

    Args:
        fmt: the error format (role ``E``): ``u_min``/``u_max`` come from it (:func:`error_range`).
        init: scale of the loss (the output's error), a power of two > 0.
        every: recompute the statistics every ``every`` optimizer steps (>= 1).
        t_uf: target underflow fraction, in (0, 1).
        layer_cap, total_cap: the bounds of step 4 (>= 1).
        patience: consecutive overflowing steps tolerated.

    Raises:
        ValueError: a bad option or a format without a fixed range.
    """

    kind = "adaptive"
    per_layer = True

    def __init__(self, fmt: str | lpformats.Format, init: float = 1.0, every: int = 1, t_uf: float = T_UF,
                 layer_cap: float = LAYER_CAP, total_cap: float = TOTAL_CAP,
                 patience: int = DEFAULT_PATIENCE) -> None:
        super().__init__(patience)
        self.fmt = str(fmt)
        self.u_min, self.u_max = error_range(fmt)
        check_options(init=init, every=every, t_uf=t_uf, layer_cap=layer_cap, total_cap=total_cap)
        self.init, self.every, self.t_uf = float(init), every, float(t_uf)
        self.layer_cap, self.total_cap = float(layer_cap), float(total_cap)
        self.sites: dict[str, _Site] = {}
        self._site_of: dict[int, str] = {}  # id(parameter) -> site
        self._branch_names: dict[int, str] = {}  # id(Branch module) -> site
        self.model: nn.Module | None = None

    @property
    def loss_scale(self) -> float:
        return self.init

    @property
    def at_floor(self) -> bool:
        return True

    # -- installing -------------------------------------------------------------------------

    def attach(self, model: nn.Module) -> None:
        """Install the scaling in ``model``'s backward pass: a node at the output of every
        module that owns parameters (a scaling one for Linear/Conv, a pass-through one
        otherwise) and the merges of its :class:`Branch` modules.

        Raises:
            ValueError: already attached, or a module type whose backward GEMM it cannot size.
        """
        if self.model is not None:
            raise ValueError("this adaptive scaler is already attached to a model")
        for name, module in model.named_modules():
            if isinstance(module, Branch):
                module.scaling = self
                self.sites[name] = _Site(kind="branch")
                self._branch_names[id(module)] = name
                continue
            own = list(module.parameters(recurse=False))
            if not own:
                continue
            if isinstance(module, nn.modules.conv._ConvTransposeNd):
                raise ValueError(f"adaptive loss scaling: {name} is a transposed convolution, whose backward "
                                 "GEMM it does not size; not supported")
            kind = "layer" if isinstance(module, SCALED_TYPES) else "passthrough"
            self.sites[name] = _Site(kind=kind, parameters=own)
            for p in own:
                self._site_of[id(p)] = name
            module.register_forward_hook(self._hook(name), prepend=True)
        if not any(site.kind == "layer" for site in self.sites.values()):
            raise ValueError("adaptive loss scaling: the model has no Linear or Conv layer to scale")
        self.model = model

    def _hook(self, name: str):
        def wrap(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            if not (torch.is_grad_enabled() and isinstance(output, torch.Tensor) and output.requires_grad):
                return output
            call = _Call(name)
            for x in inputs:
                if isinstance(x, torch.Tensor) and x.requires_grad:
                    _register_consumer(x, call)
            return _ScaleErrors.apply(output, call, self)
        return wrap

    def fork(self, branch: Branch, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The outputs of ``branch`` (see :class:`~swalp.lossscale.branch.Branch`)."""
        call = _Call(self._branch_names[id(branch)])
        _register_consumer(x, call)
        return _Fork.apply(x, branch.count, call, self)

    # -- the backward pass ------------------------------------------------------------------

    def _incoming(self, node: Any, index: int, site: str) -> float:
        """Scale of the error arriving at output ``index`` of ``node``."""
        scales = {c.scale_out for c in getattr(node, CONSUMERS).get(index, []) if c.scale_out is not None}
        if len(scales) > 1:
            raise ValueError(f"adaptive loss scaling: errors with scales {sorted(scales)} meet at the output "
                             f"of {site}, which several layers use: mark the point with "
                             "swalp.lossscale.branch.Branch")
        return scales.pop() if scales else self.init

    def _updating(self, site: _Site) -> bool:
        return site.raw is None or self.steps % self.every == 0

    def _scale_layer(self, ctx: Any, g: torch.Tensor) -> torch.Tensor:
        name = ctx.call.site
        site = self.sites[name]
        carried = self._incoming(ctx, 0, name)
        scale = 1.0
        if site.kind == "layer" and bool(torch.isfinite(g).all()):
            module = self._module(name)
            if self._updating(site):
                site.raw = unbound_scale(g, module.weight, self.u_min, self.u_max, reduction_length(module),
                                         self.t_uf)
            scale = layer_scale(site.raw, carried, self.layer_cap, self.total_cap)
        site.scale, site.carried, site.updated_at = scale, carried * scale, self.steps
        ctx.call.scale_out = site.carried
        return g if scale == 1.0 else g * scale

    def _merge(self, ctx: Any, grads: list[torch.Tensor]) -> torch.Tensor:
        name = ctx.call.site
        site = self.sites[name]
        scales = [self._incoming(ctx, i, name) for i in range(len(grads))]
        largest = max(float(g.abs().max()) / s for g, s in zip(grads, scales, strict=True))
        if not math.isfinite(largest):
            target = min(scales)  # already overflowed: the step will be skipped
        elif self._updating(site):
            try:
                target = site.raw = common_scale(largest, scales, self.u_max)
            except BranchOverflowError as err:
                raise BranchOverflowError(
                    f"adaptive loss scaling, branch {name} at step {self.steps + 1}: {err}") from None
        else:
            target = site.raw
        site.scale, site.carried, site.updated_at = target, target, self.steps
        ctx.call.scale_out = target
        total = None
        for g, s in zip(grads, scales, strict=True):
            part = g if s == target else g * (target / s)
            total = part if total is None else total + part
        return total

    def _module(self, name: str) -> nn.Module:
        return self.model.get_submodule(name)

    # -- gradients, state, records ----------------------------------------------------------

    def gradient_scale(self, parameter: torch.Tensor) -> float:
        """The scale ``parameter``'s gradient carries after the latest backward pass (that of
        the error leaving its layer)."""
        name = self._site_of.get(id(parameter))
        if name is None:
            raise ValueError("adaptive loss scaling: this parameter is not in the attached model")
        return self.sites[name].carried

    def layer_scales(self) -> dict[str, dict[str, float]]:
        """Per site (module name): ``scale`` (its own factor) and ``carried`` (the scale of the
        error leaving it) in the latest backward pass."""
        return {name: {"scale": site.scale, "carried": site.carried} for name, site in self.sites.items()
                if site.kind != "passthrough"}

    def record(self) -> dict[str, Any]:
        """The loss scale and, per layer and branch, the latest backward pass's ``scale`` and
        ``carried`` scale (:meth:`layer_scales`): take it after the backward pass."""
        return {**super().record(), "layer_scales": self.layer_scales()}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(),
                "sites": {name: {"raw": s.raw, "scale": s.scale, "carried": s.carried,
                                 "updated_at": s.updated_at} for name, s in self.sites.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") == self.kind and set(state["sites"]) != set(self.sites):
            raise ValueError("the checkpoint's adaptive loss scaling covers other layers than this model's")
        super().load_state_dict(state)
        for name, values in state["sites"].items():
            site = self.sites[name]
            site.raw = None if values["raw"] is None else float(values["raw"])
            site.scale, site.carried = float(values["scale"]), float(values["carried"])
            site.updated_at = int(values["updated_at"])
