"""``encode``/``decode``: integer bit patterns of quantized values, and back.

Codes are what hardware stores:

* :class:`FixedPoint`: ``k`` in ``wl``-bit two's complement (or unsigned), e.g. -1 -> 0xFF.
* :class:`FloatFormat`: ``sign | exponent field | mantissa``, ``1 + exp + man`` bits. NaN is
  the style's NaN code (``ieee``: all-ones exponent with the top mantissa bit, sign kept;
  ``fn``: all ones, sign kept; ``fnuz``: ``100...0``). Identical to ml_dtypes' bit patterns.
* :class:`BlockFloat`: ``wl``-bit two's-complement mantissas plus the shared exponents ``E``
  (int16), returned as :class:`BlockCodes`.
* :class:`MXFormat`: element codes (as above) plus E8M0 scale codes ``X + 127`` (uint8, 0xFF
  for a NaN block), returned as :class:`BlockCodes`.

Code arrays are uint8/16/32/64, the narrowest that holds the bits. Shared exponents have the
tensor's shape with the block axis shortened to the number of blocks (BFP per index of an
axis: one per index, shape ``(L,)``; BFP over the whole tensor: shape ``()``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from lpformats.arrays import is_torch_tensor
from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, Format, MXFormat
from lpformats.quantize import Operand, grid_args, prepare, quantize_array
from lpformats.spelling import parse

MX_NAN_SCALE = 0xFF
MX_SCALE_BIAS = 127


class BlockCodes(NamedTuple):
    """Codes of a block format: per-element ``codes`` and per-block ``exponents`` (BFP: the
    shared exponent ``E``; MX: the E8M0 scale code)."""

    codes: np.ndarray
    exponents: np.ndarray


def code_dtype(bits: int) -> np.dtype:
    """Narrowest unsigned dtype holding ``bits`` bits."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if bits <= np.iinfo(dtype).bits:
            return np.dtype(dtype)
    raise ValueError(f"no integer dtype holds {bits} bits")


# ------------------------------------------------------------------------- scalar formats
# The code <-> value arithmetic is written once for numpy arrays and torch tensors (any
# device): both share the operator and function names used here (``where``, ``signbit``,
# ``.view(dtype)``, shifts and masks); :func:`_cast` and :func:`_namespace` bridge the rest.
def _namespace(a: Any) -> Any:
    """The array module of ``a``: ``numpy`` or ``torch``."""
    if is_torch_tensor(a):
        import torch

        return torch
    return np


def _cast(a: Any, dtype: str) -> Any:
    """``a`` converted to the dtype named ``dtype`` (``"int64"``, ``"uint16"``, ...)."""
    if is_torch_tensor(a):
        import torch

        return a.to(getattr(torch, dtype))
    return a.astype(dtype)


def _pow2(exponent: Any) -> Any:
    """Exact ``2.0**exponent`` element-wise for int64 exponents in [-1022, 1023]."""
    return ((exponent + 1023) << 52).view(_namespace(exponent).float64)


def _ldexp(values: Any, exponent: Any) -> Any:
    """``values * 2**exponent`` (float64; an int or int64 exponents in [-2044, 2046]), exact
    wherever the result is representable: two power-of-two factors, as the kernels scale."""
    half = exponent >> 1
    if isinstance(exponent, int):
        return values * 2.0**half * 2.0**(exponent - half)
    return values * _pow2(half) * _pow2(exponent - half)


def _float64_exponent(a: Any) -> Any:
    """``floor(log2(a))`` of positive normal float64 values (subnormals: -1023), int64."""
    xp = _namespace(a)
    return ((a.view(xp.int64) >> 52) & 0x7FF) - 1023


def _fixed_codes(values: Any, fmt: FixedPoint) -> Any:
    k = _cast(_ldexp(_cast(values, "float64"), fmt.fl), "int64")
    return _cast(k & ((1 << fmt.wl) - 1), code_dtype(fmt.wl).name)


def _fixed_values(codes: Any, fmt: FixedPoint) -> Any:
    xp = _namespace(codes)
    k = _cast(codes, "int64")
    if fmt.signed:
        k = xp.where(k >= 1 << (fmt.wl - 1), k - (1 << fmt.wl), k)
    return _ldexp(_cast(k, "float64"), -fmt.fl)


