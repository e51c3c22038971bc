"""Bit-serial matmul of 1-4 bit integer codes, and the integer matmul it is measured against.

A b-bit operand is split into b bit planes, each packed 64 codes to a uint64 word along K.
One plane pair contributes ``weight * popcount(A_p AND B_q)`` per word pair, so a 1-bit
product of K terms costs K/64 AND + POPCNT operations (8 words per VPOPCNTQ on AVX-512).
Code modes (``signed=``, for both operands or as an ``(a, b)`` pair):

====================  ===================  =========================================
mode                  codes                value of planes ``bit_0 .. bit_{b-1}``
====================  ===================  =========================================
``False``/"unsigned"  0 .. 2**b - 1        ``sum_p 2**p * bit_p``
``True``/"signed"     -2**(b-1) .. 2**(b-1)-1  two's complement: the MSB plane weighs ``-2**(b-1)``
``"binary"`` (b = 1)  -1 or +1            ``2 * bit_0 - 1`` (bit set for +1)
``"bipolar"``         odd -(2**b-1) .. 2**b-1  ``2 * sum_p 2**p * bit_p - (2**b - 1)``: b = 1 is
                      (b = 2: -3, -1, 1, 3)    binary, b = 2 the paper's -3, -1, 1, 3 weights
====================  ===================  =========================================

Binary times binary is the XNOR-popcount of binarized networks:
``sum_k a_k b_k = K - 2 * popcount(A XOR B)`` (XOR counts disagreements). A binary operand
against an integer one uses ``a = 2*bit - 1`` and a row/column-sum correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lpformats import _bitserial_kernel as kernel
from lpformats.arrays import is_torch_tensor

#: Bit widths bitserial_matmul accepts.
MIN_BITS, MAX_BITS = 1, 4
_MODES = {False: "unsigned", True: "signed", "unsigned": "unsigned", "signed": "signed", "binary": "binary",
          "bipolar": "bipolar"}

SignedSpec = bool | str | tuple[bool | str, bool | str]


@dataclass(frozen=True)
class _Coding:
    """How the codes of one operand map to bit planes and plane weights."""

    bits: int
    mode: str

    @property
    def valid_range(self) -> tuple[int, int]:
        if self.mode == "unsigned":
            return 0, (1 << self.bits) - 1
        if self.mode == "signed":
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        top = (1 << self.bits) - 1
        return -top, top

    @property
    def bipolar(self) -> bool:
        """Codes are odd numbers ``2 * pattern - (2**bits - 1)`` ("binary" is 1-bit bipolar)."""
        return self.mode in ("binary", "bipolar")

    @property
    def offset_shift(self) -> tuple[int, int]:
        """``pattern = ((v + offset) >> shift) & (2**bits - 1)``: bipolar -3, -1, 1, 3 -> 0..3.
        A code is valid when it lies in ``valid_range`` and ``v + offset`` is a multiple of
        ``2**shift`` (bipolar codes are odd)."""
        return ((1 << self.bits) - 1, 1) if self.bipolar else (0, 0)

    def plane_weights(self) -> np.ndarray:
        """Value of each set bit of the pattern (binary: of ``bit``, see ``affine``)."""
        w = np.array([1 << p for p in range(self.bits)], dtype=np.int64)
        if self.mode == "signed":
            w[-1] = -w[-1]
        return w

    @property
    def affine(self) -> tuple[int, int]:
        """``(alpha, gamma)`` with ``value = alpha * plane_value + gamma``."""
        return (2, 1 - (1 << self.bits)) if self.bipolar else (1, 0)

    def describe(self) -> str:
        lo, hi = self.valid_range
        if self.mode == "binary":
            return "{-1, +1} (binary)"
        if self.mode == "bipolar":
            return f"the odd numbers in [{lo}, {hi}] ({self.bits}-bit bipolar)"
        return f"[{lo}, {hi}] ({self.bits}-bit {self.mode})"


def _mode(value: Any, name: str) -> str:
    key = value if isinstance(value, (bool, str)) else None
    if key not in _MODES:
        raise ValueError(
            f"{name} must be False/'unsigned', True/'signed', 'binary' or 'bipolar', or an (a, b) pair of "
            f"those; "
            f"got {value!r}"
        )
    return _MODES[key]


def _modes(signed: SignedSpec) -> tuple[str, str]:
    if isinstance(signed, tuple):
        if len(signed) != 2:
            raise ValueError(f"signed as a tuple must be (a_mode, b_mode); got {signed!r}")
        return _mode(signed[0], "signed[0]"), _mode(signed[1], "signed[1]")
    mode = _mode(signed, "signed")
    return mode, mode


def _coding(bits: Any, mode: str, name: str) -> _Coding:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"{name} must be an int in {MIN_BITS}..{MAX_BITS}; got {type(bits).__name__}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"{name} must be in {MIN_BITS}..{MAX_BITS}; got {bits}")
    if mode == "binary" and bits != 1:
        raise ValueError(f"{name} must be 1 for binary ({{-1, +1}}) codes; got {bits}")
    return _Coding(int(bits), mode)


def _integer_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a numpy integer array (CPU torch tensors zero-copy), or TypeError."""
    if is_torch_tensor(x):
        if x.device.type != "cpu":
            raise TypeError(f"{name} is a torch tensor on {x.device}; only CPU tensors are supported")
        x = x.detach().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy integer array or CPU torch tensor; got {type(x).__name__}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype; got {x.dtype}")
    return x


