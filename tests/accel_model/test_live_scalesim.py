"""Live comparison with the real SCALE-Sim 3.0.0 (opt-in: set SCALESIM_PYTHON to its interpreter).

SCALE-Sim needs numpy < 2.4, so it runs in its own venv (scripts/scalesim_run.py); this test runs it
on a random small topology and checks our compute cycles and access counts layer by layer.
"""

import os
import random
import sys
from pathlib import Path

import pytest

from accel_model import Accelerator, Workload, estimate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from scalesim_run import PYTHON_ENV, run_scalesim, scalesim_python, write_cfg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def python():
    if PYTHON_ENV not in os.environ:
        pytest.skip(f"opt-in: set {PYTHON_ENV} to a python with scalesim 3.0.0 (scripts/scalesim_run.py)")
    path = scalesim_python()
    if path is None:
        pytest.skip(f"{PYTHON_ENV}={os.environ[PYTHON_ENV]} cannot import scalesim")
    return path


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_random_topology_matches_live_scalesim(python, tmp_path, dataflow):
    rng = random.Random(dataflow)
    rows, cols = rng.choice([(8, 8), (8, 16), (24, 8), (16, 32)])
    lines = [
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
    ]
    for i in range(4):
        k, stride = rng.choice([1, 3, 5]), rng.choice([1, 2])
        h, w, c, n = rng.randint(k, 12), rng.randint(k, 12), rng.randint(1, 20), rng.randint(1, 40)
        lines.append(f"L{i}, {h}, {w}, {k}, {k}, {c}, {n}, {stride},")
    topo = tmp_path / "topo.csv"
    topo.write_text("\n".join(lines) + "\n")
    cfg = write_cfg(tmp_path / "run.cfg", rows=rows, cols=cols, dataflow=dataflow)
    theirs = run_scalesim(cfg, topo, gemm=False, python=python)
    ours = estimate(Workload.from_scalesim_topology(topo), Accelerator.from_scalesim_cfg(cfg))
    compute = theirs.reports["COMPUTE_REPORT.csv"]
    access = theirs.reports["DETAILED_ACCESS_REPORT.csv"]
    assert [c.compute_cycles for c in ours.layers] == [int(r["Total Cycles"]) for r in compute]
    assert [c.sram_words["ifmap"] for c in ours.layers] == [int(r["SRAM IFMAP Reads"]) for r in access]
    assert [c.sram_words["filter"] for c in ours.layers] == [int(r["SRAM Filter Reads"]) for r in access]