def _float_nan_code(fmt: FloatFormat, negative: Any) -> Any:
    top = ((1 << fmt.exp) - 1) << fmt.man
    sign = _cast(negative, "int64") << (fmt.exp + fmt.man)
    if fmt.style == "ieee":
        return sign | top | (1 << (fmt.man - 1))
    if fmt.style == "fn":
        return sign | top | ((1 << fmt.man) - 1)
    return _namespace(sign).zeros_like(sign) | (1 << (fmt.exp + fmt.man))  # fnuz


def _float_codes(values: Any, fmt: FloatFormat) -> Any:
    xp = _namespace(values)
    v = _cast(values, "float64")
    negative = xp.signbit(v)
    a = xp.abs(v)
    finite = xp.isfinite(a)
    safe = xp.where(finite & (a > 0), a, 1.0)
    exponent = _float64_exponent(safe).clip(min=fmt.emin)
    normal = a >= 2.0**fmt.emin
    field = xp.where(normal, exponent + fmt.bias, 0)
    significand = _ldexp(xp.where(finite, a, 0.0), fmt.man - exponent)  # < 2**(man+1)
    man = _cast(significand, "int64") & ((1 << fmt.man) - 1)
    sign = _cast(negative, "int64") << (fmt.exp + fmt.man)
    code = sign | (field << fmt.man) | man
    if fmt.has_inf:
        code = xp.where(xp.isinf(v), sign | (((1 << fmt.exp) - 1) << fmt.man), code)
    if fmt.has_nan:
        code = xp.where(xp.isnan(v), _float_nan_code(fmt, negative), code)
    return _cast(code, code_dtype(fmt.bits).name)


def _float_values(codes: Any, fmt: FloatFormat) -> Any:
    xp = _namespace(codes)
    c = _cast(codes, "int64")
    negative = (c >> (fmt.exp + fmt.man)) & 1
    field = (c >> fmt.man) & ((1 << fmt.exp) - 1)
    man = c & ((1 << fmt.man) - 1)
    man_value = _cast(man, "float64")
    subnormal = _ldexp(man_value, fmt.emin - fmt.man)
    if not fmt.subnormals:
        subnormal = xp.zeros_like(subnormal)
    normal = _ldexp(1.0 + _ldexp(man_value, -fmt.man), field - fmt.bias)
    magnitude = xp.where(field == 0, subnormal, normal)
    top = field == (1 << fmt.exp) - 1
    if fmt.style == "ieee":
        magnitude = xp.where(top, xp.where(man == 0, np.inf, np.nan), magnitude)
    elif fmt.style == "fn":
        magnitude = xp.where(top & (man == (1 << fmt.man) - 1), np.nan, magnitude)
    value = xp.where(negative == 1, -magnitude, magnitude)
    if fmt.style == "fnuz":
        value = xp.where(c == 1 << (fmt.exp + fmt.man), np.nan, value)
    return value


def _scalar_codes(values: Any, fmt: FixedPoint | FloatFormat) -> Any:
    return _fixed_codes(values, fmt) if isinstance(fmt, FixedPoint) else _float_codes(values, fmt)


def _scalar_values(codes: Any, fmt: FixedPoint | FloatFormat) -> Any:
    c = _cast(codes, "int64")  # (uint64 codes above 2**63 become negative: out of range too)
    bad = (c < 0) | (c >= 1 << fmt.bits)
    if bad.any():
        first = int(bad.reshape(-1).argmax())
        raise ValueError(
            f"codes must be < 2**{fmt.bits} for {fmt}; element {first} is {int(codes.reshape(-1)[first])}"
        )
    if isinstance(fmt, FixedPoint):
        return _fixed_values(codes, fmt)
    return _float_values(codes, fmt)


# ------------------------------------------------------------------------- block layout
def _block_axis_and_size(fmt: BlockFloat | MXFormat, ndim: int) -> tuple[int | None, int]:
    """Axis along which blocks of ``size`` elements run (None: whole tensor / per index)."""
    if isinstance(fmt, MXFormat):
        return fmt.axis % ndim, fmt.block_size
    if fmt.block_size is not None:
        return ndim - 1, fmt.block_size
    return None, 0


