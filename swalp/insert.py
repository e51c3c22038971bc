"""Take an existing ``nn.Module`` low-precision without rewriting it: attach a
:class:`~swalp.quantizer.Quantizer` after every layer of chosen types.

Each matching layer gets a child module ``output_quantizer`` and a forward hook that passes
the layer's output through it, so parameter names and ``state_dict`` keys do not change and
``print(model)`` shows where quantization happens.
"""

from __future__ import annotations

from torch import nn

from swalp.quantizer import Quantizer, RandomStream
from swalp.roles import RoleSpec

#: Default layer types: every GEMM's output (conv, linear) and every activation function's
#: output, so every input of a forward and backward GEMM is low precision.
DEFAULT_LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear, nn.ReLU)
QUANTIZER_NAME = "output_quantizer"


def insert_quantizers(
    model: nn.Module,
    activations: RoleSpec,
    errors: RoleSpec,
    stream: RandomStream,
    layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
    exclude: tuple[nn.Module, ...] = (),
) -> list[Quantizer]:
    """Quantize the output of every submodule of ``model`` that is an instance of
    ``layer_types`` (A forward, E backward), except the modules in ``exclude`` (e.g. the final
    classifier, whose logits the paper's code leaves in full precision). Modifies ``model``.

    Returns:
        The inserted quantizers, in module order.

    Raises:
        ValueError: ``model`` already has quantizers inserted, or ``layer_types`` is empty.
    """
    if not layer_types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in layer_types):
        raise ValueError(f"layer_types must be a non-empty tuple of nn.Module classes, got {layer_types!r}")
    skip = {id(m) for m in exclude}
    targets = [m for m in model.modules() if isinstance(m, layer_types) and id(m) not in skip]
    if any(hasattr(m, QUANTIZER_NAME) for m in targets):
        raise ValueError("model already has quantizers inserted")
    inserted = []
    for module in targets:
        quantizer = Quantizer(activations, errors, stream)
        module.add_module(QUANTIZER_NAME, quantizer)
        module.register_forward_hook(quantizer.output_hook)
        inserted.append(quantizer)
    return inserted
