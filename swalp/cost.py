"""Accelerator cost of one training step, from :mod:`accel_model`, and storage bits per element.

The step is traced from the full-precision model on one training batch (forward,
backward-data and backward-weight GEMMs plus the element-wise update work, with SWA averaging
every ``swa_cycle`` steps) and estimated on an accelerator preset with each role's format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from swalp.quantizer import Quantizer
from swalp.roles import RoleSpec

#: accel_model's names of our roles.
ACCEL_ROLES = {"W": "weights", "A": "activations", "E": "errors", "G": "gradients", "M": "state"}
DEFAULT_ACCELERATOR = "tpu_v1"


def accel_formats(specs: Mapping[str, RoleSpec]) -> tuple[dict[str, object], dict[str, str]]:
    """Formats and roundings of each role as accel_model expects them: parameter roles with the
    layout of a 2-D weight (per output channel under ``auto``), activation roles of a 4-D
    tensor; accumulators and the SWA average in fp32 (torch accumulates GEMMs in float32)."""
    formats: dict[str, object] = {"accumulators": "fp32", "average": "fp32"}
    rounding = {"accumulators": "nearest", "average": "nearest"}
    for role, name in ACCEL_ROLES.items():
        spec = specs[role]
        shape = (2, 2) if role in ("W", "G", "M") else (1, 1, 1, 1)
        formats[name] = spec.format_for(shape) if spec.enabled else "fp32"
        rounding[name] = "stochastic" if spec.enabled and spec.rounding == "stochastic" else "nearest"
    return formats, rounding


def quantized_shapes(model: nn.Module, example: torch.Tensor) -> list[tuple[int, ...]]:
    """Shapes of the tensors the :class:`~swalp.quantizer.Quantizer` modules of ``model`` round
    in one forward pass on ``example`` (run in eval mode with the quantizers bypassed, so
    nothing is drawn from the random stream; modes and switches are restored)."""
    quantizers = [m for m in model.modules() if isinstance(m, Quantizer)]
    shapes: list[tuple[int, ...]] = []
    hooks = [q.register_forward_pre_hook(lambda mod, inputs: shapes.append(tuple(inputs[0].shape)))
             for q in quantizers]
    enabled, training = [q.enabled for q in quantizers], model.training
    for q in quantizers:
        q.enabled = False
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        model.train(training)
        for q, on in zip(quantizers, enabled, strict=True):
            q.enabled = on
        for hook in hooks:
            hook.remove()
    return shapes


def bits_per_element(spec: RoleSpec, shapes: list[tuple[int, ...]]) -> float:
    """Mean storage bits per element of ``spec``'s role over tensors of ``shapes``, weighted
    by element count, shared exponents/scales included (32 for a full-precision role)."""
    if not spec.enabled:
        return 32.0
    total = bits = 0.0
    for shape in shapes:
        fmt = spec.format_for(shape)
        size = math.prod(shape)
        per = getattr(fmt, "bits_per_element", None)
        bits += (per(shape) if per is not None else fmt.bits) * size
        total += size
    return bits / total if total else float(spec.format_for((1,)).bits)


def step_cost(model: nn.Module, example: torch.Tensor, specs: Mapping[str, RoleSpec],
              swa_cycle: int | None, accelerator: str = DEFAULT_ACCELERATOR, *,
              loss_scaling: bool = False, adaptive_every: int | None = None) -> dict[str, object]:
    """Cost of one training step of ``model`` (full precision, no quantizers) on a batch like
    ``example``, with loss scaling's unscaling of the gradients as element-wise work when
    ``loss_scaling``, and adaptive layer-wise loss scaling's (statistics every ``adaptive_every``
    steps, see :func:`accel_model.training.adaptive_scaling_work`) when given: ``accelerator``,
    ``cycles_per_step``, ``energy_pj_per_step`` (picojoules),
    ``speedup_vs_fp32`` (fp32 cycles / ours) and ``energy_ratio_vs_fp32`` (fp32 energy / ours:
    how many times less energy than the same step in fp32), both as ``accel_model`` compares
    against its default ``fp32`` baseline, which ``baseline`` names: the same array with native
    fp32 MACs (not fp32 emulated by multi-pass int8 MACs)."""
    import accel_model

    workload = accel_model.Workload.from_torch(model, example, training=True, swa_cycle=swa_cycle,
                                               loss_scaling=loss_scaling, adaptive_every=adaptive_every)
    formats, rounding = accel_formats(specs)
    hardware = accel_model.Accelerator.preset(accelerator)
    if not any(spec.enabled for spec in specs.values()):
        hardware = hardware.native_fp32()  # a full-precision run runs on fp32 MACs: its own baseline
    report = accel_model.estimate(workload, hardware, formats=formats, rounding=rounding)
    compare = report.compare(baseline="fp32")
    return {
        "accelerator": accelerator,
        "baseline": compare.label,
        "cycles_per_step": float(report.total.total_cycles),
        "energy_pj_per_step": float(report.total.energy_pj),
        "speedup_vs_fp32": float(compare.total_speedup),
        "energy_ratio_vs_fp32": float(compare.total_energy_ratio),
    }


def _gradient_layers(model: nn.Module, example: torch.Tensor, tag: str) -> list:
    """The GEMMs of one gradient evaluation of ``model`` on a batch like ``example`` (forward,
    backward-data, backward-weight; no update), renamed ``<layer>.<tag>``."""
    import dataclasses

    import accel_model

    step = accel_model.Workload.from_torch(model, example, training=True)
    return [dataclasses.replace(layer, name=f"{layer.name}.{tag}") for layer in step.layers
            if layer.kind != "elementwise"]


def variance_reduced_step_cost(model: nn.Module, example: torch.Tensor, full_batch: torch.Tensor,
                               specs: Mapping[str, RoleSpec], period: int,
                               accelerator: str = DEFAULT_ACCELERATOR,
                               gradients_per_step: int = 2) -> dict[str, object]:
    """Cost of one inner step of SVRG or HALP with the outer loop amortised, as
    :func:`step_cost` reports it.

    One inner step: ``gradients_per_step`` gradient evaluations of the minibatch (``example``;
    SVRG and HALP as torchhalp computes them: at the iterate and at the anchor) and one update
    of the weights (element-wise work), at the run's formats. Every ``period`` inner steps the
    outer loop evaluates the full gradient at the anchor in fp32 (one gradient evaluation on
    ``full_batch``, the whole training set) on the same accelerator (an int8 array pays fp32's
    multi-pass MACs there); the step carries ``1 / period`` of it. The ``fp32`` baseline is the
    same step of full-precision SVRG on native fp32 MACs, so ``speedup_vs_fp32`` compares with
    fp32 SVRG. Extra keys: ``inner_cycles``, ``outer_cycles`` (one full-gradient pass),
    ``period``, ``gradients_per_step``."""
    import accel_model

    inner_step = accel_model.Workload.from_torch(model, example, training=True)
    updates = [layer for layer in inner_step.layers if layer.kind == "elementwise"]
    gradients = [g for k in range(gradients_per_step) for g in _gradient_layers(model, example, f"grad{k}")]
    inner = inner_step.with_layers(gradients + updates, suffix=".vr")
    outer = inner_step.with_layers(_gradient_layers(model, full_batch, "full"), suffix=".full_gradient")
    formats, rounding = accel_formats(specs)
    hardware = accel_model.Accelerator.preset(accelerator)
    if not any(spec.enabled for spec in specs.values()):
        hardware = hardware.native_fp32()
    full_precision = dict.fromkeys(formats, "fp32")
    ours_inner = accel_model.estimate(inner, hardware, formats=formats, rounding=rounding)
    ours_outer = accel_model.estimate(outer, hardware, formats=full_precision, rounding="nearest")
    base_inner, base_outer = (report.compare(baseline="fp32") for report in (ours_inner, ours_outer))

    def amortised(inner_total: object, outer_total: object, what: str) -> float:
        return float(getattr(inner_total, what)) + float(getattr(outer_total, what)) / period

    cycles = amortised(ours_inner.total, ours_outer.total, "total_cycles")
    energy = amortised(ours_inner.total, ours_outer.total, "energy_pj")
    base_cycles = amortised(base_inner.baseline.total, base_outer.baseline.total, "total_cycles")
    base_energy = amortised(base_inner.baseline.total, base_outer.baseline.total, "energy_pj")
    return {
        "accelerator": accelerator,
        "baseline": f"{base_inner.label}, full-precision SVRG's step",
        "cycles_per_step": cycles,
        "energy_pj_per_step": energy,
        "speedup_vs_fp32": base_cycles / cycles,
        "energy_ratio_vs_fp32": base_energy / energy,
        "inner_cycles": float(ours_inner.total.total_cycles),
        "outer_cycles": float(ours_outer.total.total_cycles),
        "period": period,
        "gradients_per_step": gradients_per_step,
    }
