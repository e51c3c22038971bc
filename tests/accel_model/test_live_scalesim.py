"""Live comparison with the real SCALE-Sim 3.0.0, run whenever its interpreter can import ``scalesim``.

SCALE-Sim needs numpy < 2.4, so it lives in its own venv (``SCALESIM_PYTHON``, default
``/tmp/scalesim-venv/bin/python``; set-up in scripts/scalesim_run.py). Each test writes a random
small topology (3-6 layers, seeded) and a non-square or square array config in bandwidth-limited
USER mode (small SRAMs, a few words per cycle, separate ifmap/filter/ofmap bandwidths), runs
SCALE-Sim on it (about a second) and checks, layer by layer, that the ``scalesim`` memory model
gives its Total Cycles and Stall Cycles exactly, and our SRAM access counts. Without such
an interpreter the tests are skipped with the reason; the golden data (test_scalesim_golden.py)
covers the same ground offline.
"""

import random
import sys
from pathlib import Path

import pytest

from accel_model import Accelerator, Workload, estimate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from scalesim_run import DEFAULT_PYTHON, PYTHON_ENV, run_scalesim, scalesim_python, write_cfg

ARRAYS = [(8, 8), (8, 16), (24, 8), (16, 32), (32, 32)]


@pytest.fixture(scope="module")
def python():
    path = scalesim_python()
    if path is None:
        pytest.skip(
            f"scalesim 3.0.0 not importable by ${PYTHON_ENV} (default {DEFAULT_PYTHON}); "
            "set it up as in scripts/scalesim_run.py"
        )
    return path


def random_topology(rng: random.Random, gemm: bool) -> str:
    if gemm:
        lines = ["Layer, M, N, K,"]
        for i in range(rng.randint(3, 6)):
            lines.append(f"G{i}, {rng.randint(1, 70)}, {rng.randint(1, 70)}, {rng.randint(1, 70)},")
        return "\n".join(lines) + "\n"
    lines = [
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
    ]
    for i in range(rng.randint(3, 6)):
        k, stride = rng.choice([1, 3, 5]), rng.choice([1, 2])
        h, w, c, n = rng.randint(k, 12), rng.randint(k, 12), rng.randint(1, 20), rng.randint(1, 40)
        lines.append(f"L{i}, {h}, {w}, {k}, {k}, {c}, {n}, {stride},")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("layout", ["conv", "gemm"])
@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_random_topology_matches_live_scalesim(python, tmp_path, dataflow, layout):
    rng = random.Random(f"{dataflow}-{layout}")
    rows, cols = rng.choice(ARRAYS)
    topo = tmp_path / "topo.csv"
    topo.write_text(random_topology(rng, gemm=layout == "gemm"))
    cfg = write_cfg(
        tmp_path / "run.cfg",
        rows=rows,
        cols=cols,
        dataflow=dataflow,
        ifmap_kb=rng.choice([1, 2, 4]),
        filter_kb=rng.choice([1, 2, 4]),
        ofmap_kb=rng.choice([1, 2, 4]),
        mode="USER",
        bandwidth=rng.choice([1, 2, 5]),
        ifmap_bandwidth=rng.choice([1, 2, 4]),
        filter_bandwidth=rng.choice([1, 3]),
    )
    theirs = run_scalesim(cfg, topo, gemm=layout == "gemm", python=python)
    ours = estimate(Workload.from_scalesim_topology(topo, layout=layout), Accelerator.from_scalesim_cfg(cfg))
    compute = theirs.reports["COMPUTE_REPORT.csv"]
    access = theirs.reports["DETAILED_ACCESS_REPORT.csv"]
    assert [(c.total_cycles, c.stall_cycles) for c in ours.layers] == [
        (int(r["Total Cycles"]), int(r["Stall Cycles"])) for r in compute
    ]
    assert [c.sram_words["ifmap"] for c in ours.layers] == [int(r["SRAM IFMAP Reads"]) for r in access]
    assert [c.sram_words["filter"] for c in ours.layers] == [int(r["SRAM Filter Reads"]) for r in access]
