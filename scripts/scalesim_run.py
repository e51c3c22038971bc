"""Run the real SCALE-Sim (PyPI ``scalesim`` 3.0.0) in its own interpreter and collect its reports.

SCALE-Sim 3.0.0 crashes with numpy >= 2.4, so it lives in a separate virtual environment
(``numpy<2.4``); this module only needs the path of that environment's ``python``. Used by
``scripts/scalesim_golden.py`` (golden test data), ``benchmarks/accel.py`` (timing) and the live
comparison test. Standard library only.

Set up the interpreter once::

    python -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install scalesim==3.0.0 "numpy<2.4"
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the scalesim interpreter; default below.
PYTHON_ENV = "SCALESIM_PYTHON"
DEFAULT_PYTHON = "/tmp/scalesim-venv/bin/python"

#: Reports copied out of a run directory (the per-layer traces are not kept).
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")

CFG_TEMPLATE = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap_kb}
FilterSramSzkB: {filter_kb}
OfmapSramSzkB: {ofmap_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : {bandwidth}
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {ifmap_bandwidth}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {filter_bandwidth}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""


#: Runs ``python -m scalesim.scale ARGS`` and prints its peak RSS (KiB, Linux) last on stderr.
RUNNER = (
    "import resource, runpy, sys\n"
    "sys.argv = ['scalesim.scale'] + sys.argv[1:]\n"
    "runpy.run_module('scalesim.scale', run_name='__main__')\n"
    "print('MAXRSS_KIB=%d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def scalesim_python() -> str | None:
    """Path of an interpreter that can ``import scalesim``, or None when there is none."""
    path = os.environ.get(PYTHON_ENV, DEFAULT_PYTHON)
    if not Path(path).exists():
        return None
    probe = subprocess.run([path, "-c", "import scalesim.scale_sim"], capture_output=True)
    return path if probe.returncode == 0 else None


def write_cfg(
    path: Path,
    *,
    rows: int,
    cols: int,
    dataflow: str,
    ifmap_kb: int = 64,
    filter_kb: int = 64,
    ofmap_kb: int = 64,
    bandwidth: int = 10,
    mode: str = "CALC",
    run_name: str = "run",
    ifmap_bandwidth: int | None = None,
    filter_bandwidth: int | None = None,
) -> Path:
    """Write a complete SCALE-Sim 3.0.0 config (every section its parser requires) to ``path``.

    ``mode`` is ``CALC`` (ideal interface bandwidth, SCALE-Sim's default) or ``USER``: the ofmap
    buffer drains ``bandwidth`` words per cycle, the ifmap and filter buffers read
    ``ifmap_bandwidth`` and ``filter_bandwidth`` (``[layout]`` bank bandwidths; default
    ``bandwidth``).
    """
    path.write_text(
        CFG_TEMPLATE.format(
            run_name=run_name,
            rows=rows,
            cols=cols,
            dataflow=dataflow,
            ifmap_kb=ifmap_kb,
            filter_kb=filter_kb,
            ofmap_kb=ofmap_kb,
            bandwidth=bandwidth,
            ifmap_bandwidth=bandwidth if ifmap_bandwidth is None else ifmap_bandwidth,
            filter_bandwidth=bandwidth if filter_bandwidth is None else filter_bandwidth,
            mode=mode,
        )
    )
    return path


@dataclass
class RunResult:
    """Reports of one SCALE-Sim run: report name -> rows (dicts keyed by stripped header).

    ``wall_s``: wall time of the SCALE-Sim process (interpreter start included); ``peak_rss_mib``:
    its peak resident memory (``ru_maxrss``).
    """

    reports: dict[str, list[dict[str, str]]]
    texts: dict[str, str]
    wall_s: float
    peak_rss_mib: float


def read_report(text: str) -> list[dict[str, str]]:
    """Parse a SCALE-Sim report CSV (trailing commas, spaces after commas) into dict rows."""
    rows = list(csv.reader(text.splitlines()))
    header = [h.strip() for h in rows[0] if h.strip()]
    body = [row for row in rows[1:] if any(c.strip() for c in row)]
    return [{h: v.strip() for h, v in zip(header, row, strict=False)} for row in body]


def run_scalesim(
    cfg: Path, topology: Path, *, gemm: bool, python: str, layout: Path | None = None, timeout_s: float = 3600
) -> RunResult:
    """Run ``python -m scalesim.scale`` on ``cfg`` and ``topology``; traces go to a temp dir, deleted.

    Returns the three reports, the wall time (seconds) and the peak memory of the SCALE-Sim process.
    """
    layout = layout or Path(__file__).resolve().parent.parent / "tests/data/scalesim/layout_default.csv"
    # SCALE-Sim runs in a temp dir: relative paths would not resolve there (it then writes nothing)
    cfg, topology, layout = (Path(p).resolve() for p in (cfg, topology, layout))
    for p in (cfg, topology, layout):
        if not p.is_file():
            raise ValueError(f"run_scalesim: {p} is not a file")
    with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
        args = [
            "-c",
            str(cfg),
            "-t",
            str(topology),
            "-l",
            str(layout),
            "-p",
            tmp,
            "-i",
            "gemm" if gemm else "conv",
        ]
        cmd = [python, "-c", RUNNER, *args]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"scalesim failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
        run_dirs = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(run_dirs) != 1:
            raise RuntimeError(f"expected one run directory in {tmp}, found {run_dirs}")
        texts = {name: (run_dirs[0] / name).read_text() for name in REPORTS}
        shutil.rmtree(run_dirs[0])
    marks = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KIB=")]
    if not marks:
        raise RuntimeError(f"scalesim run printed no MAXRSS_KIB line: {proc.stderr[-2000:]}")
    rss_kib = float(marks[-1].split("=")[1])
    return RunResult({k: read_report(v) for k, v in texts.items()}, texts, wall, rss_kib / 1024)
