"""Our physical memory model: DRAM bytes per operand and the stall cycles they cause.

Where it departs from SCALE-Sim (``accel_model.memory.scalesim``) and why:

* **Bytes, not words.** Traffic is elements x each role's bits per element (shared scales
  included); a narrow format moves fewer bytes and stalls less. SCALE-Sim counts one-byte words.
* **Partial sums stay on chip when they fit.** With ws and is the reduction ``K`` is folded over
  ``ceil(K / rows)`` passes; the output tile of one column fold (``M x min(N, cols)`` for ws,
  ``min(M, cols) x N`` for is) accumulates in the ofmap (accumulator) SRAM when it fits in half
  of it at the accumulator width (the other half drains the previous tile), so each output goes
  to DRAM once, at the output width. When it does not fit, every fold but the last writes its
  partial sums to DRAM and the next reads them back, at the accumulator width. os keeps partial
  sums in the PEs. SCALE-Sim instead writes every fold's outputs to DRAM (a TPU v1 accumulates in
  4 MiB of on-chip accumulators, which SCALE-Sim's count ignores).
* **Ifmap and filter** are fetched once when the distinct elements fit in half their SRAM (double
  buffering), else once per fold of the other spatial dimension that re-streams them (as before).
* **Stalls**: transfers overlap compute (double buffering). A buffer with its own interface
  (``Accelerator.ifmap_bandwidth`` etc.) needs ``bytes / bandwidth`` cycles; buffers without one
  share ``dram_bandwidth``. The layer stalls for ``max(0, ceil(slowest interface) - compute)``.
  Like SCALE-Sim's ``Total Cycles``, the initial fill before the first fold and the final drain
  are not counted. SCALE-Sim's set-window buffers instead stall line by line, re-fetch sets on
  misses and charge late prefetches twice (``read_buffer.py`` line 362).

Both models agree where the physics is unambiguous: no stalls with ideal bandwidth, and ofmap
DRAM writes equal to the ofmap size when the reduction fits in one fold (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OPERANDS = ("ifmap", "filter", "ofmap")


@dataclass(frozen=True)
class Traffic:
    """DRAM elements moved per operand (ofmap: writes plus partial-sum reads) and their bytes."""

    elements: dict[str, int]
    bytes: dict[str, float]


def partial_sums_fit(M: int, N: int, cols: int, dataflow: str, acc_bits: int, ofmap_sram_kib: float) -> bool:
    """True when one column fold's output tile fits in half the ofmap SRAM at ``acc_bits``."""
    if dataflow == "os":
        return True
    tile = M * min(N, cols) if dataflow == "ws" else min(M, cols) * N
    return tile * acc_bits / 8 <= ofmap_sram_kib * 512


def ofmap_traffic(
    M: int, N: int, row_folds: int, fits: bool, out_bits: float, acc_bits: int
) -> tuple[int, float]:
    """(elements, bytes) of ofmap DRAM traffic: outputs once, plus spilled partial sums."""
    if fits or row_folds == 1:
        return M * N, M * N * out_bits / 8
    spills = 2 * (row_folds - 1) * M * N
    return M * N + spills, (M * N * out_bits + spills * acc_bits) / 8


def stall_cycles(dram_bytes: dict[str, float], compute_cycles: int, accel: object) -> int:
    """``max(0, ceil(slowest interface) - compute)``: own bandwidths per buffer, else the shared link."""
    shared = 0.0
    slowest = 0.0
    for op in OPERANDS:
        own = getattr(accel, f"{op}_bandwidth")
        if own is None:
            shared += dram_bytes.get(op, 0.0)
        else:
            slowest = max(slowest, dram_bytes.get(op, 0.0) / own)
    if shared:
        slowest = max(slowest, shared / accel.dram_bandwidth)  # inf bandwidth: 0
    if slowest == 0:
        return 0
    return max(0, math.ceil(slowest - 1e-9) - compute_cycles)
