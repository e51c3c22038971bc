"""The oracle of the bit-serial convolution tests: integer cross-correlation of the codes in
numpy int64 via im2col, and code generators for every mode."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

MODES = ("unsigned", "signed", "binary", "bipolar")


def widths(mode: str) -> list[int]:
    return [1] if mode == "binary" else [1, 2, 3, 4]


def random_codes(rng: np.random.Generator, shape: tuple, bits: int, mode: str, dtype=np.int8) -> np.ndarray:
    """Uniform codes of a mode: unsigned 0..2^b-1, signed two's complement, binary -1/+1,
    bipolar odd -(2^b-1)..2^b-1."""
    if mode == "unsigned":
        return rng.integers(0, 2**bits, size=shape).astype(dtype)
    if mode == "signed":
        return rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=shape).astype(dtype)
    return (2 * rng.integers(0, 2**bits, size=shape) - (2**bits - 1)).astype(dtype)


def conv2d_int64(
    x: np.ndarray, w: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """``x (N, C, H, W) (*) w (O, C, kh, kw)`` in int64: im2col of the zero-padded input, then
    one integer matmul (cross-correlation, as torch's conv2d)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ph, pw = padding
    sh, sw = stride
    padded = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][
        :, :, :ho, :wo
    ]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, ho * wo, c * kh * kw)
    out = cols @ w.astype(np.int64).reshape(o, -1).T
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)


def nhwc(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NCHW activations and OIHW weights in the NHWC / HWIO layout."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(w.transpose(2, 3, 1, 0))


class ConvCase(NamedTuple):
    """The geometry of one convolution: x (n, c, h, w), weights (o, c, kh, kw), stride and
    padding (height, width) pairs, and the layout the call uses."""

    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    layout: str


@st.composite
def conv_cases(draw: st.DrawFn, max_channels: int, max_outputs: int) -> ConvCase:
    """Convolutions of 1-2 images up to 9x9 with 1..``max_channels`` input and
    1..``max_outputs`` output channels, kernels up to 3x3 (no larger than the padded input),
    strides 1-3, padding 0-2, either layout."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    stride = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    kh = min(draw(st.integers(1, 3)), h + 2 * padding[0])
    kw = min(draw(st.integers(1, 3)), w + 2 * padding[1])
    return ConvCase(draw(st.integers(1, 2)), draw(st.integers(1, max_channels)), h, w,
                    draw(st.integers(1, max_outputs)), kh, kw, stride, padding,
                    draw(st.sampled_from(["NCHW", "NHWC"])))
