"""Cold-start time of ``lpformats.quantize``: the first call per format family in a fresh
Python process, without and with Numba's on-disk cache.

Run from the repository root::

    python benchmarks/coldstart.py [--formats int8 fp8_e4m3 bfp8 mxfp8_e4m3]

For each format a fresh process gets an empty ``NUMBA_CACHE_DIR`` ("cold": every kernel it
needs is compiled), then a second fresh process reuses that directory ("warm cache": kernels
are loaded from disk). Each process reports the seconds spent importing lpformats, in the first
``quantize(x, fmt)`` (nearest, float32) and in the first stochastic call after it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, code_version, machine_line

#: One format per family (fixed point, float, block FP, MX).
FAMILIES = {"int8": "fixed", "fp8_e4m3": "float", "bfp8": "bfp", "mxfp8_e4m3": "mx"}

PHASES = ("import", "nearest", "stochastic")


def child(fmt: str) -> dict[str, float]:
    """In this process: seconds to import lpformats, for the first nearest and the first
    stochastic quantize of a small float32 array to ``fmt``."""
    began = time.perf_counter()
    import numpy as np

    import lpformats

    imported = time.perf_counter()
    x = np.linspace(-3.0, 3.0, 4096, dtype=np.float32).reshape(64, 64)
    lpformats.quantize(x, fmt)
    nearest = time.perf_counter()
    lpformats.quantize(x, fmt, "stochastic", seed=1)
    stochastic = time.perf_counter()
    return {"import": imported - began, "nearest": nearest - imported, "stochastic": stochastic - nearest}


def measure(fmt: str, cache_dir: str) -> dict[str, float]:
    """Run :func:`child` in a fresh interpreter with ``NUMBA_CACHE_DIR=cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", fmt],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child process for {fmt} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", nargs="+", default=list(FAMILIES), metavar="FMT",
                        help=f"formats to start (default: {' '.join(FAMILIES)})")
    parser.add_argument("--child", metavar="FMT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return
    print(f"# lpformats cold start, {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(machine_line() + " (before)")
    print(f"code: {code_version()}\n", flush=True)
    header = ["family", "format", "cache", *(f"{p} s" for p in PHASES)]
    rows = []
    for fmt in args.formats:
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
            for cache in ("cold (empty)", "warm"):
                times = measure(fmt, cache_dir)
                rows.append([FAMILIES.get(fmt, "-"), fmt, cache, *(f"{times[p]:.2f}" for p in PHASES)])
                print("  " + "  ".join(rows[-1]), flush=True)
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n" + machine_line() + " (after)")


if __name__ == "__main__":
    main()
