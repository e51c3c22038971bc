"""``quantize``: round a tensor onto a format's value grid, bit-exactly, in one Numba pass.

Every format is run by :func:`lpformats._kernel.quantize_blocks`: scalar formats as large
blocks with a zero shared exponent, block formats (BFP, MX) with a shared exponent per block.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpformats import _kernel
from lpformats._elements import OVERFLOW_INF, OVERFLOW_NAN, OVERFLOW_SATURATE
from lpformats.arrays import Operand, as_operand, check_out, check_tensor_out, deliver, floating_tensor
from lpformats.backends import choose_backend
from lpformats.formats import (
    MX_SCALE_RANGE,
    BlockFloat,
    FixedPoint,
    FloatFormat,
    Format,
    MXFormat,
)
from lpformats.rng import check_seed, fresh_seed, stream_key
from lpformats.rounding import NEAREST, STOCHASTIC, check_stochastic_bits, rounding_code
from lpformats.spelling import parse

#: ``nan=`` choices. ``None`` picks the format's default: ``propagate`` for formats with a NaN
#: (floats other than style ``finite``, MX), ``raise`` for the others.
NAN_POLICIES = ("raise", "zero", "propagate")

#: Elements per work item for scalar formats and for the first pass over whole-tensor blocks.
_CHUNK = 1 << 16


def nan_policy(nan: str | None, fmt: Format) -> str:
    """Resolve ``nan=`` against the format (see :data:`NAN_POLICIES`)."""
    has_nan = isinstance(fmt, MXFormat) or (isinstance(fmt, FloatFormat) and fmt.has_nan)
    if nan is None:
        return "propagate" if has_nan else "raise"
    if nan not in NAN_POLICIES:
        raise ValueError(f"nan must be one of {', '.join(map(repr, NAN_POLICIES))} or None; got {nan!r}")
    if nan == "propagate" and not has_nan:
        raise ValueError(f"nan='propagate' needs a format with a NaN; {fmt} has none")
    return nan


def _element_args(element: FixedPoint | FloatFormat, *, saturate: bool) -> tuple:
    """Kernel arguments describing the element grid at shared exponent 0, in the order of
    :func:`~lpformats._kernel.quantize_blocks`: ``is_float, man, emin, maxval, flush,
    no_negative_zero, overflow, kmin, kmax, fl, wrap``."""
    if isinstance(element, FloatFormat):
        if saturate or element.saturates:
            overflow = OVERFLOW_SATURATE
        else:
            overflow = OVERFLOW_INF if element.has_inf else OVERFLOW_NAN
        return (True, element.man, element.emin, element.max_value, not element.subnormals,
                not element.has_negative_zero, overflow, 0.0, 0.0, 0, False)
    return (False, 0, 0, 0.0, False, False, OVERFLOW_SATURATE, float(element.kmin),
            float(element.kmax), element.fl, element.overflow == "wrap")


@functools.lru_cache(maxsize=256)
def grid_args(fmt: Format) -> tuple:
    """:func:`_element_args` of ``fmt``'s element grid (cached: formats are frozen)."""
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        return _element_args(fmt, saturate=False)
    if isinstance(fmt, MXFormat):
        return _element_args(fmt.element, saturate=True)
    return _element_args(FixedPoint(fmt.wl, fmt.wl - 2), saturate=True)


def _axis(axis: int, ndim: int, fmt: Format) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} of {fmt} does not exist in a tensor with {ndim} dimension(s)")
    return axis % ndim


