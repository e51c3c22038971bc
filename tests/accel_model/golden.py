"""Golden SCALE-Sim 3.0.0 reports checked into tests/data/scalesim (see SOURCE.md there)."""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

from accel_model import Accelerator, Workload

DATA = Path(__file__).resolve().parent.parent / "data" / "scalesim"
TOPOLOGIES = ("tiny_conv", "tiny_gemm")


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="") as f:
        return list(csv.DictReader(f))


@cache
def golden() -> list[tuple[dict[str, str], dict[str, str], dict[str, str]]]:
    """(compute, bandwidth, access) report rows of every golden run and layer, aligned."""
    return list(
        zip(
            _rows("golden_compute.csv"),
            _rows("golden_bandwidth.csv"),
            _rows("golden_access.csv"),
            strict=True,
        )
    )


@cache
def workload(topology: str) -> Workload:
    """The golden topology as read by accel_model."""
    return Workload.from_scalesim_topology(DATA / "topologies" / f"{topology}.csv")


def run_key(row: dict[str, str]) -> str:
    """A readable id of one golden row."""
    return f"{row['topology']}-{row['rows']}x{row['cols']}-{row['dataflow']}-{row['mode']}-L{row['LayerID']}"


def accelerator(row: dict[str, str], memory: str = "scalesim") -> Accelerator:
    """The accelerator of a golden run, as ``from_scalesim_cfg`` reads the config that produced it."""
    user = row["mode"] == "USER"

    def bandwidth(column: str) -> float | None:
        return float(row[column]) if user else None

    return Accelerator(
        rows=int(row["rows"]),
        cols=int(row["cols"]),
        dataflow=row["dataflow"],
        ifmap_sram_kib=float(row["ifmap_kb"]),
        filter_sram_kib=float(row["filter_kb"]),
        ofmap_sram_kib=float(row["ofmap_kb"]),
        dram_bandwidth=float(row["bandwidth"]) if user else math.inf,
        ifmap_bandwidth=bandwidth("ifmap_bw"),
        filter_bandwidth=bandwidth("filter_bw"),
        ofmap_bandwidth=bandwidth("bandwidth"),
        memory=memory,
    )


@cache
def resnet18_google128() -> dict[str, list[tuple[int, int]]]:
    """SCALE-Sim's (Total Cycles, Stall Cycles) per ResNet-18 layer on google.cfg at 128x128, by dataflow."""
    out: dict[str, list[tuple[int, int]]] = {}
    for row in _rows("golden_resnet18_google128.csv"):
        out.setdefault(row["dataflow"], []).append((int(row["Total Cycles"]), int(row["Stall Cycles"])))
    return out
