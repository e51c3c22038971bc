"""``int16_conv2d``: the 16-bit integer convolution the bit-serial kernels are measured against
(the paper's "optimised 16-bit integer baseline" role).

A direct convolution as an implicit GEMM, output pixels x output channels, reduced over
``K = kh * kw * C``, on int16 multiply-add pairs (:func:`lpformats._int16_pairs.pair_tile`:
``vpmaddwd``, or ``vpdpwssd`` with AVX-512 VNNI, two products summed into an int32 lane per
instruction, twice the multiply-adds of a float32 FMA):

- the input is copied once into a zero-padded NHWC buffer whose channel count is made even
  (not copied when it is already that: contiguous NHWC, even C, no padding), so that every
  int32 word of it is the pair ``(x[c], x[c + 1])`` of two adjacent input channels, which the
  kernel broadcasts straight from the image (no im2col copy);
- the weights are packed into panels of :func:`register_tile` ``vectors * 16`` output channels,
  ``(panel, tap, channel pair, 2 * lanes)`` with the two channels of a pair interleaved per
  output channel, the order in which the kernel streams them: in every call, or once with
  :func:`pack_int16_weights` (as an inference engine packs weights offline, and as the
  bit-serial operator's weights are packed with ``pack_conv_weights``);
- a register tile of ``rows`` output pixels x ``vectors * 16`` output channels (7 x 64 with
  AVX-512, 2 x 32 with AVX2; :data:`TILES`) stays in vector registers for the whole reduction; tiles walk
  all pixels for one panel before the next, so that a panel is read from the cache by every
  pixel tile. The last tile of pixels repeats its last pixel; output channels are padded to a
  whole panel with zero weights.

Range: an output is a sum of ``K = C * kh * kw`` products of int16 codes, so every partial sum
(in any order, pairs included) is at most ``K * max|x| * max|w|`` in magnitude; when that is
at most 2**31 - 1 the int32 accumulation is exact, and otherwise the call raises ValueError
(it never returns a wrapped value). (The one pair ``vpmaddwd`` itself cannot hold,
``2 * (-32768)^2 = 2^31``, is excluded by the same condition.)
Tasks (panel, pixel tile) are split over threads as in :func:`lpformats.bitserial_conv.threads.split`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from lpformats._int16_pairs import LANES, pair_tile
from lpformats._numba_target import numba_vector_isa
from lpformats.bitserial import _integer_array
from lpformats.bitserial_conv.operator import INT32_MAX, _geometry, _layout
from lpformats.bitserial_conv.threads import split
from lpformats.conv import _pair
from lpformats.matmul import _aligned_empty

#: Register tiles ``(rows, vectors)`` by the vector ISA Numba compiles for
#: (:func:`~lpformats._numba_target.numba_vector_isa`): ``rows`` output pixels x ``vectors`` x
#: 16 int32 lanes of output channels, measured on the paper's ResNet-18 layers
#: (``benchmarks/bitserial_conv.py``). AVX-512 with VNNI (32 registers of 16 lanes): 28 sums,
#: 4 weight vectors and a broadcast pair (``vpdpwssd`` adds in place); 7 rows divide the pixel
#: counts of ResNet layers (multiples of 7^2). AVX-512 without VNNI needs a register for each
#: ``vpmaddwd`` product, so 7 rows spill a little, yet measured faster than 6 (no spills) or
#: 8 rows (``benchmarks/int16_tiles.py`` with Numba compiling for skylake-avx512, timed on a
#: Zen 4: 8.42 ms over the 11 layers against 8.77 for 6x4 and 8x4). AVX2 (16 registers of 8 lanes): 8
#: sums, 4 weight halves, a broadcast pair and a product.
TILES = {"AVX-512 VNNI": (7, 4), "AVX-512": (7, 4), "AVX2": (2, 2)}
_NARROW_TILE = (2, 1)


def register_tile() -> tuple[int, int]:
    """``(rows, vectors)`` of the register tile for the target Numba compiles for."""
    return TILES.get(numba_vector_isa(), _NARROW_TILE)


@njit(cache=True)
def _pack_panels(w, lanes, out):
    """Word ``out[p, r * kw + s, c // 2, j]`` = the int16 pair ``(w[r, s, c, p * lanes + j],
    w[r, s, c + 1, p * lanes + j])`` (low half first; ``c`` even) from ``w (kh, kw, C, O)``
    int16 into ``out (panels, kh * kw, pairs, lanes)`` int32, zero beyond ``C`` and ``O``.
    Reads ``w`` in order (2.5x faster on large weights than writing the panels in order)."""
    kh, kw, n_c, n_o = w.shape
    for r in range(kh):
        for s in range(kw):
            taps = w[r, s]
            for cc in range(out.shape[2]):
                low = taps[2 * cc]
                high = taps[min(2 * cc + 1, n_c - 1)]
                keep = np.int32(1 if 2 * cc + 1 < n_c else 0)  # an odd C's last pair: zero high halves
                for p in range(out.shape[0]):
                    row = out[p, r * kw + s, cc]
                    o0 = p * lanes
                    width = min(lanes, n_o - o0)
                    for j in range(width):
                        row[j] = (np.int32(low[o0 + j]) & 0xFFFF) | ((np.int32(high[o0 + j]) * keep) << 16)
                    row[width:] = 0
    return out


@dataclass(frozen=True)
class PackedInt16Weights:
    """Weights packed once for :func:`int16_conv2d` (:func:`pack_int16_weights`).

    ``panels``: int16 ``(panels, kh * kw, ceil(C / 2), 2 * lanes)``, the kernel's order (see the
    module docstring); ``kernel``: ``(kh, kw)``; ``channels``/``out_channels``: C and O;
    ``magnitude``: ``max |w|`` (for the int32 range check); ``lanes``: output channels per
    panel, the register tile's ``vectors * 16`` it was packed for."""

    panels: np.ndarray
    kernel: tuple[int, int]
    channels: int
    out_channels: int
    magnitude: int
    lanes: int


