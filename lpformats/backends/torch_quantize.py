"""``quantize`` as torch tensor operations on the tensor's own device: the layout of blocks
and their shared exponents of :mod:`lpformats.quantize` / :func:`lpformats._kernel.quantize_blocks`,
with the element arithmetic of :mod:`lpformats.backends.torch_elements`.

The tensor is seen as a 2-D ``(rows, length)`` work array in C order (MX whose block axis is
not the last: with that axis moved last), exactly the Numba kernels' layout, so that the
element index of each stochastic draw, and thus every bit, is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lpformats.backends import torch_elements as te
from lpformats.formats import MX_SCALE_RANGE, BlockFloat, FixedPoint, FloatFormat, Format, MXFormat
from lpformats.rounding import STOCHASTIC


@dataclass
class TorchQuantized:
    """Result of :func:`quantize_tensor`.

    ``values``: the quantized tensor, ``x``'s shape, float32 (float64 for float64 input),
    on ``x``'s device. ``exponents``: the shared exponent ``X`` of each block (int64; MX
    blocks that became NaN: 128, the NaN scale) in the layout of :func:`lpformats.encode`'s
    exponents; None for scalar formats.
    """

    values: torch.Tensor
    exponents: torch.Tensor | None


def _axis(axis: int, ndim: int, fmt: Format) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} of {fmt} does not exist in a tensor with {ndim} dimension(s)")
    return axis % ndim


def _magnitudes(work: torch.Tensor) -> torch.Tensor:
    """``|work|`` with NaN read as 0 (block maxima ignore NaN)."""
    return torch.where(torch.isnan(work), torch.zeros_like(work), work.abs())


def _exponent(m: torch.Tensor, offset: int, lo: int, hi: int) -> torch.Tensor:
    """``clamp(floor(log2(m)) - offset, lo, hi)``: the shared exponent of a block maximum."""
    return torch.clamp(te.exponent_of(m) - offset, lo, hi)


def _in_blocks(work: torch.Tensor, block: int) -> torch.Tensor:
    """``work`` (rows, length) zero-padded to whole blocks: (rows, blocks, block)."""
    rows, length = work.shape
    nblk = -(-length // block)
    padded = torch.nn.functional.pad(work, (0, nblk * block - length))
    return padded.view(rows, nblk, block)


@dataclass
class _Layout:
    """The work array, per-element shared exponents and, for MX, the NaN blocks."""

    work: torch.Tensor
    moved_axis: int | None
    shifts: torch.Tensor | None = None
    exponents: torch.Tensor | None = None
    poisoned: torch.Tensor | None = None


def _layout(x64: torch.Tensor, fmt: Format, poison_nan: bool) -> _Layout:
    """Work array and shared exponents of ``x64`` (contiguous float64) for ``fmt``."""
    shape = tuple(x64.shape)
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        return _Layout(x64.reshape(1, -1), None)
    if isinstance(fmt, BlockFloat) and fmt.block_size is None:
        lo, hi = fmt.exponent_range
        work = x64.reshape(1, -1)
        if fmt.block_axis is None:
            m = _magnitudes(work).amax() if work.numel() else torch.zeros((), dtype=work.dtype,
                                                                            device=work.device)
            exponent = _exponent(m, 0, lo, hi)
            return _Layout(work, None, exponent.expand(work.shape), exponent)
        axis = _axis(fmt.block_axis, max(len(shape), 1), fmt)
        grouped = x64.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))
        if grouped.numel():
            m = _magnitudes(grouped).amax(dim=(0, 2))
        else:
            m = torch.zeros(shape[axis], dtype=x64.dtype, device=x64.device)
        exponents = _exponent(m, 0, lo, hi)
        shifts = exponents.view(1, -1, 1).expand(grouped.shape).reshape(1, -1)
        return _Layout(work, None, shifts, exponents)
    # blocks of block_size along an axis: BFP along the last one, MX along fmt.axis
    if isinstance(fmt, MXFormat):
        axis = _axis(fmt.axis, max(len(shape), 1), fmt)
        (lo, hi), offset = MX_SCALE_RANGE, fmt.element_emax
    else:
        axis = max(len(shape), 1) - 1
        (lo, hi), offset = fmt.exponent_range, 0
    moved = None
    if len(shape) > 1 and axis != len(shape) - 1:
        moved = axis
        x64 = x64.movedim(axis, -1).contiguous()
    length = x64.shape[-1] if x64.dim() else 1
    work = x64.reshape(-1, length)
    rows = work.shape[0]
    blocks = _in_blocks(work, fmt.block_size)
    m = _magnitudes(blocks).amax(dim=-1) if blocks.numel() else torch.zeros(
        blocks.shape[:2], dtype=work.dtype, device=work.device)
    exponents = _exponent(m, offset, lo, hi)
    shifts = exponents.repeat_interleave(fmt.block_size, dim=1)[:, :length]
    poisoned = None
    if isinstance(fmt, MXFormat):
        bad = m == math.inf
        if poison_nan and blocks.numel():
            bad = bad | torch.isnan(blocks).any(dim=-1)
        poisoned = bad.repeat_interleave(fmt.block_size, dim=1)[:, :length]
        exponents = torch.where(bad, MX_SCALE_RANGE[1] + 1, exponents)  # the NaN scale
    moved_shape = shape[:axis] + shape[axis + 1:] + (exponents.shape[1],) if shape else (rows, -1)
    public = exponents.reshape(moved_shape).movedim(-1, axis) if shape else exponents.reshape(-1)
    return _Layout(work, moved, shifts, public, poisoned)


def _elements(work: torch.Tensor, shifts: torch.Tensor | None, grid: tuple, mode: int, key: int,
              nbits: int) -> torch.Tensor:
    """Every element of ``work`` on its block's grid (the element grid ``grid``, the
    arguments of :func:`lpformats.quantize._element_args`, scaled by ``2**shifts``)."""
    is_float, man, emin, maxval, flush, no_negative_zero, overflow, kmin, kmax, fl, wrap = grid
    rand = None
    rand_scale = float(2.0**nbits)
    if mode == STOCHASTIC:
        index = torch.arange(work.numel(), dtype=torch.int64, device=work.device).view(work.shape)
        rand = te.random_integers(key, index, nbits)
    if is_float:
        if shifts is not None:
            emin = emin + shifts
            maxval = maxval * te.pow2(shifts)
        return te.float_value(work, man, emin, maxval, flush, no_negative_zero, overflow, mode,
                              rand, rand_scale)
    return te.fixed_value(work, fl if shifts is None else fl - shifts, kmin, kmax, wrap, mode,
                          rand, rand_scale)


def first_nan_index(x: torch.Tensor) -> tuple[int, ...]:
    """C-order index of the first NaN of ``x`` (which holds one); one host sync."""
    first = int(torch.isnan(x).reshape(-1).to(torch.uint8).argmax())
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(first), tuple(x.shape)))


def quantize_tensor(x: torch.Tensor, fmt: Format, grid: tuple, mode: int, key: int, nbits: int,
                    policy: str, name: str = "x") -> TorchQuantized:
    """Quantize the floating tensor ``x`` on its device (arguments as resolved by
    :func:`lpformats.quantize.prepare`; ``grid``: :func:`lpformats.quantize.grid_args`).

    Raises:
        ValueError: ``policy == "raise"`` and ``x`` holds a NaN outside the NaN blocks of an
            MX format (one host sync per call checks it).
    """
    from lpformats.quantize import nan_message

    kernel_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    x64 = x.detach().to(kernel_dtype).to(torch.float64).contiguous()
    if x64.dim() == 0 and not isinstance(fmt, (FixedPoint, FloatFormat)):
        x64 = x64.reshape(1)  # a block of one element, as the kernels see a 0-d array
    layout = _layout(x64, fmt, poison_nan=isinstance(fmt, MXFormat) and policy == "propagate")
    if policy == "raise":
        nans = torch.isnan(layout.work)
        count = int((nans if layout.poisoned is None else nans & ~layout.poisoned).sum())
        if count:
            raise ValueError(nan_message(count, first_nan_index(x64), fmt, name))
    work = layout.work
    q = _elements(work, layout.shifts, grid, mode, key, nbits)
    is_nan = torch.isnan(work)
    q = torch.where(is_nan, work if policy == "propagate" else torch.zeros_like(work), q)
    if layout.poisoned is not None:
        q = torch.where(layout.poisoned, torch.full_like(q, math.nan), q)
    values = q.to(kernel_dtype)
    if layout.moved_axis is None:
        values = values.reshape(x.shape)
    else:
        axis = layout.moved_axis
        moved_shape = tuple(x.shape[:axis]) + tuple(x.shape[axis + 1:]) + (x.shape[axis],)
        values = values.reshape(moved_shape).movedim(-1, axis)
    return TorchQuantized(values, layout.exponents)
