"""Print SCALE-Sim's bandwidth-limited (USER) stall cycles next to accel_model's, from the golden data.

    python scripts/scalesim_stalls.py

Reads ``tests/data/scalesim/golden_*.csv`` (SCALE-Sim 3.0.0 runs, see SOURCE.md there) and, for each
USER-mode layer, prints SCALE-Sim's stall cycles, ours (``max(0, ceil(DRAM bytes / bandwidth) -
compute cycles)``) and the compute cycles both share; then how often each model reports no stall.
"""

from __future__ import annotations

import csv
from pathlib import Path

from accel_model import Accelerator, Workload, estimate

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "scalesim"


def main() -> int:
    with open(DATA / "golden_compute.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["mode"] == "USER"]
    workloads = {
        t: Workload.from_scalesim_topology(DATA / "topologies" / f"{t}.csv")
        for t in ("tiny_conv", "tiny_gemm")
    }
    print(f"{'run':24} {'layer':12} {'compute':>8} {'scalesim stall':>14} {'our stall':>9}")
    both_zero = only_theirs = only_ours = both = 0
    ratios = []
    for r in rows:
        layer = workloads[r["topology"]].layers[int(r["LayerID"])]
        acc = Accelerator(
            rows=int(r["rows"]),
            cols=int(r["cols"]),
            dataflow=r["dataflow"],
            ifmap_sram_kib=float(r["ifmap_kb"]),
            filter_sram_kib=float(r["filter_kb"]),
            ofmap_sram_kib=float(r["ofmap_kb"]),
            dram_bandwidth=float(r["bandwidth"]),
        )
        ours = estimate(Workload([layer]), acc).layers[0]
        theirs = int(r["Stall Cycles"])
        run = f"{r['topology']} {r['rows']}x{r['cols']} {r['dataflow']} bw{r['bandwidth']}"
        print(f"{run:24} {layer.name[:12]:12} {ours.compute_cycles:8} {theirs:14} {ours.stall_cycles:9}")
        if theirs == 0 and ours.stall_cycles == 0:
            both_zero += 1
        elif theirs == 0:
            only_ours += 1
        elif ours.stall_cycles == 0:
            only_theirs += 1
        else:
            both += 1
            ratios.append(theirs / ours.stall_cycles)
    print(
        f"{len(rows)} layers: no stall in both {both_zero}, only SCALE-Sim stalls {only_theirs}, "
        f"only ours {only_ours}, both {both}; SCALE-Sim / ours where both stall: "
        f"{min(ratios):.2f} to {max(ratios):.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
