"""``int16_conv2d``: the 16-bit integer direct convolution the bit-serial kernels are measured
against (the paper's "optimised 16-bit integer baseline" role).

Direct convolution in NHWC (no im2col copy): per output pixel, for each tap and input channel,
``acc[o] += int32(x) * int32(w[o])`` over contiguous output channels, four input channels per
pass (one accumulator-row load and store per four multiply-adds); the innermost loop vectorises
(16 int32 lanes on AVX-512, 8 on AVX2). Image rows are split over threads as in
:func:`lpformats.bitserial_conv.threads.split`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from lpformats.bitserial import _integer_array
from lpformats.bitserial_conv.operator import INT32_MAX, _geometry, _layout
from lpformats.bitserial_conv.threads import split
from lpformats.conv import _pair


@njit(nogil=True, cache=True)
def _rows(first, last, xpad, w, stride_h, stride_w, out):
    """Output rows ``first .. last - 1`` (row ``n * Ho + oh``) of ``out (N, Ho, Wo, O)`` int32
    from ``xpad (N, Hp, Wp, C)`` and ``w (kh, kw, C, O)`` int16."""
    ho, wo, n_o = out.shape[1], out.shape[2], out.shape[3]
    kh, kw, n_c = w.shape[0], w.shape[1], w.shape[2]
    for task in range(first, last):
        img = task // ho
        oh = task - img * ho
        for ow in range(wo):
            acc = out[img, oh, ow]
            acc[:] = 0
            for r in range(kh):
                for s in range(kw):
                    xrow = xpad[img, oh * stride_h + r, ow * stride_w + s]
                    wtap = w[r, s]
                    c = 0
                    while c + 4 <= n_c:
                        x0, x1 = np.int32(xrow[c]), np.int32(xrow[c + 1])
                        x2, x3 = np.int32(xrow[c + 2]), np.int32(xrow[c + 3])
                        w0, w1, w2, w3 = wtap[c], wtap[c + 1], wtap[c + 2], wtap[c + 3]
                        for o in range(n_o):
                            acc[o] += (
                                x0 * np.int32(w0[o])
                                + x1 * np.int32(w1[o])
                                + x2 * np.int32(w2[o])
                                + x3 * np.int32(w3[o])
                            )
                        c += 4
                    while c < n_c:
                        x0 = np.int32(xrow[c])
                        w0 = wtap[c]
                        for o in range(n_o):
                            acc[o] += x0 * np.int32(w0[o])
                        c += 1


def int16_conv2d(
    x: Any,
    w: Any,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    layout: str = "NCHW",
) -> np.ndarray:
    """Integer convolution of int16 codes with int32 accumulation (cross-correlation, zero padding).

    Args:
        x: int16 array (N, C, H, W) for ``layout="NCHW"`` or (N, H, W, C) for "NHWC" (the
            kernel's own layout: no transposes).
        w: int16 array (O, C, kh, kw) for "NCHW" or (kh, kw, C, O) for "NHWC".
        stride, padding: an integer or a (height, width) pair.
        layout: "NCHW" or "NHWC", as for :func:`~lpformats.bitserial_conv2d`.

    Returns:
        int32 array (N, O, Ho, Wo) or (N, Ho, Wo, O), exact: a call whose
        ``C * kh * kw * max|x| * max|w|`` reaches 2**31 raises ValueError.
    """
    layout = _layout(layout)
    xa, wa = _integer_array(x, "x"), _integer_array(w, "w")
    for arr, name in ((xa, "x"), (wa, "w")):
        if arr.dtype != np.int16:
            raise TypeError(f"{name} must be int16; got {arr.dtype}")
        if arr.ndim != 4:
            raise ValueError(f"{name} must be 4-D; got shape {arr.shape}")
    if layout == "NCHW":
        xa, wa = xa.transpose(0, 2, 3, 1), wa.transpose(2, 3, 1, 0)
    n, h, wd, c = xa.shape
    kh, kw, wc, o = wa.shape
    if wc != c:
        raise ValueError(f"shape mismatch: x has C={c} input channels, w {wc}")
    stride_hw, padding_hw = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    ho, wo = _geometry(h, wd, (kh, kw), stride_hw, padding_hw)
    bound = c * kh * kw * int(np.abs(xa).max(initial=0)) * int(np.abs(wa).max(initial=0))
    if bound > INT32_MAX:
        raise ValueError(f"C * kh * kw * max|x| * max|w| = {bound} does not fit int32 accumulation")
    ph, pw = padding_hw
    xpad = np.zeros((n, h + 2 * ph, wd + 2 * pw, c), dtype=np.int16)
    xpad[:, ph : ph + h, pw : pw + wd] = xa
    out = np.empty((n, ho, wo, o), dtype=np.int32)
    split(_rows, n * ho, xpad, np.ascontiguousarray(wa), stride_hw[0], stride_hw[1], out)
    return out if layout == "NHWC" else np.ascontiguousarray(out.transpose(0, 3, 1, 2))
