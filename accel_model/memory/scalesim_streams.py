"""SCALE-Sim 3.0.0's address streams of one layer: operand, prefetch and demand matrices.

The exact memory model (:mod:`accel_model.memory.scalesim`) needs what SCALE-Sim feeds its
buffers. References are to the ``scalesim`` 3.0.0 wheel (``scalesim/...``):

* operand matrices (``compute/operand_matrix.py``): the im2col ifmap ``M x K``
  (``calc_ifmap_elem_addr``, lines 195-222: ``-1`` where a window leaves the ifmap because the
  output size is rounded up), the filter ``K x N`` (``calc_filter_elem_addr``, lines 371-381); a
  GEMM row ``M, N, K`` is the conv ``H=M, W=K, R=1, S=K, C=1`` (``topology_utils.py``
  ``load_arrays_gemm``);
* prefetch matrices (the order in which a read buffer is filled): the operand cut into folds of
  the array side, stacked, and read row-major or by anti-diagonals (``compute/systolic_compute_ws.py``
  lines 128-206, ``_os.py`` 103-196, ``_is.py`` 90-160);
* demand matrices (what the array asks for, one line per cycle): per fold (column folds outer)
  the slice padded with ``-1``, flipped, framed by ``-1`` lines and skewed
  (``_ws.py`` 236-445, ``_os.py`` 250-430, ``_is.py`` 190-330).

Addresses here omit SCALE-Sim's per-operand offsets (each buffer only sees its own operand, and
only the identity of addresses matters). Everything is numpy, built only for layers whose read
buffers can miss; the ofmap writes need only per-line counts (:func:`ofmap_line_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Geometry:
    """A SCALE-Sim layer: ifmap ``h x w x c``, ``n`` filters of ``r x s``, square ``stride``."""

    h: int
    w: int
    r: int
    s: int
    c: int
    n: int
    stride: int

    @classmethod
    def gemm(cls, M: int, N: int, K: int) -> Geometry:
        """SCALE-Sim's conv form of the GEMM ``(M x K) @ (K x N)`` (``load_arrays_gemm``)."""
        return cls(h=M, w=K, r=1, s=K, c=1, n=N, stride=1)

    @property
    def out_h(self) -> int:
        return -(-(self.h - self.r + self.stride) // self.stride)

    @property
    def out_w(self) -> int:
        return -(-(self.w - self.s + self.stride) // self.stride)

    @property
    def M(self) -> int:  # noqa: N802 (SCALE-Sim's GEMM names)
        return self.out_h * self.out_w

    @property
    def K(self) -> int:  # noqa: N802
        return self.r * self.s * self.c

    def valid_ifmap_elements(self) -> int:
        """Entries of the im2col ifmap that are addresses (not ``-1``)."""
        rows = sum(min(self.r, max(0, self.h - o * self.stride)) for o in range(self.out_h))
        cols = sum(min(self.s, max(0, self.w - o * self.stride)) for o in range(self.out_w))
        return rows * cols * self.c


def ifmap_matrix(g: Geometry) -> np.ndarray:
    """The ``M x K`` im2col ifmap addresses (``operand_matrix.py`` lines 195-222), ``-1`` outside."""
    i = np.arange(g.M)[:, None]
    j = np.arange(g.K)[None, :]
    orow, ocol = np.divmod(i, g.out_w)
    irow, icol = orow * g.stride, ocol * g.stride
    crow, k = np.divmod(j, g.s * g.c)
    ccol, cch = np.divmod(k, g.c)
    valid = (crow + irow < g.h) & (ccol + icol < g.w)
    addr = ((crow * g.w + ccol) * g.c + cch) + (irow * g.w + icol) * g.c
    return np.where(valid, addr, -1)


def filter_matrix(g: Geometry) -> np.ndarray:
    """The ``K x N`` filter addresses ``j * K + i`` (``operand_matrix.py`` lines 371-381)."""
    return np.arange(g.n)[None, :] * g.K + np.arange(g.K)[:, None]


def fold_columns(x: np.ndarray, width: int) -> list[np.ndarray]:
    """``x`` cut into column folds of ``width``, the last padded with ``-1``."""
    out = []
    for start in range(0, x.shape[1], width):
        part = x[:, start : start + width]
        if part.shape[1] < width:
            part = np.concatenate([part, np.full((x.shape[0], width - part.shape[1]), -1)], axis=1)
        out.append(part)
    return out


def anti_diagonal_order(x: np.ndarray) -> np.ndarray:
    """Elements of ``x`` by anti-diagonals, bottom row first within one (``create_*_prefetch_mat``)."""
    rows, cols = x.shape
    diag = np.arange(rows + cols - 1)
    top = np.minimum(diag, rows - 1)
    length = top - np.maximum(0, diag - cols + 1) + 1
    first = np.cumsum(length) - length
    step = np.arange(rows * cols) - np.repeat(first, length)
    row = np.repeat(top, length) - step
    col = np.repeat(diag, length) - row
    return x[row, col]


def prefetch_stream(
    ifmap: np.ndarray, filt: np.ndarray, dataflow: str, rows: int, cols: int, operand: str
) -> np.ndarray:
    """The valid addresses of a read buffer's prefetch matrix, in fill order (operand matrices given)."""
    if operand == "ifmap":
        source, width, diagonal = {
            "ws": (ifmap, rows, True),
            "os": (ifmap.T, rows, True),
            "is": (ifmap.T, cols, False),
        }[dataflow]
    else:
        source, width, diagonal = {
            "ws": (filt, cols, False),
            "os": (filt, cols, True),
            "is": (filt.T, rows, True),
        }[dataflow]
    stacked = np.concatenate(fold_columns(source, width), axis=0)
    flat = anti_diagonal_order(stacked) if diagonal else stacked.ravel()
    return flat[flat != -1]


def skew(block: np.ndarray) -> np.ndarray:
    """SCALE-Sim's ``skew_matrix``: column ``c`` shifted down by ``c`` lines."""
    n, width = block.shape
    out = np.full((n + width - 1, width), -1, dtype=block.dtype)
    for c in range(width):
        out[c : c + n, c] = block[:, c]
    return out


def _framed(block: np.ndarray, prefix: int, suffix: int, width: int) -> np.ndarray:
    return np.concatenate([np.full((prefix, width), -1), block, np.full((suffix, width), -1)], axis=0)


def _pad(block: np.ndarray, rows: int | None, width: int) -> np.ndarray:
    if block.shape[1] < width:
        block = np.concatenate([block, np.full((block.shape[0], width - block.shape[1]), -1)], axis=1)
    if rows is not None and block.shape[0] < rows:
        block = np.concatenate([block, np.full((rows - block.shape[0], width), -1)], axis=0)
    return block


def demand_matrix(
    ifmap: np.ndarray, filt: np.ndarray, dataflow: str, R: int, C: int, operand: str
) -> np.ndarray:
    """The demand matrix of ``operand`` (``"ifmap"`` or ``"filter"``), all folds, as SCALE-Sim."""
    (M, K), N = ifmap.shape, filt.shape[1]
    folds = []
    if dataflow == "ws":  # Sr = K, Sc = N, T = M
        for fc in range(-(-N // C)):
            for fr in range(-(-K // R)):
                if operand == "ifmap":  # _ws.py 236-329
                    block = _pad(ifmap[:, fr * R : (fr + 1) * R], None, R)
                    folds.append(skew(_framed(block, R, C - 1, R)))
                else:  # _ws.py 339-392
                    block = _pad(filt[fr * R : (fr + 1) * R, fc * C : (fc + 1) * C], R, C)
                    folds.append(_framed(np.flip(block, 0), 0, R + C + M - 2, C))
    elif dataflow == "os":  # Sr = M, Sc = N, T = K
        ifmap_t = ifmap.T
        for fc in range(-(-N // C)):
            for fr in range(-(-M // R)):
                if operand == "ifmap":  # _os.py 274-305
                    block = _pad(ifmap_t[:, fr * R : (fr + 1) * R], None, R)
                    folds.append(skew(_framed(block, 0, C - 1, R)))
                else:  # _os.py 322-355
                    block = _pad(filt[:, fc * C : (fc + 1) * C], None, C)
                    folds.append(skew(_framed(block, 0, R - 1, C)))
    else:  # is: Sr = K, Sc = M, T = N
        ifmap_t = ifmap.T
        for fc in range(-(-M // C)):
            for fr in range(-(-K // R)):
                if operand == "ifmap":  # _is.py 190-240
                    block = _pad(ifmap_t[fr * R : (fr + 1) * R, fc * C : (fc + 1) * C], R, C)
                    folds.append(_framed(np.flip(block, 0), 0, R + C + N - 2, C))
                else:  # _is.py 250-290
                    block = _pad(filt[fr * R : (fr + 1) * R, :].T, None, R)
                    folds.append(skew(_framed(block, R, C - 1, R)))
    return np.concatenate(folds, axis=0)


def ofmap_line_counts(M: int, N: int, K: int, dataflow: str, R: int, C: int) -> np.ndarray:
    """Ofmap writes on each demand line (``create_ofmap_demand_mat`` of each dataflow).

    Per fold the ofmap slice of ``used`` columns occupies unskewed lines ``[lo, hi)`` after a
    prefix of ``-1`` lines and is skewed (column ``c`` down by ``c``), so line ``t`` of the fold
    holds ``#{c < used : lo <= t - c < hi}`` writes.
    """
    sr, sc, t = {"ws": (K, N, M), "os": (M, N, K), "is": (K, M, N)}[dataflow]
    row_folds, col_folds = -(-sr // R), -(-sc // C)
    per_fold = R + C + t - 2 if dataflow == "os" else 2 * R + C + t - 2
    line = np.arange(per_fold)
    out = []
    for fc in range(col_folds):
        used_c = min(C, sc - fc * C)
        for fr in range(row_folds):
            if dataflow == "os":  # _os.py 380-426: K - 1 prefix lines, the R-line slice flipped
                used_r = min(R, sr - fr * R)
                lo, hi = t - 1 + R - used_r, t - 1 + R
            else:  # ws _ws.py 418-445, is _is.py 300-330: 2R - 1 prefix lines, T lines
                lo, hi = 2 * R - 1, 2 * R - 1 + t
            first = np.maximum(0, line - hi + 1)
            last = np.minimum(used_c - 1, line - lo)
            out.append(np.maximum(0, last - first + 1))
    return np.concatenate(out)
