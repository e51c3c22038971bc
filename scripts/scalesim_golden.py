"""Regenerate the SCALE-Sim golden data in ``tests/data/scalesim/`` by running the real SCALE-Sim.

Runs PyPI ``scalesim`` 3.0.0 (in its own venv, see ``scripts/scalesim_run.py``) on the small
topologies ``tests/data/scalesim/topologies/tiny_{conv,gemm}.csv`` for every array shape and
dataflow in ``RUNS`` below, and writes one CSV per SCALE-Sim report with the run's settings as
leading columns: ``golden_compute.csv``, ``golden_bandwidth.csv``, ``golden_access.csv``.

Usage::

    SCALESIM_PYTHON=/tmp/scalesim-venv/bin/python python scripts/scalesim_golden.py
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
#: Bandwidth-limited (USER) runs: small SRAMs and a few words/cycle, to document stalls.
USER_RUNS = [(16, 16, df, 1, 1, 1, 4) for df in DATAFLOWS] + [(8, 8, df, 2, 2, 2, 2) for df in DATAFLOWS]
SETTINGS = ["topology", "rows", "cols", "dataflow", "mode", "bandwidth", "ifmap_kb", "filter_kb", "ofmap_kb"]
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
                        ifmap_kb=64,
                        filter_kb=64,
                        ofmap_kb=64,
                    )
                )
        for rows, cols, df, ikb, fkb, okb, bw in USER_RUNS:
            runs.append(
                dict(
                    topology=topo,
                    rows=rows,
                    cols=cols,
                    dataflow=df,
                    mode="USER",
                    bandwidth=bw,
                    ifmap_kb=ikb,
                    filter_kb=fkb,
                    ofmap_kb=okb,
                )
            )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA, help="output folder (default: tests/data/scalesim)")
    args = parser.parse_args(argv)
    python = scalesim_python()
    if python is None:
        print("scalesim is not importable: set SCALESIM_PYTHON (scripts/scalesim_run.py)", file=sys.stderr)
        return 2
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
