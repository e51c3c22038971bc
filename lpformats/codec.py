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
from lpformats.quantize import prepare, quantize_array
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
def _fixed_codes(values: np.ndarray, fmt: FixedPoint) -> np.ndarray:
    k = np.ldexp(values.astype(np.float64), fmt.fl).astype(np.int64)
    return (k & ((1 << fmt.wl) - 1)).astype(code_dtype(fmt.wl))


def _fixed_values(codes: np.ndarray, fmt: FixedPoint) -> np.ndarray:
    k = codes.astype(np.int64)
    if fmt.signed:
        k = np.where(k >= 1 << (fmt.wl - 1), k - (1 << fmt.wl), k)
    return np.ldexp(k.astype(np.float64), -fmt.fl)


def _float_nan_code(fmt: FloatFormat, negative: np.ndarray) -> np.ndarray:
    top = np.int64((1 << fmt.exp) - 1) << fmt.man
    sign = negative.astype(np.int64) << (fmt.exp + fmt.man)
    if fmt.style == "ieee":
        return sign | top | (1 << (fmt.man - 1))
    if fmt.style == "fn":
        return sign | top | ((1 << fmt.man) - 1)
    return np.full(negative.shape, 1 << (fmt.exp + fmt.man), dtype=np.int64)  # fnuz


