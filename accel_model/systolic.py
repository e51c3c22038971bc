"""Cycle counts and SRAM access counts of one GEMM on a systolic array, exactly as SCALE-Sim 3.0.0.

SCALE-Sim maps a GEMM ``(M x K) @ (K x N)`` onto an ``R x C`` array per dataflow as
``(Sr, Sc, T)`` (spatial rows, spatial columns, temporal length):

====  ====  ====  ====  ===========================
flow  Sr    Sc    T     stationary operand
====  ====  ====  ====  ===========================
ws    K     N     M     filter (weights)
os    M     N     K     output (partial sums)
is    K     M     N     ifmap (inputs)
====  ====  ====  ====  ===========================

The array runs ``ceil(Sr/R) * ceil(Sc/C)`` folds one after another. Each fold's demand matrix
(``scalesim/compute/systolic_compute_*.py``) has ``2R + C + T - 2`` lines for ws and is (R cycles
to load the stationary operand, T to stream, C - 1 to drain, R - 1 of skew) and ``R + C + T - 2``
for os (T to stream, C - 1 drain, R - 1 skew). With ideal bandwidth the memory system services one
line per cycle and SCALE-Sim's ``Total Cycles`` is the index of the last line:
``folds * cycles_per_fold - 1``. This module reproduces that count and SCALE-Sim's
``Mapping Efficiency %``, ``Compute Util %`` and SRAM access counts.
"""

from __future__ import annotations

from dataclasses import dataclass


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive integers."""
    return -(-a // b)


@dataclass(frozen=True)
class Mapping:
    """How one GEMM maps onto the array (per repetition unless stated).

    Attributes:
        sr, sc, t: SCALE-Sim's spatial rows, spatial columns and temporal length.
        row_folds, col_folds: ``ceil(sr / rows)``, ``ceil(sc / cols)``.
        cycles_per_fold: demand-matrix lines per fold.
        cycles: compute cycles of all ``repeat`` repetitions,
            ``repeat * (folds * cycles_per_fold - 1)``: SCALE-Sim's ``Total Cycles`` summed over
            ``repeat`` layers of this GEMM, as it runs a depthwise convolution (one layer per
            channel), so that a traced grouped convolution costs what its SCALE-Sim topology does.
        mapping_efficiency: mean over folds of used PEs / all PEs (SCALE-Sim's, as a fraction).
        compute_utilization: SCALE-Sim's ``Compute Util`` (fraction): mean over folds of
            ``used PEs * T / (PEs * fold span)``, its fold span being ``2R + 2C + T - 3`` (ws, is)
            or ``R + C + T - 2`` (os).
    """

    sr: int
    sc: int
    t: int
    row_folds: int
    col_folds: int
    cycles_per_fold: int
    cycles: int
    mapping_efficiency: float
    compute_utilization: float

    @property
    def folds(self) -> int:
        """Folds per repetition."""
        return self.row_folds * self.col_folds


def spatio_temporal(M: int, N: int, K: int, dataflow: str) -> tuple[int, int, int]:
    """``(Sr, Sc, T)`` of a GEMM for ``dataflow`` (table in the module docstring)."""
    if dataflow == "ws":
        return K, N, M
    if dataflow == "os":
        return M, N, K
    if dataflow == "is":
        return K, M, N
    raise ValueError(f"dataflow must be 'ws', 'os' or 'is', got {dataflow!r}")


def map_gemm(M: int, N: int, K: int, rows: int, cols: int, dataflow: str, repeat: int = 1) -> Mapping:
    """Map the GEMM ``(M x K) @ (K x N)`` (``repeat`` times) onto a ``rows x cols`` array."""
    for name, value in (("M", M), ("N", N), ("K", K), ("rows", rows), ("cols", cols), ("repeat", repeat)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    sr, sc, t = spatio_temporal(M, N, K, dataflow)
    row_folds, col_folds = ceil_div(sr, rows), ceil_div(sc, cols)
    folds = row_folds * col_folds
    if dataflow == "os":
        per_fold = rows + cols + t - 2
        span = per_fold
    else:
        per_fold = 2 * rows + cols + t - 2
        span = 2 * rows + 2 * cols + t - 3
    pes = rows * cols
    return Mapping(
        sr=sr,
        sc=sc,
        t=t,
        row_folds=row_folds,
        col_folds=col_folds,
        cycles_per_fold=per_fold,
        cycles=repeat * (folds * per_fold - 1),
        mapping_efficiency=sr * sc / (folds * pes),
        compute_utilization=sr * sc * t / (folds * pes * span),
    )


def sram_accesses(M: int, N: int, K: int, mapping: Mapping, dataflow: str) -> tuple[int, int, int]:
    """SRAM ``(ifmap reads, filter reads, ofmap writes)`` in elements, per repetition.

    As SCALE-Sim counts them: the streamed operands are read once per fold of the other spatial
    dimension, the stationary one once; partial sums are written once per fold of the reduction
    (ws, is). SCALE-Sim 3.0.0's os count adds ``folds * (R + C)`` to ofmap writes
    (``systolic_compute_os.py`` counts the flipped fold's shape a second time); we do not.
    """
    if dataflow == "ws":
        return M * K * mapping.col_folds, K * N, M * N * mapping.row_folds
    if dataflow == "os":
        return M * K * mapping.col_folds, K * N * mapping.row_folds, M * N
    if dataflow == "is":
        return M * K, K * N * mapping.col_folds, M * N * mapping.row_folds
    raise ValueError(f"dataflow must be 'ws', 'os' or 'is', got {dataflow!r}")