def pack_int16_weights(w: Any, layout: str = "NCHW") -> PackedInt16Weights:
    """Pack int16 convolution weights once for :func:`int16_conv2d` on this process's
    register tile (:func:`register_tile`).

    Args:
        w: int16 array (O, C, kh, kw) for ``layout="NCHW"`` or (kh, kw, C, O) for "NHWC".
        layout: the layout of ``w`` (the activations' layout is chosen per call).
    """
    return _pack_weights(w, _layout(layout), register_tile()[1] * LANES)


def _int16_codes(a: Any, name: str) -> np.ndarray:
    """``a`` as a 4-D int16 array, or a TypeError/ValueError naming ``name``."""
    arr = _integer_array(a, name)
    if arr.dtype != np.int16:
        raise TypeError(f"{name} must be int16; got {arr.dtype}")
    if arr.ndim != 4:
        raise ValueError(f"{name} must be 4-D; got shape {arr.shape}")
    return arr


def _pack_weights(w: Any, layout: str, lanes: int) -> PackedInt16Weights:
    """:func:`pack_int16_weights` into panels of ``lanes`` output channels."""
    wa = _int16_codes(w, "w")
    hwio = np.ascontiguousarray(wa.transpose(2, 3, 1, 0) if layout == "NCHW" else wa)
    kh, kw, c, o = hwio.shape
    words, n_panels = (c + 1) // 2, -(-o // lanes)
    panels = _pack_panels(hwio, lanes, _aligned_empty((n_panels, kh * kw, words, lanes), np.int32))
    return PackedInt16Weights(panels.view(np.int16), (kh, kw), c, o, _largest_magnitude(hwio), lanes)


