"""Helpers shared by the benchmark scripts: machine description, load average, timing."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: Repository root (the parent of ``benchmarks/``), so that scripts run as files can import
#: ``benchmarks.*`` and the packages of a non-installed checkout.
ROOT = Path(__file__).resolve().parent.parent


def ensure_importable() -> None:
    """Put the repository root on ``sys.path`` (scripts are run as ``python benchmarks/x.py``)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    """``lscpu``'s "Model name" (falls back to ``platform.processor()``)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            return value.strip()
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """One line naming the CPU, its logical core count and the load average."""
    return f"machine: {cpu_model()}, {os.cpu_count()} logical cores; {load_line()}"


def load_line() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` in seconds, after one untimed warm-up call.

    The minimum is the least disturbed by other processes on a shared machine."""
    if repeat < 1:
        raise ValueError(f"repeat must be an integer >= 1; got {repeat!r}")
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def code_version() -> str:
    """``git describe --always --dirty`` of the checkout (the code the figures belong to)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
