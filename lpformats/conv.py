"""``conv2d``: 2-D convolution as low-precision hardware computes it, on top of :func:`matmul`.

The input is unfolded into patches (im2col) and the convolution becomes one (batched)
:func:`~lpformats.matmul.matmul` per group: ``cols (N, G, Ho*Wo, K) @ w (G, K, O/G)`` with
``K = (C/G) * kh * kw``. Each output pixel is a dot product over its patch, accumulated in
the order of torch's weight layout: channel-major, then kernel row, then kernel column
(``k = (c * kh + r) * kw + s``) - the order a weight-stationary systolic array streams it.
Zero padding contributes exact zero products (which still pass through the accumulator).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lpformats.arrays import as_operand, is_torch_tensor
from lpformats.formats import BlockFloat, Format, MXFormat
from lpformats.matmul import MatmulStats, matmul
from lpformats.spelling import parse


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """``value`` as (height, width) integers >= ``minimum``."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    pair = (value, value) if is_int else value
    try:
        h, w = pair
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
                 for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {minimum} or a pair of them; got {value!r}")
    return int(h), int(w)


def _im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
            dilation: tuple[int, int], groups: int) -> tuple[np.ndarray, int, int]:
    """``(cols, Ho, Wo)``: ``cols (N, G, Ho*Wo, (C/G)*kh*kw)`` of the zero-padded input."""
    n, c, h, w = x.shape
    kh, kw = kernel
    padded = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    ho = (h + 2 * padding[0] - span_h) // stride[0] + 1
    wo = (w + 2 * padding[1] - span_w) // stride[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"the kernel ({kh}x{kw}, dilation {dilation}) does not fit the padded input "
                         f"({h + 2 * padding[0]}x{w + 2 * padding[1]}): output would be {ho}x{wo}")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (span_h, span_w), axis=(2, 3))
    windows = windows[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]][:, :, :ho, :wo]
    # (N, C, Ho, Wo, kh, kw) -> (N, G, Ho, Wo, C/G, kh, kw) -> (N, G, Ho*Wo, K)
    grouped = windows.reshape(n, groups, c // groups, ho, wo, kh, kw).transpose(0, 1, 3, 4, 2, 5, 6)
    return np.ascontiguousarray(grouped).reshape(n, groups, ho * wo, -1), ho, wo


def _operand_format(fmt: Format | str | None, name: str, k_axis: int, channel_axis: int | None,
                    groups: int) -> Format | None:
    """The format of an im2col operand that quantizes it as ``fmt`` quantizes the tensor.

    Scalar formats are layout-free. MX blocks run along K of the unfolded operand (the patch,
    as a systolic array streams it). Block floating point: one exponent per tensor, or per
    index of axis 0 (a sample of ``x``, an output channel of ``w`` when ``groups == 1``)."""
    if fmt is None:
        return None
    fmt = parse(fmt)
    if isinstance(fmt, MXFormat):
        return dataclasses.replace(fmt, axis=k_axis)
    if isinstance(fmt, BlockFloat):
        if fmt.block_axis is None and fmt.block_size is None:
            return fmt
        if fmt.block_axis in (0, -4) and channel_axis is not None and (name == "x_fmt" or groups == 1):
            return dataclasses.replace(fmt, block_axis=channel_axis)
        raise ValueError(
            f"{name} {fmt}: conv2d takes block floating point with one exponent per tensor or per index "
            f"of axis 0{' (groups == 1)' if name == 'w_fmt' else ''}; for blocks along the patch use an "
            f"MX format, or unfold the input yourself and call matmul"
        )
    return fmt


def conv2d(
    x: Any,
    w: Any,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    *,
    acc: Format | str,
    x_fmt: Format | str | None = None,
    w_fmt: Format | str | None = None,
    **matmul_options: Any,
) -> tuple[Any, MatmulStats]:
    """Cross-correlation of ``x (N, C, H, W)`` with ``w (O, C/groups, kh, kw)`` (as
    ``torch.nn.functional.conv2d``, no bias) with every product and addition rounded as in
    :func:`~lpformats.matmul.matmul`.

    Args:
        x, w: float arrays (numpy or CPU torch), already representable in their formats or
            quantized on entry when ``x_fmt``/``w_fmt`` are given.
        stride, padding, dilation: an integer or a (height, width) pair; zero padding.
        groups: ``C`` and ``O`` must both be multiples of it.
        acc: accumulator format.
        x_fmt, w_fmt: operand formats: scalar (fixed/float), MX (blocks along the unfolded
            patch ``K = (C/groups)*kh*kw``), or block floating point with one exponent per
            tensor or per index of axis 0 (sample of ``x``; output channel of ``w`` when
            ``groups == 1``).
        matmul_options: ``mul``, ``order``, ``rounding``, ``seed``, ``combine``, ``strict``,
            ``stochastic_bits``, ``counter``: as in :func:`~lpformats.matmul.matmul`.

    Returns:
        ``(y, stats)``: ``y`` float64 ``(N, O, Ho, Wo)`` (torch when ``x`` is a tensor) and the
        :class:`~lpformats.matmul.MatmulStats` of the whole convolution.
    """
    x_arr = as_operand(x, "x").array.astype(np.float64)
    w_arr = as_operand(w, "w").array.astype(np.float64)
    if x_arr.ndim != 4 or w_arr.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W) and w (O, C/groups, kh, kw); got shapes {x_arr.shape} "
                         f"and {w_arr.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups must be an integer >= 1; got {groups!r}")
    n, c = x_arr.shape[:2]
    o, c_per_group, kh, kw = w_arr.shape
    if c % groups or o % groups or c // groups != c_per_group:
        raise ValueError(f"x has C={c} channels and w is {w_arr.shape} with groups={groups}: C and O must "
                         f"be multiples of groups and w.shape[1] must be C/groups = {c / groups:g}")
    if kh < 1 or kw < 1:
        raise ValueError(f"w's kernel must be at least 1x1; got {kh}x{kw}")
    stride_hw = _pair(stride, "stride", 1)
    padding_hw = _pair(padding, "padding", 0)
    dilation_hw = _pair(dilation, "dilation", 1)
    cols, ho, wo = _im2col(x_arr, (kh, kw), stride_hw, padding_hw, dilation_hw, groups)
    # (O, C/G, kh, kw) -> (G, O/G, K) -> (G, K, O/G)
    weights = w_arr.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    if groups == 1:
        cols, weights = cols[:, 0], weights[0]
    y, stats = matmul(
        cols, weights, acc=acc,
        a_fmt=_operand_format(x_fmt, "x_fmt", -1, 0, groups),
        b_fmt=_operand_format(w_fmt, "w_fmt", -2, -1, groups),
        **matmul_options,
    )
    # (N, [G,] Ho*Wo, O/G) -> (N, O, Ho, Wo)
    y = y.reshape(n, groups, ho, wo, o // groups).transpose(0, 1, 4, 2, 3).reshape(n, o, ho, wo)
    y = np.ascontiguousarray(y)
    if is_torch_tensor(x):
        import torch

        return torch.from_numpy(y), stats
    return y, stats