@dataclass
class BlockPlan:
    """How a tensor is laid out for the kernel: ``work`` is a C-contiguous 2-D array (a view
    of the input, or with the MX block axis moved last); ``block`` elements per block."""

    work: np.ndarray
    block: int
    moved_axis: int | None
    derive: bool
    lo: int = 0
    hi: int = 0
    offset: int = 0

    @property
    def blocks(self) -> int:
        rows, length = self.work.shape
        return rows * -(-length // self.block)


def plan_blocks(arr: np.ndarray, fmt: Format) -> BlockPlan:
    """Lay out ``arr`` (C-contiguous) for ``fmt``; see :class:`BlockPlan`."""
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        return BlockPlan(arr.reshape(1, -1), _CHUNK, None, derive=False)
    if isinstance(fmt, MXFormat):
        axis = _axis(fmt.axis, max(arr.ndim, 1), fmt)
        moved = None
        if arr.ndim > 1 and axis != arr.ndim - 1:
            moved = axis
            arr = np.ascontiguousarray(np.moveaxis(arr, axis, -1))
        length = arr.shape[-1] if arr.ndim else 1
        lo, hi = MX_SCALE_RANGE
        return BlockPlan(arr.reshape(-1, length), fmt.block_size, moved, True, lo, hi,
                         fmt.element_emax)
    lo, hi = fmt.exponent_range
    if fmt.block_size is not None:
        length = arr.shape[-1] if arr.ndim else 1
        return BlockPlan(arr.reshape(-1, length), fmt.block_size, None, True, lo, hi)
    # Where every shared exponent covers exactly one kernel block (a whole tensor of at most
    # one chunk, or one block per index of axis 0), the kernel derives it in the same pass.
    if fmt.block_axis is None:
        return BlockPlan(arr.reshape(1, -1), _CHUNK, None, arr.size <= _CHUNK, lo, hi)
    axis = _axis(fmt.block_axis, max(arr.ndim, 1), fmt)
    inner = math.prod(arr.shape[axis + 1:])
    return BlockPlan(arr.reshape(-1, inner), max(inner, 1), None, axis == 0, lo, hi)


def _given_block_exponents(plan: BlockPlan, fmt: Format, arr_shape: tuple[int, ...]) -> np.ndarray:
    """Shared exponents for layouts whose blocks the kernel cannot see at once: zero for
    scalar formats; for BFP over the whole tensor or per index of an axis, a first pass
    reduces max|x| over each group of kernel blocks."""
    exps = np.zeros(plan.blocks, dtype=np.int64)
    if not isinstance(fmt, BlockFloat) or plan.derive or plan.blocks == 0:
        return exps
    amax = np.empty(plan.blocks, dtype=np.float64)
    _kernel.block_max_abs(plan.work, plan.block, amax)
    groups = 1 if fmt.block_axis is None else arr_shape[fmt.block_axis % len(arr_shape)]
    _kernel.group_exponents(amax, groups, plan.lo, plan.hi, exps)
    return exps


#: Largest finite float32; the largest scale shift whose two halves :func:`pow2_32` builds.
_FLT_MAX = float(np.finfo(np.float32).max)
_MAX_SHIFT32 = 2 * 126


def _shared_exponent_range(fmt: Format, plan: BlockPlan) -> tuple[int, int]:
    """The shared exponents ``X`` a float32 tensor can give ``fmt``'s blocks: 0 for scalar
    formats; BFP ``[lo, hi]`` (an infinity gives ``hi``); MX up to ``127 - emax(element)``
    (float32 magnitudes stay below ``2**128``; a block holding inf becomes NaN unrounded)."""
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        return 0, 0
    if isinstance(fmt, MXFormat):
        return plan.lo, min(plan.hi, 127 - plan.offset)
    return plan.lo, plan.hi


def float32_lanes_fit(fmt: Format, plan: BlockPlan, mode: int, dtype: np.dtype) -> bool:
    """Whether :func:`lpformats._kernel.quantize_blocks32` gives the float64 kernel's exact
    results for a ``dtype`` tensor in rounding ``mode``: float32 data, ``nearest`` or
    ``stochastic``, and for every reachable shared exponent a grid inside float32 (float:
    at most 23 mantissa bits, largest value finite, scale shifts within ``2 * 126``; fixed:
    saturating, ``|k| <= 2**24``, the grid step at least ``2**-149``, scale shifts within
    ``2 * 126``). See :mod:`lpformats._elements32` for why these suffice."""
    if dtype != np.float32 or mode not in (NEAREST, STOCHASTIC):
        return False
    x_lo, x_hi = _shared_exponent_range(fmt, plan)
    is_float, man, emin, maxval, *_, kmin, kmax, fl, wrap = grid_args(fmt)
    if is_float:
        smallest, largest = maxval * 2.0**x_lo, maxval * 2.0**x_hi
        lifted_ok = isinstance(fmt, MXFormat) or emin >= -126  # see value32's ``lift``
        return (man <= 23 and man - (emin + x_lo) <= _MAX_SHIFT32 and largest <= _FLT_MAX
                and float(np.float32(smallest)) == smallest and lifted_ok)
    widest = max(-kmin, kmax)
    finest, coarsest = fl - x_lo, fl - x_hi
    # k * 2**-f is computed as (k * 2**-(f >> 1)) * 2**(f >> 1) - f: the first product must be
    # exact; the second is then rounded once, as the float64 result is when stored as float32.
    return (not wrap and widest <= 2**24 and finest <= 149 and coarsest >= -_MAX_SHIFT32
            and widest * 2.0 ** -(coarsest >> 1) <= _FLT_MAX)


def nan_message(count: int, first: tuple[int, ...], fmt: Format, name: str) -> str:
    """The error for ``count`` NaNs, the first at index ``first``, under ``nan='raise'``."""
    return (
        f"{name} contains {count} NaN value(s), the first at index {first}; {fmt} has no NaN "
        "here: pass nan='zero' to map NaN to 0"
    )


def _first_nan_message(arr: np.ndarray, count: int, fmt: Format, name: str) -> str:
    first = np.unravel_index(int(np.argmax(np.isnan(arr).reshape(-1))), arr.shape)
    return nan_message(count, tuple(int(i) for i in first), fmt, name)


def quantize_array(
    arr: np.ndarray,
    fmt: Format,
    mode: int,
    key: int,
    nbits: int,
    policy: str,
    target: np.ndarray | None = None,
    name: str = "x",
) -> tuple[np.ndarray, np.ndarray, BlockPlan]:
    """Quantize a float32/float64 numpy array; returns ``(result, block_exponents, plan)``.

    ``target``: a C-contiguous array of ``arr``'s shape to write into (may be ``arr``).
    The kernel writes into it directly only when it overlaps no input (on overlapping memory
    LLVM's loops fall back from vector to scalar code: 10x slower, measured); then, when a
    NaN error could lose its data, NaNs are counted first. Otherwise the result is copied in.
    """
    source = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)  # (which makes 0-d 1-d)
    plan = plan_blocks(source, fmt)
    direct = target is not None and plan.moved_axis is None and not np.may_share_memory(target, source)
    if direct and policy == "raise":
        count = int(_kernel.count_nans(source.reshape(-1)))
        if count:
            raise ValueError(_first_nan_message(source, count, fmt, name))
    exps = _given_block_exponents(plan, fmt, source.shape)
    out2 = target.reshape(plan.work.shape) if direct else np.empty_like(plan.work)
    element = grid_args(fmt)
    is_mx = isinstance(fmt, MXFormat)
    block_nans = np.empty(plan.blocks, dtype=np.int32)
    nan_value = np.nan if policy == "propagate" else 0.0
    if out2.dtype == np.float32 and float32_lanes_fit(fmt, plan, mode, plan.work.dtype):
        _kernel.quantize_blocks32(
            plan.work, out2, plan.block, exps, block_nans, plan.derive, plan.lo, plan.hi, plan.offset,
            is_mx and policy == "propagate", is_mx, *element[:-1],
            mode, np.uint64(key), nbits, np.float32(nan_value),
        )
    else:
        _kernel.quantize_blocks(
            plan.work, out2, plan.block, exps, block_nans, plan.derive, plan.lo, plan.hi, plan.offset,
            is_mx and policy == "propagate", is_mx, *element,
            mode, np.uint64(key), nbits, nan_value,
        )
    if policy == "raise" and block_nans.any():
        raise ValueError(_first_nan_message(source, int(block_nans.sum()), fmt, name))
    if plan.moved_axis is None:
        result = out2.reshape(source.shape)
    else:
        moved_shape = source.shape[:plan.moved_axis] + source.shape[plan.moved_axis + 1:] + (
            source.shape[plan.moved_axis],)
        result = np.moveaxis(out2.reshape(moved_shape), -1, plan.moved_axis)
    if target is not None and not direct:
        np.copyto(target, result)
        result = target
    return result, exps, plan