def _exponents_shape(fmt: BlockFloat | MXFormat, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(fmt, BlockFloat) and fmt.block_size is None:
        return () if fmt.block_axis is None else (shape[fmt.block_axis],)
    axis, size = _block_axis_and_size(fmt, len(shape))
    return (*shape[:axis], -(-shape[axis] // size), *shape[axis + 1:])


def _per_element(exponents: Any, fmt: BlockFloat | MXFormat, shape: tuple[int, ...]) -> Any:
    """Broadcast per-block exponents (numpy array or torch tensor) to every element of a
    tensor of ``shape``."""
    expected = _exponents_shape(fmt, shape)
    if tuple(exponents.shape) != expected:
        raise ValueError(f"exponents for {fmt} on a tensor of shape {shape} must have shape {expected}, "
                         f"got {tuple(exponents.shape)}")
    torch_in = is_torch_tensor(exponents)
    if isinstance(fmt, BlockFloat) and fmt.block_size is None:
        if fmt.block_axis is not None:
            axis = fmt.block_axis % len(shape)
            exponents = exponents.reshape([-1 if d == axis else 1 for d in range(len(shape))])
        return exponents.expand(shape) if torch_in else np.broadcast_to(exponents, shape)
    axis, size = _block_axis_and_size(fmt, len(shape))
    repeated = (exponents.repeat_interleave(size, dim=axis) if torch_in
                else np.repeat(exponents, size, axis=axis))
    return repeated[(slice(None),) * axis + (slice(0, shape[axis]),)]


def _grid_shift(fmt: BlockFloat | MXFormat, exponent: np.ndarray) -> np.ndarray:
    """Power of two from element grid to block grid (BFP: ``E + 2 - wl``; MX: ``X``)."""
    return exponent + 2 - fmt.wl if isinstance(fmt, BlockFloat) else exponent


# ------------------------------------------------------------------------- public API
def encode(
    x: Any,
    fmt: Format | str,
    rounding: str = "nearest",
    *,
    seed: int | None = None,
    nan: str | None = None,
    stochastic_bits: int | None = None,
    counter: int = 0,
    backend: str = "auto",
) -> Any:
    """Quantize ``x`` (as :func:`~lpformats.quantize`, same arguments) and return the codes.

    Returns:
        The codes with ``x``'s shape (scalar formats), or :class:`BlockCodes` (block
        formats): numpy arrays for a numpy ``x``, torch tensors on ``x``'s device for a torch
        ``x``. ``decode(encode(x, f), f)`` equals ``quantize(x, f)`` as float32.
    """
    operand, fmt, mode, key, nbits, policy = prepare(x, fmt, rounding, seed, nan, stochastic_bits,
                                                     counter, backend)
    if isinstance(operand, Operand):
        arr = operand.array
        shape = arr.shape
        if isinstance(fmt, (BlockFloat, MXFormat)) and arr.ndim == 0:
            arr = arr.reshape(1)
        values, exps, plan = quantize_array(arr, fmt, mode, key, nbits, policy)
        exponents = None if isinstance(fmt, (FixedPoint, FloatFormat)) else \
            _block_exponents(exps, plan, values, fmt)
    else:
        from lpformats.backends import torch_quantize

        shape = operand.shape
        arr = operand.reshape(1) if isinstance(fmt, (BlockFloat, MXFormat)) and operand.dim() == 0 \
            else operand
        result = torch_quantize.quantize_tensor(arr, fmt, grid_args(fmt), mode, key, nbits, policy)
        values, exponents = result.values, result.exponents
    encoded = _codes(values, exponents, fmt)
    if isinstance(operand, Operand) and operand.is_torch:
        import torch

        encoded = torch.as_tensor(np.asarray(encoded)) if exponents is None else \
            BlockCodes(*(torch.as_tensor(np.asarray(part)) for part in encoded))
    if exponents is None:
        return (encoded if is_torch_tensor(encoded) else np.asarray(encoded)).reshape(shape)
    return BlockCodes(encoded.codes.reshape(shape), encoded.exponents)


def _codes(values: Any, exponents: Any, fmt: Format) -> Any:
    """Codes of quantized ``values`` (numpy or torch): an array for scalar formats, else
    :class:`BlockCodes` from the blocks' exponents (MX: NaN blocks at the NaN scale)."""
    if exponents is None:
        return _scalar_codes(values, fmt)
    xp = _namespace(values)
    shift = _cast(_per_element(exponents, fmt, tuple(values.shape)), "int64")
    values = _cast(values, "float64")
    if isinstance(fmt, MXFormat):
        values = xp.where(xp.isnan(values) & (shift == MX_NAN_SCALE - MX_SCALE_BIAS), 0.0, values)
    elements = _ldexp(values, -_grid_shift(fmt, shift))
    if isinstance(fmt, BlockFloat):
        # The one non-finite result: -inf saturates to mantissa -2^(wl-1) at E = 127, which is
        # -2^128, -inf again in float32; its code is that mantissa.
        elements = elements.clip(fmt.element.min_value, fmt.element.max_value)
    codes = _scalar_codes(elements, fmt.element)
    if isinstance(fmt, MXFormat):
        return BlockCodes(codes, _cast(exponents + MX_SCALE_BIAS, "uint8"))
    return BlockCodes(codes, _cast(exponents, "int16"))


def _block_exponents(
    exps: np.ndarray, plan: Any, values: np.ndarray, fmt: BlockFloat | MXFormat
) -> np.ndarray:
    """Kernel block exponents (flat, in the plan's order) as the public exponents array;
    MX blocks that came out NaN get the NaN scale."""
    shape = values.shape
    if isinstance(fmt, BlockFloat) and fmt.block_size is None:
        if fmt.block_axis is None:
            return exps[:1].reshape(())
        return exps[: shape[fmt.block_axis % len(shape)]].copy()
    axis, _ = _block_axis_and_size(fmt, len(shape))
    if isinstance(fmt, MXFormat):
        work = np.moveaxis(values, axis, -1).reshape(plan.work.shape)
        rows, length = work.shape
        nblk = -(-length // plan.block)
        padded = np.zeros((rows, nblk * plan.block), dtype=bool)
        padded[:, :length] = np.isnan(work)
        exps = np.where(padded.reshape(rows * nblk, plan.block).any(axis=1),
                        MX_NAN_SCALE - MX_SCALE_BIAS, exps)
    moved = shape[:axis] + shape[axis + 1:] + (-(-shape[axis] // plan.block),)
    return np.moveaxis(exps.reshape(moved), -1, axis)


def decode(codes: Any, fmt: Format | str, *, dtype: Any = np.float32) -> Any:
    """Values of ``codes`` in ``fmt`` (the inverse of :func:`encode`).

    Args:
        codes: integer array (numpy, or torch on any device: the result stays there) of
            codes; for block formats a :class:`BlockCodes` or ``(codes, exponents)`` pair.
        fmt: format object or spelling.
        dtype: float dtype of the result (numpy or torch; default float32; float64 is exact
            for every format).
    """
    fmt = parse(fmt)
    exponents = None
    if isinstance(fmt, (BlockFloat, MXFormat)):
        if not isinstance(codes, tuple) or len(codes) != 2:
            raise TypeError(
                f"codes for block format {fmt} must be a (codes, exponents) pair as encode returns"
            )
        codes, exponents = codes
    torch_in = is_torch_tensor(codes)
    if torch_in:
        import torch

        if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
            raise TypeError(f"codes must be an integer tensor, got {codes.dtype}")
        if exponents is not None:
            exponents = torch.as_tensor(exponents, device=codes.device)
    else:
        if not isinstance(codes, np.ndarray) or codes.dtype.kind not in "ui":
            raise TypeError(
                f"codes must be an integer array, got {getattr(codes, 'dtype', type(codes).__name__)}")
        if exponents is not None:
            exponents = np.asarray(exponents.numpy() if is_torch_tensor(exponents) else exponents)
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        values = _scalar_values(codes, fmt)
    else:
        shape = tuple(codes.shape) if codes.ndim else (1,)
        exps = _cast(exponents, "int64")
        if isinstance(fmt, MXFormat):
            exps = exps - MX_SCALE_BIAS
        shift = _per_element(exps, fmt, shape).reshape(codes.shape)
        values = _ldexp(_scalar_values(codes, fmt.element), _grid_shift(fmt, shift))
        if isinstance(fmt, MXFormat):
            values = _namespace(values).where(shift == MX_NAN_SCALE - MX_SCALE_BIAS, np.nan, values)
    if torch_in:
        return values.to(dtype if isinstance(dtype, torch.dtype) else getattr(torch, np.dtype(dtype).name))
    with np.errstate(over="ignore"):  # a saturated BFP -inf (-2^128) is -inf in float32, as quantize's
        return values.astype(dtype)


__all__ = ["BlockCodes", "decode", "encode"]
