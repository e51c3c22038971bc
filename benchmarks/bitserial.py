"""Time ``lpformats.bitserial_matmul`` (1-4 bit codes) against the int16 baseline and BLAS.

Run from the repository root::

    python benchmarks/bitserial.py [--size 1024] [--threads 1,2] [--repeat 5]

For an M = K = N = ``--size`` product and each thread count (numba threads, and BLAS threads
through threadpoolctl) it prints the best wall time of ``--repeat`` calls after a warm-up,
the process CPU time of the fastest call (all threads; on a loaded machine wall time exceeds
it by the time the process waited for a core), GMAC/s from the wall time (M*K*N
multiply-accumulates per second) and the wall-time speedup over our int16 baseline
``lpformats.int_matmul`` (int16 codes, int64 accumulation) for:

- ``bitserial_matmul`` on unsigned codes of 1, 2, 3, 4 bits, signed 4-bit codes and binary
  {-1, +1} codes (XNOR-popcount), packing included (the same call a user makes);
- the pack step alone (``pack_bitplanes`` of both operands);
- numpy ``matmul`` on float32 (BLAS) and on int64 codes (numpy's own integer loop, timed
  once: it takes seconds).

Every bit-serial result is checked against ``int_matmul`` before it is timed. The load
average is printed before and after: the figures are only as good as the machine was quiet.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

from benchmarks.common import code_version, load_line, machine_line
from lpformats import bitserial_matmul, int_matmul, pack_bitplanes

#: (label, bits, mode) of the bit-serial cases.
CASES = (
    ("1-bit unsigned", 1, "unsigned"),
    ("1-bit binary (XNOR)", 1, "binary"),
    ("2-bit unsigned", 2, "unsigned"),
    ("3-bit unsigned", 3, "unsigned"),
    ("4-bit unsigned", 4, "unsigned"),
    ("4-bit signed", 4, "signed"),
)


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[str]:
    """Limit BLAS to ``n`` threads (threadpoolctl); yields a note when that is not possible."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield "threadpoolctl missing: BLAS used its default thread count"
        return
    with threadpool_limits(limits=n):
        yield ""


def codes(rng: np.random.Generator, shape: tuple[int, int], bits: int, mode: str) -> np.ndarray:
    """Uniformly random int8 codes of a mode."""
    if mode == "binary":
        return rng.choice(np.array([-1, 1], np.int8), size=shape)
    lo = -(1 << (bits - 1)) if mode == "signed" else 0
    return rng.integers(lo, lo + (1 << bits), size=shape).astype(np.int8)


def timed_call(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of the fastest of ``repeat`` calls (by wall time) after one
    untimed warm-up call; cpu is the process time (every thread) of that call."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def row(label: str, wall: float, cpu: float, macs: int, baseline: float | None) -> str:
    speedup = "" if baseline is None else f"{baseline / wall:.1f}x"
    return f"| {label} | {wall * 1e3:.2f} | {cpu * 1e3:.2f} | {macs / wall / 1e9:.1f} | {speedup} |"


def run(size: int, threads: int, repeat: int) -> list[str]:
    numba.set_num_threads(threads)
    rng = np.random.default_rng(0)
    macs = size**3
    timed: list[tuple[str, float, float]] = []

    def measure(label: str, fn: Callable[[], object], times: int = repeat) -> float:
        wall, cpu = timed_call(fn, times)
        timed.append((label, wall, cpu))
        return wall

    a16 = rng.integers(-(2**15), 2**15, size=(size, size)).astype(np.int16)
    b16 = rng.integers(-(2**15), 2**15, size=(size, size)).astype(np.int16)
    base = measure("int_matmul, int16 codes (baseline)", lambda: int_matmul(a16, b16))
    with blas_threads(threads) as note:
        a32, b32 = a16.astype(np.float32), b16.astype(np.float32)
        measure("np.matmul float32 (BLAS)", lambda: np.matmul(a32, b32))
    a64, b64 = a16.astype(np.int64), b16.astype(np.int64)
    measure("np.matmul int64", lambda: np.matmul(a64, b64), times=1)
    for label, bits, mode in CASES:
        a, b = codes(rng, (size, size), bits, mode), codes(rng, (size, size), bits, mode)
        if not np.array_equal(bitserial_matmul(a, b, bits, bits, signed=mode), int_matmul(a, b)):
            raise AssertionError(f"bitserial_matmul differs from int_matmul for {label}")
        measure(f"bitserial_matmul {label}", lambda a=a, b=b, bits=bits, mode=mode:
                bitserial_matmul(a, b, bits, bits, signed=mode))
        if bits in (1, 4) and mode != "binary":
            label = f"(pack_bitplanes of both operands, {bits}-bit: part of the row above)"
            measure(label, lambda a=a, b=b, bits=bits, mode=mode:
                    (pack_bitplanes(a, bits, signed=mode), pack_bitplanes(b, bits, signed=mode, axis=-2)))
    lines = [
        f"### {size}^3, {threads} thread(s)" + (f" ({note})" if note else ""),
        "",
        "| kernel | wall ms | CPU ms | GMAC/s | speedup vs int16 |",
        "|---|---|---|---|---|",
    ]
    lines += [row(label, wall, cpu, macs, None if "pack" in label else base) for label, wall, cpu in timed]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="M = K = N")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per kernel (best is kept)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error(f"--size must be >= 1; got {args.size}")
    threads = [int(t) for t in args.threads.split(",")]
    print(f"bitserial benchmark, {datetime.date.today()}, code {code_version()}")
    print(machine_line())
    print()
    for t in threads:
        print("\n".join(run(args.size, t, args.repeat)), flush=True)
    print(f"after: {load_line()}")


if __name__ == "__main__":
    main()