def prepare(
    x: Any, fmt: Format | str, rounding: str, seed: int | None, nan: str | None,
    stochastic_bits: int | None, counter: int, backend: str = "auto",
) -> tuple[Any, Format, int, int, int, str]:
    """Validate the common arguments of quantize/encode: returns
    ``(operand, format, mode, key, nbits, nan_policy)``; ``operand`` is an :class:`Operand`
    for the Numba kernels, or the (checked) torch tensor ``x`` for the torch backend
    (see :func:`lpformats.backends.choose_backend`)."""
    fmt = parse(fmt)
    mode = rounding_code(rounding)
    nbits = check_stochastic_bits(stochastic_bits)
    policy = nan_policy(nan, fmt)
    counter = check_seed(counter, "counter")
    operand = floating_tensor(x) if choose_backend(x, backend) == "torch" else as_operand(x)
    key = 0
    if mode == STOCHASTIC:
        key = stream_key(fresh_seed() if seed is None else check_seed(seed), counter)
    elif seed is not None:
        check_seed(seed)
    return operand, fmt, mode, key, nbits, policy


def quantize(
    x: Any,
    fmt: Format | str,
    rounding: str = "nearest",
    *,
    seed: int | None = None,
    out: Any = None,
    nan: str | None = None,
    stochastic_bits: int | None = None,
    counter: int = 0,
    backend: str = "auto",
) -> Any:
    """Round every element of ``x`` to the nearest value of ``fmt`` in the given mode.

    Args:
        x: numpy array (float16/32/64, any shape and strides) or torch tensor of a floating
            dtype on any device.
        fmt: a format object or its spelling (``"fp8_e4m3"``, ``"fixed(8,6)"``, ...).
        rounding: ``nearest`` (ties to even), ``nearest_away``, ``zero``, ``down``, ``up``
            or ``stochastic``.
        seed: stochastic rounding's seed; the same ``(seed, counter)`` gives the same bits at
            any thread count. None draws a fresh seed.
        out: array/tensor of ``x``'s type, shape and dtype to write into (may be ``x``).
        nan: what NaN inputs become: ``propagate`` (formats with a NaN: NaN; MX: the block
            becomes NaN), ``zero``, or ``raise`` (``ValueError`` with the count and first
            index; nothing is written). Default: ``propagate`` where the format has a NaN,
            else ``raise``.
        stochastic_bits: random bits per element for stochastic rounding, 1..53 (default
            53); with ``r`` bits the rounding bias is below ``ulp * 2**-r``.
        counter: selects an independent random stream for the same seed (e.g. a step count).
        backend: ``numba`` (host memory), ``torch`` (any device, bit-identical) or ``auto``
            (Numba for numpy arrays and CPU tensors, torch elsewhere); see
            :mod:`lpformats.backends`.

    Returns:
        The quantized values with ``x``'s type, shape, dtype and device (``out`` when given).
        Values of formats wider than the dtype (e.g. ``man > 23`` with float32) are rounded
        to it.
    """
    operand, fmt, mode, key, nbits, policy = prepare(
        x, fmt, rounding, seed, nan, stochastic_bits, counter, backend
    )
    if not isinstance(operand, Operand):
        from lpformats.backends import torch_quantize

        result = torch_quantize.quantize_tensor(operand, fmt, grid_args(fmt), mode, key, nbits,
                                                policy).values
        if out is None:
            return result if result.dtype == operand.dtype else result.to(operand.dtype)
        check_tensor_out(out, operand)
        out.detach().copy_(result)
        return out
    target = None
    if out is not None:
        check_out(out, operand)
        target = _writable_view(out, operand)
    result, _, _ = quantize_array(operand.array, fmt, mode, key, nbits, policy, target)
    return deliver(result, operand, out)


def _writable_view(out: Any, operand: Operand) -> np.ndarray | None:
    """``out``'s memory as a C-contiguous float32/64 numpy array of the kernel dtype, or None
    when the result must go through a temporary."""
    from lpformats.arrays import is_torch_tensor

    view = out.detach().numpy() if is_torch_tensor(out) else out
    if (
        operand.converted
        or view.dtype != operand.array.dtype
        or not view.flags.c_contiguous
        or not view.flags.writeable
    ):
        return None
    return view
