"""``bitserial_conv2d``: 2-D convolution of 1-4 bit integer codes by AND + popcount on bit
planes packed along input channels (Cowan et al., CGO 2020), with generated, tunable kernels.

Both operands are split into bit planes; the activation planes are packed 64 input channels
to a uint64 word per pixel (zero words pad the image), the weight planes likewise per tap and
output channel, output channels innermost (the vectorised axis). With each code written as
``value = alpha * v' + gamma`` (``v' = sum_p w_p bit_p``: unsigned ``alpha, gamma = 1, 0``;
signed: the same with the MSB plane weighing ``-2**(b-1)``; bipolar ``2, -(2**b - 1)``), one
output is, summing over the taps (r, s) that fall inside the image and all channels::

    sum x w = ax aw sum x'w' + ax gw sum x' + gx aw sum w' + gx gw * (taps inside) * C

The first sum is the bit-serial part: ``sum_{p,q} w_p w_q popcount(X_p AND W_q)`` over the
packed words (padding pixels and channels past C are zero words, so they add nothing); the
others are exact corrections from per-pixel and per-weight sums (zero for unipolar
activations unless the weights are bipolar).

Accumulation is int32. Range proof: every partial sum is bounded by the sum of the absolute
values of its terms, at most ``K * B`` with ``K = C * kh * kw`` and
``B = |ax aw| (2**a - 1)(2**b - 1) + |ax gw| (2**a - 1) + |gx aw| (2**b - 1) + |gx gw|``
(``sum_p |w_p| = 2**a - 1`` in every mode); a call refuses ``K * B >= 2**31`` (e.g. 2-bit
unsigned activations with 2-bit bipolar weights: B = 24, so K may reach 89 million). Note
that int16 would not do for the paper's last ResNet-18 layer at A2W2: K = 512 * 9 = 4608 and
|out| can reach 4608 * 3 * 3 = 41472 > 32767.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lpformats.arrays import is_torch_tensor
from lpformats.bitserial import SignedSpec, _Coding, _coding, _first_bad, _integer_array, _modes
from lpformats.bitserial_conv import codegen
from lpformats.bitserial_conv._pack_kernel import pack_pixels
from lpformats.bitserial_conv.schedule import DEFAULT, Schedule
from lpformats.bitserial_conv.threads import split
from lpformats.conv import _pair

LAYOUTS = ("NCHW", "NHWC")
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class PackedConvWeights:
    """Weights packed once for :func:`bitserial_conv2d` (:func:`pack_conv_weights`).

    ``planes``: (Q, kh, kw, CW, O) uint64, bit ``c % 64`` of word ``c // 64`` is bit q of the
    pattern of input channel c; ``sums``: (kh, kw, O) int64, ``sum_c w'`` per tap and output
    channel (for the correction terms); ``channels``: C; ``layout``: the layout the codes
    came in."""

    planes: np.ndarray
    sums: np.ndarray
    coding: _Coding
    channels: int
    layout: str

    @property
    def kernel(self) -> tuple[int, int]:
        return self.planes.shape[1], self.planes.shape[2]

    @property
    def out_channels(self) -> int:
        return self.planes.shape[4]


def _layout(layout: Any) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC'; got {layout!r}")
    return layout


def _check_codes(x: np.ndarray, coding: _Coding, name: str) -> None:
    count, first = _first_bad(x, coding)
    if count:
        raise ValueError(
            f"{name} has {count} code(s) outside {coding.describe()}; the first is "
            f"{name}[{', '.join(map(str, first))}] = {x[first]}"
        )


def pack_conv_weights(
    w_codes: Any, w_bits: int, *, signed: bool | str = False, layout: str = "NCHW"
) -> PackedConvWeights:
    """Pack convolution weights once (as an inference engine does offline).

    Args:
        w_codes: integer array (numpy or CPU torch): (O, C, kh, kw) for ``layout="NCHW"``
            (torch's layout), (kh, kw, C, O) for ``"NHWC"`` (TensorFlow's and TVM's HWIO).
        w_bits: code width 1..4.
        signed: the weights' code mode: False/"unsigned", True/"signed", "binary", "bipolar".
        layout: "NCHW" or "NHWC".
    """
    layout = _layout(layout)
    w = _integer_array(w_codes, "w_codes")
    coding = _coding(w_bits, _modes(signed)[0], "w_bits")
    if w.ndim != 4:
        expected = "(O, C, kh, kw)" if layout == "NCHW" else "(kh, kw, C, O)"
        raise ValueError(f"w_codes must be 4-D {expected} for layout {layout!r}; got shape {w.shape}")
    _check_codes(w, coding, "w_codes")
    hwio = w.transpose(2, 3, 1, 0) if layout == "NCHW" else w
    kh, kw, c, o = hwio.shape
    if min(kh, kw, c, o) < 1:
        raise ValueError(
            f"w_codes must have at least one output channel, input channel and tap; got shape {w.shape}"
        )
    offset, shift = coding.offset_shift
    pattern = (hwio.astype(np.int64) + offset) >> shift
    n_words = -(-c // 64)
    padded = np.zeros((kh, kw, n_words * 64, o), dtype=np.uint64)
    shifts = (np.arange(n_words * 64, dtype=np.uint64) % np.uint64(64))[:, None]
    planes = np.empty((coding.bits, kh, kw, n_words, o), dtype=np.uint64)
    for q in range(coding.bits):
        padded[:, :, :c] = ((pattern >> q) & 1).astype(np.uint64)
        planes[q] = np.bitwise_or.reduce((padded << shifts).reshape(kh, kw, n_words, 64, o), axis=3)
    return PackedConvWeights(planes, pattern.sum(axis=2), coding, c, layout)


def _geometry(
    h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> tuple[int, int]:
    ho = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    wo = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(
            f"the {kernel[0]}x{kernel[1]} kernel does not fit the padded input "
            f"({h + 2 * padding[0]}x{w + 2 * padding[1]}): the output would be {ho}x{wo}"
        )
    return ho, wo


def _range_bound(xc: _Coding, wc: _Coding, taps: int) -> int:
    """Largest |partial sum| of one output (module docstring)."""
    (ax, gx), (aw, gw) = xc.affine, wc.affine
    sx, sw = (1 << xc.bits) - 1, (1 << wc.bits) - 1
    return taps * (abs(ax * aw) * sx * sw + abs(ax * gw) * sx + abs(gx * aw) * sw + abs(gx * gw))


def _window_sums(
    image: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """``(..., Ho, Wo, kh, kw)`` windows of ``image (..., Hp, Wp)`` at the output positions."""
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel, axis=(-2, -1))
    return windows[..., :: stride[0], :: stride[1], :, :][..., : out_hw[0], : out_hw[1], :, :]


def bitserial_conv2d(
    x_codes: Any,
    w_codes: Any,
    x_bits: int,
    w_bits: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    signed: SignedSpec = False,
    layout: str = "NCHW",
    *,
    schedule: Schedule | str = "auto",
) -> Any:
    """Cross-correlation (as ``torch.nn.functional.conv2d``, no bias, zero padding) of integer
    codes, computed bit-serially; equal to the int64 convolution of the codes, bit for bit.

    Args:
        x_codes: activations, integer array (numpy or CPU torch), (N, C, H, W) for
            ``layout="NCHW"`` or (N, H, W, C) for ``"NHWC"``.
        w_codes: weights, (O, C, kh, kw) for "NCHW" or (kh, kw, C, O) for "NHWC", or a
            :class:`PackedConvWeights` from :func:`pack_conv_weights` (same bits, mode, layout).
        x_bits, w_bits: code widths 1..4 (1 for binary).
        stride: an integer >= 1 or a (height, width) pair.
        padding: zero padding, an integer >= 0 or a (height, width) pair (both sides alike).
        signed: code mode of both operands, or an ``(x_mode, w_mode)`` pair, as in
            :func:`~lpformats.bitserial_matmul`: False/"unsigned" (0..2**b-1), True/"signed"
            (two's complement), "binary" (-1, +1), "bipolar" (odd codes -(2**b-1)..2**b-1,
            e.g. -3, -1, 1, 3). The paper's setting: ``("unsigned", "bipolar")``.
        layout: "NCHW" or "NHWC" (the fast one: no transposes).
        schedule: a :class:`Schedule`, "default" (the fixed untuned schedule) or "auto" (the
            tuner's cached choice for this shape, bit widths and CPU, else the default; see
            :func:`~lpformats.bitserial_conv.tune_conv2d`). Every schedule gives the same result.

    Returns:
        int32 array (N, O, Ho, Wo) or (N, Ho, Wo, O) (torch if ``x_codes`` is a tensor);
        int32 holds every partial sum exactly (proof in the module docstring).

    Raises:
        TypeError: non-integer arrays or bit widths.
        ValueError: bad bits, modes, layout, stride or padding; wrong ranks; channel counts
            that differ; a kernel larger than the padded input; codes outside their mode's
            range (count and first index named); a reduction too long for int32.
    """
    call = prepare(x_codes, w_codes, x_bits, w_bits, stride, padding, signed, layout)
    if isinstance(schedule, str):
        if schedule not in ("auto", "default"):
            raise ValueError(f"schedule must be a Schedule, 'auto' or 'default'; got {schedule!r}")
        if schedule == "auto":
            from lpformats.bitserial_conv.tuner import cached_schedule

            schedule = cached_schedule(call.workload)
        else:
            schedule = DEFAULT
    elif not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, 'auto' or 'default'; got {type(schedule).__name__}")
    out = call.run(schedule)
    if call.layout == "NCHW":
        out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    if is_torch_tensor(x_codes):
        import torch

        return torch.from_numpy(out)
    return out


@dataclass(frozen=True)
class Call:
    """One checked convolution: NHWC activation codes, packed weights and the geometry."""

    nhwc: np.ndarray
    xc: _Coding
    packed: PackedConvWeights
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_hw: tuple[int, int]
    layout: str

    @property
    def workload(self) -> Workload:
        n, h, w, c = self.nhwc.shape
        packed = self.packed
        return Workload(
            n,
            h,
            w,
            c,
            packed.out_channels,
            *packed.kernel,
            self.stride,
            self.padding,
            self.xc.bits,
            packed.coding.bits,
            self.xc.mode,
            packed.coding.mode,
        )

    def run(self, schedule: Schedule) -> np.ndarray:
        """int32 (N, Ho, Wo, O) under ``schedule`` (:func:`run_packed`)."""
        return run_packed(self.nhwc, self.xc, self.packed, self.stride, self.padding, self.out_hw, schedule)


def prepare(
    x_codes: Any,
    w_codes: Any,
    x_bits: int,
    w_bits: int,
    stride: Any,
    padding: Any,
    signed: SignedSpec,
    layout: str,
) -> Call:
    """Check the arguments of :func:`bitserial_conv2d` (weights packed unless they are) into a
    :class:`Call`; raises as :func:`bitserial_conv2d` documents (activation codes are checked
    while they are packed)."""
    layout = _layout(layout)
    x = _integer_array(x_codes, "x_codes")
    x_mode, w_mode = _modes(signed)
    xc = _coding(x_bits, x_mode, "x_bits")
    if isinstance(w_codes, PackedConvWeights):
        packed = w_codes
        if (packed.coding.bits, packed.coding.mode, packed.layout) != (w_bits, w_mode, layout):
            raise ValueError(
                f"w_codes was packed as {packed.coding.bits}-bit {packed.coding.mode} "
                f"{packed.layout}; this call asks for {w_bits}-bit {w_mode} {layout}"
            )
    else:
        packed = pack_conv_weights(w_codes, w_bits, signed=w_mode, layout=layout)
    stride_hw = _pair(stride, "stride", 1)
    padding_hw = _pair(padding, "padding", 0)
    if x.ndim != 4:
        dims = "N, C, H, W" if layout == "NCHW" else "N, H, W, C"
        raise ValueError(f"x_codes must be 4-D ({dims}) for layout {layout!r}; got shape {x.shape}")
    nhwc = x.transpose(0, 2, 3, 1) if layout == "NCHW" else x
    h, w, c = nhwc.shape[1:]
    if c != packed.channels:
        raise ValueError(f"shape mismatch: x_codes has C={c} input channels, w_codes {packed.channels}")
    out_hw = _geometry(h, w, packed.kernel, stride_hw, padding_hw)
    taps = c * packed.kernel[0] * packed.kernel[1]
    bound = _range_bound(xc, packed.coding, taps)
    if bound > INT32_MAX:
        raise ValueError(
            f"C * kh * kw = {taps} is too long a reduction for int32 accumulation at these bit "
            f"widths and modes (bound {bound} >= 2**31)"
        )
    return Call(nhwc, xc, packed, stride_hw, padding_hw, out_hw, layout)


def run_packed(
    nhwc: np.ndarray,
    xc: _Coding,
    packed: PackedConvWeights,
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_hw: tuple[int, int],
    schedule: Schedule,
) -> np.ndarray:
    """The convolution of NHWC codes with packed weights under ``schedule``: int32
    (N, Ho, Wo, O). Packs the activations (and checks their codes), then runs the kernel."""
    n, h, w, c = nhwc.shape
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    n_words = packed.planes.shape[3]
    if schedule.layout == "pixel_planes":
        buffer = np.zeros((n, hp, wp, xc.bits, n_words), dtype=np.uint64)
        xp = buffer
    else:
        buffer = np.zeros((n, xc.bits, hp, wp, n_words), dtype=np.uint64)
        xp = buffer.transpose(0, 2, 3, 1, 4)
    x_strides = np.array([*(s // 8 for s in xp.strides[:4]), xc.bits, n_words], dtype=np.int64)
    pix_sum = np.zeros((n, hp, wp), dtype=np.int32)
    bad = np.empty((n, h), dtype=np.int64)
    lo, hi = xc.valid_range
    offset, shift = xc.offset_shift
    split(pack_pixels, n * h, nhwc, lo, hi, offset, shift, padding[0], padding[1], xp, pix_sum, bad)
    if bad.any():
        layout_x = nhwc if packed.layout == "NHWC" else nhwc.transpose(0, 3, 1, 2)
        _check_codes(layout_x, xc, "x_codes")
    wc = packed.coding
    (ax, gx), (aw, gw) = xc.affine, wc.affine
    weights = (ax * aw * np.outer(xc.plane_weights(), wc.plane_weights())).astype(np.int32)
    kernel = packed.kernel
    ho, wo = out_hw
    o = packed.out_channels
    if gw:
        window_totals = _window_sums(pix_sum, kernel, stride, out_hw).sum(axis=(-2, -1))
        row_term = (ax * gw * window_totals).astype(np.int32)
    else:
        row_term = np.zeros((n, ho, wo), dtype=np.int32)
    if gx:
        inside = np.zeros((hp, wp), dtype=np.int64)
        inside[padding[0] : padding[0] + h, padding[1] : padding[1] + w] = 1
        taps_inside = _window_sums(inside, kernel, stride, out_hw)  # (Ho, Wo, kh, kw)
        col = gx * aw * np.einsum("hwrs,rso->hwo", taps_inside, packed.sums)
        col += gx * gw * c * taps_inside.sum(axis=(2, 3))[:, :, None]
        col_term, has_col = col.astype(np.int32), True
    else:
        col_term, has_col = np.zeros((1, 1, 1), dtype=np.int32), False
    out = np.empty((n, ho, wo, o), dtype=np.int32)
    tasks = n * -(-ho // schedule.tile_oh) * -(-wo // schedule.tile_ow) * -(-o // schedule.tile_co)
    kernel_fn = codegen.kernel(schedule.order, schedule.unroll)
    split(
        kernel_fn,
        tasks,
        buffer.reshape(-1),
        x_strides,
        packed.planes,
        weights,
        stride[0],
        stride[1],
        schedule.tile_oh,
        schedule.tile_ow,
        schedule.tile_co,
        schedule.parallel == "channels",
        row_term,
        col_term,
        has_col,
        out,
    )
    return out


@dataclass(frozen=True)
class Workload:
    """What a tuned schedule is chosen for: one convolution's shape, bits and modes."""

    n: int
    h: int
    w: int
    c: int
    o: int
    kh: int
    kw: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    x_bits: int
    w_bits: int
    x_mode: str
    w_mode: str

    def key(self) -> str:
        return (
            f"n{self.n}_h{self.h}_w{self.w}_c{self.c}_o{self.o}_k{self.kh}x{self.kw}_s{self.stride[0]}x"
            f"{self.stride[1]}_p{self.padding[0]}x{self.padding[1]}_a{self.x_bits}{self.x_mode}_"
            f"w{self.w_bits}{self.w_mode}"
        )
