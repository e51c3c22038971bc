"""The oracle of the bit-serial convolution tests: integer cross-correlation of the codes in
numpy int64 via im2col, and code generators for every mode."""

from __future__ import annotations

import numpy as np

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