def _float_codes(values: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    v = values.astype(np.float64)
    negative = np.signbit(v)
    a = np.abs(v)
    finite = np.isfinite(a)
    safe = np.where(finite & (a > 0), a, 1.0)
    _, e2 = np.frexp(safe)
    exponent = np.maximum(e2 - 1, fmt.emin)
    normal = a >= 2.0**fmt.emin
    field = np.where(normal, exponent + fmt.bias, 0)
    significand = np.ldexp(np.where(finite, a, 0.0), fmt.man - exponent)  # < 2**(man+1)
    man = significand.astype(np.int64) & ((1 << fmt.man) - 1)
    code = (negative.astype(np.int64) << (fmt.exp + fmt.man)) | (field.astype(np.int64) << fmt.man) | man
    if fmt.has_inf:
        inf_code = (negative.astype(np.int64) << (fmt.exp + fmt.man)) | (((1 << fmt.exp) - 1) << fmt.man)
        code = np.where(np.isinf(v), inf_code, code)
    if fmt.has_nan:
        code = np.where(np.isnan(v), _float_nan_code(fmt, negative), code)
    return code.astype(code_dtype(fmt.bits))


def _float_values(codes: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    c = codes.astype(np.int64)
    negative = (c >> (fmt.exp + fmt.man)) & 1
    field = (c >> fmt.man) & ((1 << fmt.exp) - 1)
    man = c & ((1 << fmt.man) - 1)
    subnormal = np.ldexp(man.astype(np.float64), fmt.emin - fmt.man)
    if not fmt.subnormals:
        subnormal = np.zeros_like(subnormal)
    normal = np.ldexp(1.0 + np.ldexp(man.astype(np.float64), -fmt.man), field - fmt.bias)
    magnitude = np.where(field == 0, subnormal, normal)
    top = field == (1 << fmt.exp) - 1
    if fmt.style == "ieee":
        magnitude = np.where(top, np.where(man == 0, np.inf, np.nan), magnitude)
    elif fmt.style == "fn":
        magnitude = np.where(top & (man == (1 << fmt.man) - 1), np.nan, magnitude)
    value = np.where(negative == 1, -magnitude, magnitude)
    if fmt.style == "fnuz":
        value = np.where(c == 1 << (fmt.exp + fmt.man), np.nan, value)
    return value


def _scalar_codes(values: np.ndarray, fmt: FixedPoint | FloatFormat) -> np.ndarray:
    return _fixed_codes(values, fmt) if isinstance(fmt, FixedPoint) else _float_codes(values, fmt)


def _scalar_values(codes: np.ndarray, fmt: FixedPoint | FloatFormat) -> np.ndarray:
    limit = 1 << fmt.bits
    if codes.size and (codes.astype(np.uint64) >= limit).any():
        bad = int(np.argmax(codes.astype(np.uint64) >= limit))
        raise ValueError(
            f"codes must be < 2**{fmt.bits} for {fmt}; element {bad} is {int(codes.reshape(-1)[bad])}"
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


def _per_element(exponents: np.ndarray, fmt: BlockFloat | MXFormat, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast per-block exponents to every element of a tensor of ``shape``."""
    expected = _exponents_shape(fmt, shape)
    if exponents.shape != expected:
        raise ValueError(f"exponents for {fmt} on a tensor of shape {shape} must have shape {expected}, "
                         f"got {exponents.shape}")
    if isinstance(fmt, BlockFloat) and fmt.block_size is None:
        if fmt.block_axis is None:
            return np.broadcast_to(exponents, shape)
        axis = fmt.block_axis % len(shape)
        return np.broadcast_to(exponents.reshape([-1 if d == axis else 1 for d in range(len(shape))]), shape)
    axis, size = _block_axis_and_size(fmt, len(shape))
    return np.take(np.repeat(exponents, size, axis=axis), np.arange(shape[axis]), axis=axis)


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
) -> np.ndarray | BlockCodes:
    """Quantize ``x`` (as :func:`~lpformats.quantize`, same arguments) and return the codes.

    Returns:
        A numpy array of codes with ``x``'s shape (scalar formats), or :class:`BlockCodes`
        (block formats). ``decode(encode(x, f), f)`` equals ``quantize(x, f)`` as float32.
    """
    operand, fmt, mode, key, nbits, policy = prepare(x, fmt, rounding, seed, nan, stochastic_bits, counter)
    arr = operand.array
    if isinstance(fmt, (BlockFloat, MXFormat)) and arr.ndim == 0:
        arr = arr.reshape(1)
    values, exps, plan = quantize_array(arr, fmt, mode, key, nbits, policy)
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        return np.asarray(_scalar_codes(values, fmt)).reshape(operand.array.shape)
    exponents = _block_exponents(exps, plan, values, fmt)
    shift = _per_element(exponents, fmt, arr.shape).astype(np.int64)
    element = fmt.element
    nan_block = np.isnan(values) & (shift == MX_NAN_SCALE - MX_SCALE_BIAS) if isinstance(fmt, MXFormat) \
        else np.zeros(values.shape, dtype=bool)
    scaled = np.ldexp(np.where(nan_block, 0.0, values.astype(np.float64)), -_grid_shift(fmt, shift))
    codes = _scalar_codes(scaled, element)
    if isinstance(fmt, MXFormat):
        exponents = (exponents + MX_SCALE_BIAS).astype(np.uint8)
    else:
        exponents = exponents.astype(np.int16)
    return BlockCodes(codes.reshape(operand.array.shape), exponents)


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
        codes: integer array (numpy or torch) of codes; for block formats a
            :class:`BlockCodes` or ``(codes, exponents)`` pair.
        fmt: format object or spelling.
        dtype: float dtype of the result (default float32; float64 is exact for every format).
    """
    fmt = parse(fmt)
    exponents = None
    if isinstance(fmt, (BlockFloat, MXFormat)):
        if not isinstance(codes, tuple) or len(codes) != 2:
            raise TypeError(
                f"codes for block format {fmt} must be a (codes, exponents) pair as encode returns"
            )
        codes, exponents = codes
        exponents = np.asarray(exponents.numpy() if is_torch_tensor(exponents) else exponents)
    torch_in = is_torch_tensor(codes)
    arr = codes.numpy() if torch_in else codes
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "ui":
        raise TypeError(f"codes must be an integer array, got {getattr(arr, 'dtype', type(arr).__name__)}")
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        values = _scalar_values(arr, fmt)
    else:
        shape = arr.shape if arr.ndim else (1,)
        exps = exponents.astype(np.int64)
        if isinstance(fmt, MXFormat):
            exps = exps - MX_SCALE_BIAS
        shift = _per_element(exps, fmt, shape).reshape(arr.shape)
        values = np.ldexp(_scalar_values(arr, fmt.element), _grid_shift(fmt, shift))
        if isinstance(fmt, MXFormat):
            values = np.where(shift == MX_NAN_SCALE - MX_SCALE_BIAS, np.nan, values)
    result = values.astype(dtype)
    if torch_in:
        import torch

        return torch.from_numpy(result)
    return result


__all__ = ["BlockCodes", "decode", "encode"]
