"""Time lpformats' two executions of ``quantize`` against each other: the Numba kernels and the
torch backend, on float32 torch tensors of the chosen device.

Run from the repository root::

    python benchmarks/backends.py [--device cpu] [--n 1048576] [--threads 1,2] [--repeat 5]

For each format family and rounding mode it prints ns per element of ``quantize(x, fmt,
mode, backend=...)`` (a fresh result; after a warm-up call, best of ``--repeat``), as wall
time and as CPU time of the process (all its threads: the figure a loaded machine disturbs
least), and the ratio ``torch / numba`` of the CPU times (wall times on a device). On CPU
both backends run with the same thread count (torch intra-op threads, Numba threads). With
``--device cuda`` only the torch backend runs on the device (the Numba figure is the CPU
one for comparison; the device is synchronized before the clock stops). This is the
measurement behind ``backend="auto"`` keeping the Numba kernels for CPU tensors.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import torch

import lpformats
from benchmarks.common import code_version, load_line, machine_line

CASES = ("fixed(8,6)", "fp8_e4m3", "fp8_e5m2fnuz", "fp4_e2m1", "bfp8", "bfp(8,block=32)", "mxfp8_e4m3",
         "mxint8")
MODES = ("nearest", "stochastic")
COLUMNS = 1024


def _timed(x: torch.Tensor, fmt: str, mode: str, backend: str, repeat: int) -> tuple[float, float]:
    """Best wall and best process CPU time per element (ns) of ``repeat`` calls."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)

    def call() -> None:
        lpformats.quantize(x, fmt, mode, seed=1, backend=backend)
        sync()

    call()  # warm-up (compilation, caches)
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall / x.numel() * 1e9, cpu / x.numel() * 1e9


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="torch device of the input (default cpu)")
    parser.add_argument("--n", type=int, default=1 << 20, help="elements (default 1048576)")
    parser.add_argument("--threads", default="1,2", help="CPU thread counts (default 1,2)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    gen = torch.Generator().manual_seed(0)
    host = torch.randn(args.n // COLUMNS, COLUMNS, generator=gen) * 4
    device = torch.device(args.device)
    x = host.to(device)
    print(f"<!-- {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {machine_line()}; "
          f"code {code_version()}; torch {torch.__version__}, numba {numba.__version__}; "
          f"device {device} -->")
    threads = [int(t) for t in args.threads.split(",")]
    print(f"\nquantize of {host.numel()} float32 elements, ns/element (best of {args.repeat})\n")
    print(f"| format | rounding | threads | numba wall | numba CPU | torch ({device.type}) wall "
          "| torch CPU | torch / numba |")
    print("|---|---|---|---|---|---|---|---|")
    for count in threads:
        torch.set_num_threads(count)
        numba.set_num_threads(count)
        for fmt in CASES:
            for mode in MODES:
                ours = _timed(host, fmt, mode, "numba", args.repeat)
                theirs = _timed(x, fmt, mode, "torch", args.repeat)
                ratio = theirs[0] / ours[0] if device.type != "cpu" else theirs[1] / ours[1]
                print(f"| {fmt} | {mode} | {count} | {ours[0]:.2f} | {ours[1]:.2f} | {theirs[0]:.2f} "
                      f"| {theirs[1]:.2f} | {ratio:.1f}x |")
    print(f"\n<!-- {load_line()} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
