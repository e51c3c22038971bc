"""Regenerate the SCALE-Sim golden data in ``tests/data/scalesim/`` by running the real SCALE-Sim.

Runs PyPI ``scalesim`` 3.0.0 (in its own venv, see ``scripts/scalesim_run.py``) on the small
topologies ``tests/data/scalesim/topologies/tiny_{conv,gemm}.csv`` for every array shape and
dataflow below (ideal CALC runs, and bandwidth-limited USER runs with small SRAMs that stall), and
writes one CSV per SCALE-Sim report with the run's settings as leading columns:
``golden_compute.csv``, ``golden_bandwidth.csv``, ``golden_access.csv``.

``--resnet18`` instead runs ResNet-18 (``tests/data/scalesim/topologies/Resnet18.csv``) on
SCALE-Sim's ``google.cfg`` (``tests/data/scalesim/google.cfg``; both copied from SCALE-Sim v3)
resized to a 128x128 array (USER mode, Bandwidth 10), ws and os, and writes its COMPUTE_REPORT
rows to ``golden_resnet18_google128.csv`` (about 3 minutes and 5 GB per dataflow on an idle
machine; run it under ``nice``).

Usage::

    SCALESIM_PYTHON=/tmp/scalesim-venv/bin/python python scripts/scalesim_golden.py [--resnet18]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scalesim_run import REPORTS, run_scalesim, scalesim_python, write_cfg

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "scalesim"
TOPOLOGIES = {
    "tiny_conv": (DATA / "topologies" / "tiny_conv.csv", False),
    "tiny_gemm": (DATA / "topologies" / "tiny_gemm.csv", True),
}
ARRAYS = [(8, 8), (16, 8), (8, 32), (32, 32), (12, 20)]
DATAFLOWS = ["ws", "os", "is"]
#: Bandwidth-limited (USER) runs that stall: (rows, cols, dataflow, ifmap KiB, filter KiB, ofmap KiB,
#: ofmap Bandwidth, IfmapSRAMBankBandwidth, FilterSRAMBankBandwidth), small SRAMs, a few words/cycle.
USER_RUNS = (
    [(16, 16, df, 1, 1, 1, 4, 4, 4) for df in DATAFLOWS]
    + [(8, 8, df, 2, 2, 2, 2, 2, 2) for df in DATAFLOWS]
    + [(12, 20, df, 1, 3, 2, 3, 1, 2) for df in DATAFLOWS]
    + [(8, 16, df, 4, 1, 1, 1, 4, 1) for df in DATAFLOWS]
    + [(20, 12, df, 8, 2, 1, 2, 3, 3) for df in DATAFLOWS]
)
SETTINGS = [
    "topology",
    "rows",
    "cols",
    "dataflow",
    "mode",
    "bandwidth",
    "ifmap_bw",
    "filter_bw",
    "ifmap_kb",
    "filter_kb",
    "ofmap_kb",
]
RESNET18_OUT = "golden_resnet18_google128.csv"
OUT_NAMES = {
    "COMPUTE_REPORT.csv": "golden_compute.csv",
    "BANDWIDTH_REPORT.csv": "golden_bandwidth.csv",
    "DETAILED_ACCESS_REPORT.csv": "golden_access.csv",
}


def all_runs() -> list[dict[str, object]]:
    """Every run as a dict of the SETTINGS columns."""
    runs = []
    for topo in TOPOLOGIES:
        for rows, cols in ARRAYS:
            for df in DATAFLOWS:
                runs.append(
                    dict(
                        topology=topo,
                        rows=rows,
                        cols=cols,
                        dataflow=df,
                        mode="CALC",
                        bandwidth=10,
                        ifmap_bw=10,
                        filter_bw=10,
                        ifmap_kb=64,
                        filter_kb=64,
                        ofmap_kb=64,
                    )
                )
        for rows, cols, df, ikb, fkb, okb, bw, ibw, fbw in USER_RUNS:
            runs.append(
                dict(
                    topology=topo,
                    rows=rows,
                    cols=cols,
                    dataflow=df,
                    mode="USER",
                    bandwidth=bw,
                    ifmap_bw=ibw,
                    filter_bw=fbw,
                    ifmap_kb=ikb,
                    filter_kb=fkb,
                    ofmap_kb=okb,
                )
            )
    return runs


def google128_cfg(path: Path, dataflow: str) -> Path:
    """SCALE-Sim's ``google.cfg`` with a 128x128 array and ``dataflow``, written to ``path``."""
    lines = []
    for line in (DATA / "google.cfg").read_text().splitlines():
        key = line.split(":")[0].strip()
        if key in ("ArrayHeight", "ArrayWidth"):
            line = f"{key}: 128"
        elif key == "Dataflow":
            line = f"Dataflow : {dataflow}"
        elif line.startswith("run_name"):
            line = f"run_name = google128_{dataflow}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


