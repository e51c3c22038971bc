"""Take an existing ``nn.Module`` low-precision without rewriting it: attach a
:class:`~swalp.quantizer.Quantizer` after every layer of chosen types (or after chosen
modules), and one on the model's input.

Each quantized module gets a child module ``output_quantizer`` and a forward hook that passes
the module's output through it; the model gets ``input_quantizer`` and a forward pre-hook on
its first argument. Parameter names and ``state_dict`` keys do not change and
``print(model)`` shows where quantization happens.

The default placement is the SWALP paper's code (``stevenygd/SWALP`` ``models/vgg_low.py``):
the output of every activation function, i.e. the input of the next convolution, linear
layer or max pool; the backward pass quantizes the error arriving at each of those points
(role ``E``). The paper's models name their own points (:func:`quantization_points`).

``pool_first=True`` moves the quantizer of an activation that a max pool follows (in an
``nn.Sequential``) after the pool, rounding 4x fewer elements. It is exact only for
deterministic rounding: rounding is monotone, so ``pool(Q(x)) == Q(pool(x))`` when the pool
keeps every block's largest magnitude (element-wise formats, or one shared exponent per
tensor or per sample, with pooling windows that tile the input). Under stochastic rounding it
is not: the max of independently rounded values is biased upward (``E[max(Q(a), Q(b))] >=
max(a, b)``), so it is refused. In the backward pass the two placements give the same errors
except where rounding ties a pooling window, whose gradient then goes to the window's largest
unrounded value rather than to the first of the tied rounded ones (both are subgradients).
"""

from __future__ import annotations

import itertools

from torch import nn

import lpformats
from swalp.quantizer import Quantizer, RandomStream
from swalp.roles import RoleSpec

#: Default layer types: activation functions, whose outputs feed the next GEMM.
DEFAULT_LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU)
QUANTIZER_NAME = "output_quantizer"
INPUT_QUANTIZER_NAME = "input_quantizer"
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)


def _check_pool_first(activations: RoleSpec, errors: RoleSpec) -> None:
    """``pool_first`` must be exact for these specs (see the module docstring)."""
    for spec in (activations, errors):
        if not spec.enabled:
            continue
        if spec.rounding == "stochastic":
            raise ValueError(f"pool_first is exact only for deterministic rounding, but role {spec.role} "
                             "rounds stochastically (the max pool of stochastically rounded values is biased "
                             "upward); quantize before the pool (pool_first=False)")
        fmt = spec.format_for((2, 1, 2, 2))
        keeps_blocks = isinstance(fmt, (lpformats.FixedPoint, lpformats.FloatFormat)) or (
            isinstance(fmt, lpformats.BlockFloat) and fmt.block_size is None and fmt.block_axis in (None, 0))
        if not keeps_blocks:
            raise ValueError(f"pool_first needs an element-wise format or one shared exponent per tensor or "
                             f"per sample; role {spec.role} has {fmt} (layout {spec.layout}), whose blocks a "
                             "pool would change")


def _tiles(pool: nn.Module) -> bool:
    """True when ``pool``'s windows do not overlap and leave nothing out but a ragged edge."""
    def size(v):
        return v if isinstance(v, tuple) else (v,)
    return (size(pool.kernel_size) == size(pool.stride) and set(size(pool.padding)) == {0}
            and set(size(pool.dilation)) == {1} and not pool.ceil_mode)


def _after_pools(model: nn.Module, modules: list[nn.Module]) -> list[nn.Module]:
    """``modules`` with each one that an ``nn.Sequential`` of ``model`` runs right before a max
    pool replaced by that pool."""
    successor = {}
    for container in model.modules():
        if isinstance(container, nn.Sequential):
            successor.update({id(a): b for a, b in itertools.pairwise(container)})
    return [successor[id(m)] if isinstance(successor.get(id(m)), MAX_POOLS) else m for m in modules]


def quantizer_targets(model: nn.Module, layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
                      exclude: tuple[nn.Module, ...] = (), pool_first: bool = False) -> list[nn.Module]:
    """The modules whose outputs :func:`insert_quantizers` quantizes, in module order: each
    instance of ``layer_types`` not in ``exclude`` (with ``pool_first``, the max pool that an
    ``nn.Sequential`` runs right after it instead)."""
    skip = {id(m) for m in exclude}
    chosen = [m for m in model.modules() if isinstance(m, layer_types) and id(m) not in skip]
    return _after_pools(model, chosen) if pool_first else chosen


