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

An activation followed by a max pool in an ``nn.Sequential`` is quantized after the pool
instead: the same values for deterministic rounding (rounding is monotone and the pool keeps
the block's largest magnitude, hence its shared exponent), errors identically distributed
under stochastic rounding, fewer elements to round.
"""

from __future__ import annotations

import itertools

from torch import nn

from swalp.quantizer import Quantizer, RandomStream
from swalp.roles import RoleSpec

#: Default layer types: activation functions, whose outputs feed the next GEMM.
DEFAULT_LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU)
QUANTIZER_NAME = "output_quantizer"
INPUT_QUANTIZER_NAME = "input_quantizer"
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)


def quantizer_targets(model: nn.Module, layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
                      exclude: tuple[nn.Module, ...] = ()) -> list[nn.Module]:
    """The modules whose outputs :func:`insert_quantizers` quantizes, in module order: each
    instance of ``layer_types`` not in ``exclude``, or the max pool that an ``nn.Sequential``
    runs right after it."""
    skip = {id(m) for m in exclude}
    successor = {}
    for container in model.modules():
        if isinstance(container, nn.Sequential):
            successor.update({id(a): b for a, b in itertools.pairwise(container)})
    return [successor[id(m)] if isinstance(successor.get(id(m)), MAX_POOLS) else m
            for m in model.modules() if isinstance(m, layer_types) and id(m) not in skip]


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
    ``layer_types`` (A forward, E backward; after the max pool that follows it, if one does),
    except the modules in ``exclude`` (e.g. the final
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
    targets = quantizer_targets(model, layer_types, exclude)
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
