"""The work of one training step, derived from a forward workload.

For every forward GEMM ``Y = X @ W`` (sizes M x K times K x N, in network order):

* ``<name>.bwd_data``: ``dX = dY @ W^T``, a GEMM (M, N=K, K=N) of errors x weights -> errors;
  left out for the first GEMM of the network (its input needs no gradient);
* ``<name>.bwd_weight``: ``dW = X^T @ dY``, a GEMM (M=K, N, K=M) of activations x errors ->
  gradients. When both operands of the forward GEMM are activations (``matmul`` of two tensors,
  e.g. attention) it is a second ``bwd_data`` producing errors for the other operand instead;
* per weight tensor (K*N*repeat elements), element-wise: ``<name>.update`` (SGD with momentum:
  reads W, G, M, writes W, M), ``<name>.quantize_w`` and ``<name>.quantize_m`` (rounding the
  updated weights and optimizer state to their formats) and, with ``swa_cycle = c``,
  ``<name>.swa`` (SWA averaging, on 1 step in c).

Backward GEMMs come in reverse layer order, then the element-wise work. Quantization of
activations, errors and gradients is charged where those tensors are produced (the output
rounding of each GEMM, see ``estimate``). Biases, normalization and activation functions are not
modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accel_model.workload import Layer

if TYPE_CHECKING:
    from accel_model.workload import Workload


def backward_gemms(layer: Layer, first: bool) -> list[Layer]:
    """Backward GEMMs of forward GEMM ``layer`` (``first``: the network's first GEMM)."""
    out = []
    if not first:
        out.append(
            Layer(
                f"{layer.name}.bwd_data",
                M=layer.M,
                N=layer.K,
                K=layer.N,
                kind="backward_data",
                repeat=layer.repeat,
                ifmap_elements=layer.ofmap_elements,
                filter_elements=layer.filter_elements,
                ifmap_role="errors",
                filter_role=layer.filter_role,
                ofmap_role="errors",
                op=layer.op,
            )
        )
    if layer.filter_role == "weights":
        out.append(
            Layer(
                f"{layer.name}.bwd_weight",
                M=layer.K,
                N=layer.N,
                K=layer.M,
                kind="backward_weight",
                repeat=layer.repeat,
                ifmap_elements=layer.ifmap_elements,
                filter_elements=layer.ofmap_elements,
                ifmap_role="activations",
                filter_role="errors",
                ofmap_role="gradients",
                op=layer.op,
            )
        )
    else:
        out.append(
            Layer(
                f"{layer.name}.bwd_data_b",
                M=layer.K,
                N=layer.N,
                K=layer.M,
                kind="backward_data",
                repeat=layer.repeat,
                ifmap_elements=layer.ifmap_elements,
                filter_elements=layer.ofmap_elements,
                ifmap_role=layer.ifmap_role,
                filter_role="errors",
                ofmap_role="errors",
                op=layer.op,
            )
        )
    return out


def update_work(layer: Layer, swa_cycle: int | None) -> list[Layer]:
    """Element-wise work on the weight tensor of ``layer`` (none when it has no weights)."""
    if layer.filter_role != "weights":
        return []
    n = layer.filter_elements * layer.repeat
    out = [
        Layer(
            f"{layer.name}.update",
            kind="elementwise",
            op="update",
            elements=n,
            reads=("weights", "gradients", "state"),
            writes=("weights", "state"),
        ),
        Layer(
            f"{layer.name}.quantize_w", kind="elementwise", op="quantize", elements=n, ofmap_role="weights"
        ),
        Layer(f"{layer.name}.quantize_m", kind="elementwise", op="quantize", elements=n, ofmap_role="state"),
    ]
    if swa_cycle is not None:
        out.append(
            Layer(
                f"{layer.name}.swa",
                kind="elementwise",
                op="swa",
                elements=n,
                reads=("weights", "average"),
                writes=("average",),
                per_step=1.0 / swa_cycle,
            )
        )
    return out


def unscale_work(layer: Layer) -> list[Layer]:
    """Loss scaling's element-wise work on the weight gradient of ``layer`` (none when it has no
    weights): each element multiplied by 1/S and checked for inf/NaN."""
    if layer.filter_role != "weights":
        return []
    return [Layer(f"{layer.name}.unscale", kind="elementwise", op="unscale",
                  elements=layer.filter_elements * layer.repeat, reads=("gradients",), writes=("gradients",))]


def adaptive_scaling_work(layer: Layer, every: int) -> list[Layer]:
    """Adaptive layer-wise loss scaling's element-wise work at ``layer`` (none when it has no
    weights; Zhao et al. 2019, see ``swalp.lossscale.adaptive``): each step the error arriving
    at its output (M x N elements per repetition) multiplied by the layer's scale (``scale``);
    on 1 step in ``every``, the sum of squares and the largest magnitude of that error and of
    the weights (``moments``), from which the scale is computed (a few scalar operations, not
    counted). Merges of branches (residual sums) are not modelled, like the sums themselves."""
    if layer.filter_role != "weights":
        return []
    errors = layer.ofmap_elements * layer.repeat
    weights = layer.filter_elements * layer.repeat
    return [
        Layer(f"{layer.name}.scale_errors", kind="elementwise", op="scale", elements=errors,
              reads=("errors",), writes=("errors",)),
        Layer(f"{layer.name}.error_moments", kind="elementwise", op="moments", elements=errors,
              reads=("errors",), per_step=1.0 / every),
        Layer(f"{layer.name}.weight_moments", kind="elementwise", op="moments", elements=weights,
              reads=("weights",), per_step=1.0 / every),
    ]


def training_step(workload: Workload, swa_cycle: int | None = None, loss_scaling: bool = False,
                  adaptive_every: int | None = None) -> Workload:
    """One training step of forward ``workload``: forward, backward GEMMs, element-wise updates.

    ``swa_cycle``: SWA averages the weights every ``swa_cycle`` steps (an int >= 1), or None.
    ``loss_scaling``: the gradients are unscaled and checked before the update
    (:func:`unscale_work`; the scaling of the loss itself is one multiply, not counted).
    ``adaptive_every``: adaptive layer-wise loss scaling with its statistics recomputed every
    ``adaptive_every`` steps (:func:`adaptive_scaling_work`; implies ``loss_scaling``), or None.
    """
    if swa_cycle is not None and (
        isinstance(swa_cycle, bool) or not isinstance(swa_cycle, int) or swa_cycle < 1
    ):
        raise ValueError(
            f"swa_cycle must be an int >= 1 (steps between SWA averages) or None, got {swa_cycle!r}"
        )
    if adaptive_every is not None and (
        isinstance(adaptive_every, bool) or not isinstance(adaptive_every, int) or adaptive_every < 1
    ):
        raise ValueError(f"adaptive_every must be an int >= 1 (steps between recomputed statistics) or None, "
                         f"got {adaptive_every!r}")
    forward = [x for x in workload.layers if x.kind == "forward"]
    if len(forward) != len(workload.layers):
        raise ValueError("training_step needs a forward-only workload (it already holds backward work)")
    backward: list[Layer] = []
    for i in reversed(range(len(forward))):
        backward.extend(backward_gemms(forward[i], first=i == 0))
    updates = [u for layer in forward for u in update_work(layer, swa_cycle)]
    if loss_scaling or adaptive_every is not None:
        updates = [u for layer in forward for u in unscale_work(layer)] + updates
    if adaptive_every is not None:
        backward += [u for layer in reversed(forward) for u in adaptive_scaling_work(layer, adaptive_every)]
    return workload.with_layers(forward + backward + updates, suffix=".train")