@functools.cache
def _tile_kernel(rows: int, vectors: int) -> Callable:
    """The task kernel of register tile ``rows x vectors`` (constants of the compiled code:
    one Numba function per tile, cached on disk per tile and target)."""

    @njit(nogil=True, cache=True)
    def tiles_of(first, last, out, x_pairs, taps, panels, stride_h, stride_w):
        """Tasks ``first .. last - 1`` (task ``panel * tiles + tile``) of ``out (N, Ho, Wo,
        Op)`` int32 from ``x_pairs (N, Hp, Wp, Cp / 2)`` int32 words of channel pairs, tap
        offsets ``taps`` (words) and ``panels`` of :func:`_pack_panels` (``Op = panels *
        vectors * 16``)."""
        n, ho, wo, width = out.shape
        hp, wp, words = x_pairs.shape[1], x_pairs.shape[2], x_pairs.shape[3]
        pairs = panels.shape[2]
        panel_size = panels.shape[1] * pairs * panels.shape[3]
        pixels = n * ho * wo
        tiles = (pixels + rows - 1) // rows
        x_rows = np.empty(rows, dtype=np.intp)
        out_rows = np.empty(rows, dtype=np.intp)
        for task in range(first, last):
            panel = task // tiles
            first_pixel = (task - panel * tiles) * rows
            for m in range(rows):
                pixel = min(first_pixel + m, pixels - 1)
                img = pixel // (ho * wo)
                oh = (pixel // wo) % ho
                ow = pixel % wo
                x_rows[m] = ((img * hp + oh * stride_h) * wp + ow * stride_w) * words
                out_rows[m] = pixel * width + panel * vectors * LANES
            pair_tile(out, out_rows, x_pairs, x_rows, taps, pairs, panels, panel * panel_size, rows, vectors)

    return tiles_of


def int16_conv2d(
    x: Any,
    w: Any | PackedInt16Weights,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    layout: str = "NCHW",
) -> np.ndarray:
    """Integer convolution of int16 codes with int32 accumulation (cross-correlation, zero padding).

    Args:
        x: int16 array (N, C, H, W) for ``layout="NCHW"`` or (N, H, W, C) for "NHWC" (the
            kernel's own layout: no transposes).
        w: int16 array (O, C, kh, kw) for "NCHW" or (kh, kw, C, O) for "NHWC" (packed in
            this call), or :class:`PackedInt16Weights` from :func:`pack_int16_weights` (any
            layout: it was given when packing).
        stride, padding: an integer or a (height, width) pair.
        layout: "NCHW" or "NHWC", as for :func:`~lpformats.bitserial_conv2d`.

    Returns:
        int32 array (N, O, Ho, Wo) or (N, Ho, Wo, O), exact: a call whose
        ``C * kh * kw * max|x| * max|w|`` (the largest magnitude any partial sum could
        have) reaches 2**31 raises ValueError.
    """
    return _int16_conv2d(x, w, stride, padding, layout, register_tile())


def _largest_magnitude(a: np.ndarray) -> int:
    """``max |a|`` as a Python int (0 for an empty array), without a temporary array."""
    return max(-int(a.min(initial=0)), int(a.max(initial=0)))


def _int16_conv2d(
    x: Any, w: Any, stride: Any, padding: Any, layout: str, tile: tuple[int, int]
) -> np.ndarray:
    """:func:`int16_conv2d` with the register tile ``(rows, vectors)`` given."""
    layout = _layout(layout)
    rows, vectors = tile
    lanes = vectors * LANES
    xa = _int16_codes(x, "x")
    packed = w if isinstance(w, PackedInt16Weights) else _pack_weights(w, layout, lanes)
    if packed.lanes != lanes:
        raise ValueError(f"w was packed for {packed.lanes} output channels per panel; this call's register "
                         f"tile takes {lanes} (pack with pack_int16_weights in the process that runs it)")
    if layout == "NCHW":
        xa = xa.transpose(0, 2, 3, 1)
    n, h, wd, c = xa.shape
    (kh, kw), o = packed.kernel, packed.out_channels
    if packed.channels != c:
        raise ValueError(f"shape mismatch: x has C={c} input channels, w {packed.channels}")
    stride_hw, padding_hw = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    ho, wo = _geometry(h, wd, (kh, kw), stride_hw, padding_hw)
    bound = c * kh * kw * _largest_magnitude(xa) * packed.magnitude
    if bound > INT32_MAX:
        raise ValueError(f"C * kh * kw * max|x| * max|w| = {bound} does not fit int32 accumulation")
    ph, pw = padding_hw
    words = (c + 1) // 2
    if ph == pw == 0 and c % 2 == 0 and xa.flags.c_contiguous:
        x_pairs = xa.view(np.int32)  # already the kernel's layout: no copy
    else:
        xpad = np.zeros((n, h + 2 * ph, wd + 2 * pw, 2 * words), dtype=np.int16)
        xpad[:, ph : ph + h, pw : pw + wd, :c] = xa
        x_pairs = xpad.view(np.int32)
    n_panels = packed.panels.shape[0]
    tap_pixels = np.arange(kh)[:, None] * x_pairs.shape[2] + np.arange(kw)[None, :]  # offsets in pixels
    taps = tap_pixels.astype(np.intp).ravel() * words
    out = np.empty((n, ho, wo, n_panels * lanes), dtype=np.int32)
    tiles = -(-(n * ho * wo) // rows)
    kernel = _tile_kernel(rows, vectors)
    split(kernel, n_panels * tiles, out, x_pairs, taps, packed.panels, stride_hw[0], stride_hw[1])
    if n_panels * lanes != o:
        out = out[..., :o]
    return np.ascontiguousarray(out) if layout == "NHWC" else np.ascontiguousarray(out.transpose(0, 3, 1, 2))