def resnet18_rows(dataflow: str, compute_report: list[dict[str, str]]) -> list[list[str]]:
    """Rows of ``golden_resnet18_google128.csv`` from one run's COMPUTE_REPORT."""
    keys = ("LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles")
    return [[dataflow] + [row[k] for k in keys] for row in compute_report]


RESNET18_HEADER = ["dataflow", "LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles"]


def run_resnet18(python: str, out: Path) -> None:
    """Run ResNet-18 on google.cfg at 128x128 (ws, os) and write ``RESNET18_OUT``."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for df in ("ws", "os"):
            cfg = google128_cfg(Path(tmp) / f"google128_{df}.cfg", df)
            topo = DATA / "topologies" / "Resnet18.csv"
            result = run_scalesim(cfg, topo, gemm=False, python=python, timeout_s=4 * 3600)
            print(f"ResNet-18 {df}: {result.wall_s:.0f} s, {result.peak_rss_mib:.0f} MiB", flush=True)
            rows += resnet18_rows(df, result.reports["COMPUTE_REPORT.csv"])
    with open(out / RESNET18_OUT, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(RESNET18_HEADER)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA, help="output folder (default: tests/data/scalesim)")
    parser.add_argument("--resnet18", action="store_true", help="ResNet-18 on google.cfg 128x128 instead")
    args = parser.parse_args(argv)
    python = scalesim_python()
    if python is None:
        print("scalesim is not importable: set SCALESIM_PYTHON (scripts/scalesim_run.py)", file=sys.stderr)
        return 2
    if args.resnet18:
        run_resnet18(python, args.out)
        return 0
    tables: dict[str, list[list[str]]] = {name: [] for name in REPORTS}
    headers: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in all_runs():
            topo_path, gemm = TOPOLOGIES[str(run["topology"])]
            cfg = write_cfg(
                Path(tmp) / "run.cfg",
                rows=int(run["rows"]),
                cols=int(run["cols"]),
                dataflow=str(run["dataflow"]),
                ifmap_kb=int(run["ifmap_kb"]),
                filter_kb=int(run["filter_kb"]),
                ofmap_kb=int(run["ofmap_kb"]),
                bandwidth=int(run["bandwidth"]),
                ifmap_bandwidth=int(run["ifmap_bw"]),
                filter_bandwidth=int(run["filter_bw"]),
                mode=str(run["mode"]),
            )
            result = run_scalesim(cfg, topo_path, gemm=gemm, python=python)
            print(f"{run} {result.wall_s:.2f} s", flush=True)
            for name in REPORTS:
                rows = result.reports[name]
                headers[name] = SETTINGS + list(rows[0].keys())
                for row in rows:
                    tables[name].append([str(run[s]) for s in SETTINGS] + list(row.values()))
    for name, out_name in OUT_NAMES.items():
        with open(args.out / out_name, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(headers[name])
            writer.writerows(tables[name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