def quantization_points(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs training quantizes: the model's own ``quantized_modules()``
    when it has one (the paper's models: the authors' placement), else every activation
    function except inside a ``classifier`` attribute that is a single layer."""
    own = getattr(model, "quantized_modules", None)
    if callable(own):
        return list(own())
    classifier = getattr(model, "classifier", None)
    return quantizer_targets(model, exclude=(classifier,) if isinstance(classifier, nn.Module) else ())


def insert_quantizers(
    model: nn.Module,
    activations: RoleSpec,
    errors: RoleSpec,
    stream: RandomStream,
    layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
    exclude: tuple[nn.Module, ...] = (),
    quantize_input: bool = False,
    *,
    targets: list[nn.Module] | None = None,
    pool_first: bool = False,
) -> list[Quantizer]:
    """Quantize the output of every submodule of ``model`` that is an instance of
    ``layer_types`` (A forward, E backward), except the modules in ``exclude`` (e.g. the final
    classifier, whose logits the paper's code leaves in full precision), or of the modules
    ``targets`` names (e.g. :func:`quantization_points`), and, with ``quantize_input``, the
    model's input (its first positional argument). With ``pool_first``, a target that a max
    pool follows is quantized after the pool (see the module docstring). Modifies ``model``.

    Returns:
        The inserted quantizers, the input's first, then in module order (``targets``' order).

    Raises:
        ValueError: ``model`` already has quantizers inserted, ``layer_types`` is empty,
            ``targets`` together with ``layer_types``/``exclude``, ``pool_first`` where it
            would not be exact (stochastic rounding, blocks that a pool changes, overlapping
            pool windows; at run time, an input the windows do not tile), or
            ``quantize_input`` with an ``nn.Sequential`` model (which would run the input
            quantizer as its last layer: quantize the input of its first layer instead, e.g.
            ``layer_types`` with ``exclude``, or wrap the model in a module).
    """
    if not layer_types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in layer_types):
        raise ValueError(f"layer_types must be a non-empty tuple of nn.Module classes, got {layer_types!r}")
    if targets is not None and (layer_types != DEFAULT_LAYER_TYPES or exclude):
        raise ValueError("give targets or layer_types/exclude, not both")
    if pool_first:
        _check_pool_first(activations, errors)
    if targets is None:
        targets = quantizer_targets(model, layer_types, exclude, pool_first)
    elif pool_first:
        targets = _after_pools(model, list(targets))
    if quantize_input and isinstance(model, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        raise ValueError(f"quantize_input needs a model whose forward does not run all its children; "
                         f"got a {type(model).__name__}")
    if hasattr(model, INPUT_QUANTIZER_NAME) or any(hasattr(m, QUANTIZER_NAME) for m in targets):
        raise ValueError("model already has quantizers inserted")
    pools = [m for m in targets if isinstance(m, MAX_POOLS)] if pool_first else []
    for pool in pools:
        if not _tiles(pool):
            raise ValueError(f"pool_first needs max pools whose windows tile the input (kernel = stride, no "
                             f"padding, dilation or ceil_mode); got {pool}")
    inserted = []
    if quantize_input:
        quantizer = Quantizer(activations, errors, stream)
        model.add_module(INPUT_QUANTIZER_NAME, quantizer)
        model.register_forward_pre_hook(quantizer.input_hook)
        inserted.append(quantizer)
    for module in targets:
        quantizer = Quantizer(activations, errors, stream)
        module.add_module(QUANTIZER_NAME, quantizer)
        if any(module is pool for pool in pools):
            module.register_forward_pre_hook(_check_tiled)
        module.register_forward_hook(quantizer.output_hook)
        inserted.append(quantizer)
    return inserted


def _check_tiled(pool: nn.Module, inputs: tuple) -> None:
    """Forward pre-hook of a pool quantized after pooling: its windows must cover the input."""
    n = next(d for d, kind in enumerate(MAX_POOLS, 1) if isinstance(pool, kind))
    kernel = pool.kernel_size if isinstance(pool.kernel_size, tuple) else (pool.kernel_size,) * n
    if any(d % k for d, k in zip(inputs[0].shape[-n:], kernel, strict=True)):
        raise ValueError(f"pool_first: {pool} leaves the edge of a {tuple(inputs[0].shape)} input out, so "
                         "quantizing after it is not exact (the dropped values may hold a block's maximum)")