def _as_batched(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` (..., R, C) as a C-contiguous (batch, R, C) array."""
    if x.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., rows, cols); got shape {x.shape}")
    batch = int(np.prod(x.shape[:-2], dtype=np.int64))
    return np.ascontiguousarray(x).reshape((batch, *x.shape[-2:]))


def _batch_plan(
    a_shape: tuple, b_shape: tuple, names: tuple[str, str]
) -> tuple[tuple, np.ndarray, np.ndarray]:
    """Broadcast batch shape of ``a @ b`` and, per output batch, the index into each
    operand's flattened batch."""
    na, nb = names
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(
            f"{na} and {nb} must have at least 2 dimensions (..., rows, cols); "
            f"got shapes {a_shape} and {b_shape}"
        )
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(
            f"shape mismatch: {na} is {a_shape} and {nb} is {b_shape}; {na}'s last dimension "
            f"(K={a_shape[-1]}) must equal {nb}'s second to last ({b_shape[-2]})"
        )
    try:
        batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(
            f"batch dimensions of {na} {a_shape[:-2]} and {nb} {b_shape[:-2]} do not broadcast"
        ) from None

    def index(shape: tuple) -> np.ndarray:
        flat = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
        return np.ascontiguousarray(np.broadcast_to(flat, batch).reshape(-1))

    return batch, index(a_shape[:-2]), index(b_shape[:-2])


def _first_bad(x: np.ndarray, coding: _Coding) -> tuple[int, tuple[int, ...]]:
    lo, hi = coding.valid_range
    offset, shift = coding.offset_shift
    bad = (x < lo) | (x > hi) | (((x.astype(np.int64) + offset) & ((1 << shift) - 1)) != 0)
    first = np.unravel_index(int(np.argmax(bad)), x.shape)
    return int(np.count_nonzero(bad)), tuple(int(i) for i in first)


def _pack(x: np.ndarray, coding: _Coding, axis: int, name: str) -> np.ndarray:
    """Planes of the checked integer array ``x`` (..., R, C) packed along ``axis`` (-1: C,
    -2: R), shaped (batch, P, R, W) or (batch, P, W, C)."""
    x3 = _as_batched(x, name)
    nb, nr, nc = x3.shape
    lo, hi = coding.valid_range
    offset, shift = coding.offset_shift
    args = (coding.bits, lo, hi, offset, shift)
    if axis == -1:
        nw = -(-nc // 64)
        out = np.empty((nb, coding.bits, nr, nw), dtype=np.uint64)
        bad = np.empty((nb, nr), dtype=np.int64)
        if out.size or bad.size:
            kernel.pack_along_last(x3, *args, out, bad)
    else:
        nw = -(-nr // 64)
        out = np.empty((nb, coding.bits, nw, nc), dtype=np.uint64)
        bad = np.empty((nb, nw), dtype=np.int64)
        if bad.size:
            kernel.pack_along_rows(x3, *args, out, bad)
    if bad.size and bad.any():
        count, first = _first_bad(x, coding)
        raise ValueError(
            f"{name} has {count} code(s) outside {coding.describe()}; the first is "
            f"{name}[{', '.join(map(str, first))}] = {x[first]}"
        )
    return out


def pack_bitplanes(
    codes: Any, bits: int, *, signed: bool | str = False, axis: int = -1
) -> np.ndarray:
    """Bit planes of integer ``codes`` packed 64 to a uint64 word along ``axis``.

    Args:
        codes: integer array (numpy or CPU torch), shape (..., R, C); values must be codes of
            the mode (module docstring table), else ValueError with the count and first index.
        bits: code width b, 1..4 (binary: 1).
        signed: False/"unsigned", True/"signed" (two's complement), "binary" ({-1, +1}) or
            "bipolar" (odd codes, see the module docstring).
        axis: -1 packs along C (a left operand, K last): result (..., b, R, ceil(C/64));
            -2 packs along R (a right operand, K first): result (..., b, ceil(R/64), C).

    Bit ``k % 64`` of word ``k // 64`` of plane p is bit p of the code's b-bit two's
    complement pattern (binary: 1 for +1); bits past the end of the packed axis are 0.
    """
    if axis not in (-1, -2):
        raise ValueError(f"axis must be -1 (pack along the last axis) or -2; got {axis!r}")
    x = _integer_array(codes, "codes")
    coding = _coding(bits, _mode(signed, "signed"), "bits")
    planes = _pack(x, coding, axis, "codes")
    words = planes.shape[-1] if axis == -1 else planes.shape[-2]
    lead = x.shape[:-2]
    tail = (x.shape[-2], words) if axis == -1 else (words, x.shape[-1])
    return planes.reshape((*lead, coding.bits, *tail))


def _plane_sums(planes: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Sum over K of the plane values: (batch, R) for left planes (batch, P, R, W) (axis
    -1), (batch, C) for right planes (batch, Q, W, C) (axis -2)."""
    counts = np.bitwise_count(planes).astype(np.int64).sum(axis=axis)
    return np.ascontiguousarray(np.einsum("bp...,p->b...", counts, weights))


def bitserial_matmul(
    a_codes: Any, b_codes: Any, a_bits: int, b_bits: int, signed: SignedSpec = False
) -> np.ndarray:
    """``np.matmul(a_codes, b_codes)`` in int64 for 1-4 bit codes, computed bit-serially.

    Args:
        a_codes: integer array (..., M, K) of ``a_bits``-bit codes (numpy or CPU torch).
        b_codes: integer array (..., K, N) of ``b_bits``-bit codes; batch dimensions
            broadcast as in ``np.matmul``.
        a_bits, b_bits: code widths 1..4 (1 for binary).
        signed: code mode of both operands, or an ``(a_mode, b_mode)`` pair: False or
            "unsigned" (0..2**b-1), True or "signed" (two's complement, -2**(b-1)..2**(b-1)-1),
            "binary" ({-1, +1}, b = 1; binary times binary uses XNOR-popcount), "bipolar" (odd
            codes -(2**b-1) .. 2**b-1, e.g. -3, -1, 1, 3 for b = 2; 1-bit bipolar is binary).

    Returns:
        int64 numpy array (..., M, N), bit-exactly ``np.matmul`` of the codes as int64
        (a torch tensor if ``a_codes`` is one).

    Raises:
        TypeError: non-integer arrays or bit widths.
        ValueError: bit widths outside 1..4 (or not 1 for binary), fewer than 2 dimensions,
            K or batch shapes that do not match, codes outside their range (count and first
            index are named).

    Each operand is packed once (:func:`pack_bitplanes`); then every plane pair (p, q) adds
    ``w_p * w_q * popcount(A_p AND B_q)`` word by word over K, in TILE_M x TILE_N output tiles
    run in parallel (Numba threads).
    """
    a = _integer_array(a_codes, "a_codes")
    b = _integer_array(b_codes, "b_codes")
    a_mode, b_mode = _modes(signed)
    ca = _coding(a_bits, a_mode, "a_bits")
    cb = _coding(b_bits, b_mode, "b_bits")
    batch, a_batch, b_batch = _batch_plan(a.shape, b.shape, ("a_codes", "b_codes"))
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    ap = _pack(a, ca, -1, "a_codes")
    bp = _pack(b, cb, -2, "b_codes")
    out = np.empty((len(a_batch), m, n), dtype=np.int64)
    if ca.bipolar and cb.bipolar and ca.bits == cb.bits == 1:
        # a.b = K - 2 popcount(A xor B): XOR counts the k where a_k != b_k
        weights, use_xor, const = np.full((1, 1), -2, dtype=np.int64), True, k
        row_terms = np.zeros((ap.shape[0], m), dtype=np.int64)
        col_terms = np.zeros((bp.shape[0], n), dtype=np.int64)
    else:
        # a = alpha_a a' + gamma_a with a' = sum_p w_p A_p (likewise b), so
        # a.b = alpha_a alpha_b a'.b' + alpha_a gamma_b sum_k a' + gamma_a alpha_b sum_k b'
        #       + K gamma_a gamma_b
        (alpha_a, gamma_a), (alpha_b, gamma_b) = ca.affine, cb.affine
        wa, wb = ca.plane_weights(), cb.plane_weights()
        weights = alpha_a * alpha_b * np.outer(wa, wb)
        use_xor, const = False, k * gamma_a * gamma_b
        row_terms = alpha_a * gamma_b * _plane_sums(ap, wa, -1)
        col_terms = gamma_a * alpha_b * _plane_sums(bp, wb, -2)
    if out.size:
        kernel.bitserial_tiles(ap, bp, a_batch, b_batch, weights, use_xor, const, row_terms, col_terms, out)
    result = out.reshape((*batch, m, n))
    if is_torch_tensor(a_codes):
        import torch

        return torch.from_numpy(result)
    return result


def int_matmul(a: Any, b: Any) -> np.ndarray:
    """Integer reference and speed baseline: ``np.matmul(a, b)`` with int64 products and sums.

    Args:
        a: integer array (..., M, K), int8/int16/uint8/uint16 codes (numpy or CPU torch).
        b: integer array (..., K, N) of the same dtypes; batch dimensions broadcast.

    Returns:
        int64 numpy array (..., M, N), exact (no overflow is possible for K < 2**31).

    This is "our own int16 integer matmul": tiled (TILE_M x TILE_N outputs, K in blocks of
    INT_TILE_K), Numba-parallel over tiles, loop order i, k, j so that the innermost loop over
    contiguous columns vectorizes (int16 loads widened to int64 lanes).
    """
    x = _integer_array(a, "a")
    y = _integer_array(b, "b")
    for arr, name in ((x, "a"), (y, "b")):
        if arr.dtype.itemsize > 2:
            raise TypeError(f"{name} must have an 8- or 16-bit integer dtype; got {arr.dtype}")
    batch, a_batch, b_batch = _batch_plan(x.shape, y.shape, ("a", "b"))
    m, n = x.shape[-2], y.shape[-1]
    out = np.empty((len(a_batch), m, n), dtype=np.int64)
    if out.size:
        kernel.int_tiles(_as_batched(x, "a"), _as_batched(y, "b"), a_batch, b_batch, out)
    return out.reshape((*batch, m, n))
