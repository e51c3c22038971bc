"""Take an existing ``nn.Module`` low-precision without rewriting it: attach a
:class:`~swalp.quantizer.Quantizer` after every layer of chosen types, and one on the
model's input.

Each matching layer gets a child module ``output_quantizer`` and a forward hook that passes
the layer's output through it; the model gets ``input_quantizer`` and a forward pre-hook on
its first argument. Parameter names and ``state_dict`` keys do not change and
``print(model)`` shows where quantization happens.

The default placement is the SWALP paper's code (``vgg_low``, ``preresnet_low``): the output
of every activation function (and, with ``quantize_input``, the model's input), i.e. the input
of every convolution and linear layer; the backward pass quantizes the error arriving at each
of those points (role ``E``).
"""

from __future__ import annotations

from torch import nn

from swalp.quantizer import Quantizer, RandomStream
from swalp.roles import RoleSpec

#: Default layer types: activation functions, whose outputs feed the next GEMM.
DEFAULT_LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU)
QUANTIZER_NAME = "output_quantizer"
INPUT_QUANTIZER_NAME = "input_quantizer"


def insert_quantizers(
    model: nn.Module,
    activations: RoleSpec,
    errors: RoleSpec,
    stream: RandomStream,
    layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
    exclude: tuple[nn.Module, ...] = (),
    quantize_input: bool = False,
) -> list[Quantizer]:
    """Quantize the output of every submodule of ``model`` that is an instance of
    ``layer_types`` (A forward, E backward), except the modules in ``exclude`` (e.g. the final
    classifier, whose logits the paper's code leaves in full precision), and, with
    ``quantize_input``, the model's input (its first positional argument). Modifies ``model``.

    Returns:
        The inserted quantizers, the input's first, then in module order.

    Raises:
        ValueError: ``model`` already has quantizers inserted, ``layer_types`` is empty, or
            ``quantize_input`` with an ``nn.Sequential`` model (which would run the input
            quantizer as its last layer: quantize the input of its first layer instead, e.g.
            ``layer_types`` with ``exclude``, or wrap the model in a module).
    """
    if not layer_types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in layer_types):
        raise ValueError(f"layer_types must be a non-empty tuple of nn.Module classes, got {layer_types!r}")
    skip = {id(m) for m in exclude}
    targets = [m for m in model.modules() if isinstance(m, layer_types) and id(m) not in skip]
    if quantize_input and isinstance(model, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        raise ValueError(f"quantize_input needs a model whose forward does not run all its children; "
                         f"got a {type(model).__name__}")
    if hasattr(model, INPUT_QUANTIZER_NAME) or any(hasattr(m, QUANTIZER_NAME) for m in targets):
        raise ValueError("model already has quantizers inserted")
    inserted = []
    if quantize_input:
        quantizer = Quantizer(activations, errors, stream)
        model.add_module(INPUT_QUANTIZER_NAME, quantizer)
        model.register_forward_pre_hook(quantizer.input_hook)
        inserted.append(quantizer)
    for module in targets:
        quantizer = Quantizer(activations, errors, stream)
        module.add_module(QUANTIZER_NAME, quantizer)
        module.register_forward_hook(quantizer.output_hook)
        inserted.append(quantizer)
    return inserted
