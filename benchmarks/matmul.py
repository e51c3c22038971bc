"""Time ``lpformats.matmul`` (per-step rounding, narrow accumulators) against BLAS and int16.

Run from the repository root::

    python benchmarks/matmul.py [--sizes 128,256,512,1024] [--threads 1] [--repeat 3]

For square products (M = K = N = size) and tall ones (M = 4 * size, K = size, N = 128,
the shape of a batch of activations times a narrow layer) it prints, per case, the best wall
time of ``--repeat`` rounds after a warm-up round (every round calls every case of the shape
once, BLAS included, so that ratios compare calls made under the same machine load), GMAC/s
(M*K*N multiply-accumulates per second of wall time) and two ratios of throughput on the
same shape:

- against numpy ``matmul`` on float32 (BLAS; limited to the same thread count through
  threadpoolctl): the issue's targets are >= 0.25x for fixed-point operands into a
  saturating fixed-point accumulator in sequential order, and >= 0.05x for float
  accumulators rounded after every addition;
- against our int16 integer matmul ``lpformats.int_matmul`` (exact int64 sums: the cost of
  the arithmetic without any rounding or range rule).

Cases (operands are random values already representable in their formats):

- ``fixed8 -> fixed(24,8) sat``: fixed(8,4) x fixed(8,4) products summed exactly into a
  24-bit saturating accumulator with the products' 8 fraction bits (no step rounds; the
  common int8 x int8 -> int24/int32 MAC);
- ``fixed8 -> fixed(16,4) sat, nearest``: the same into a 16-bit accumulator with 4 fraction
  bits: every addition rounds (ties to even) and saturates;
- ``... stochastic``: as above with stochastic rounding (one random number per addition);
- ``fp8 -> fp16 / bf16 / fp32 acc``: E4M3 operands, exact products, every addition rounded
  to the accumulator (nearest);
- ``fixed8 -> fixed(16,4) chunked(32) + fp32``: 32-term partial sums in the narrow
  accumulator, combined in fp32.

Every fixed-point result with a wide accumulator is checked against the exact integer product
before it is timed. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

from benchmarks.bitserial import blas_threads
from benchmarks.common import code_version, load_line, machine_line
from lpformats import int_matmul, matmul, quantize

#: (label, operand format, matmul keyword arguments, sizes it runs at: "all" or "small").
CASES: tuple[tuple[str, str, dict, str], ...] = (
    ("fixed8 -> fixed(24,8) sat", "fixed(8,4)", dict(acc="fixed(24,8)"), "all"),
    ("fixed8 -> fixed(16,4) sat, nearest", "fixed(8,4)", dict(acc="fixed(16,4)"), "all"),
    ("fixed8 -> fixed(16,4) sat, stochastic", "fixed(8,4)",
     dict(acc="fixed(16,4)", rounding="stochastic", seed=0), "small"),
    ("fixed8 -> fixed(16,4) chunked(32) + fp32", "fixed(8,4)",
     dict(acc="fixed(16,4)", order="chunked(32)"), "small"),
    ("fp8_e4m3 -> fp16 acc", "fp8_e4m3", dict(acc="fp16"), "all"),
    ("fp8_e4m3 -> bf16 acc", "fp8_e4m3", dict(acc="bf16"), "small"),
    ("fp8_e4m3 -> fp32 acc", "fp8_e4m3", dict(acc="fp32"), "small"),
)
#: Largest K at which the "small" cases run (they are slower and tell the same story).
SMALL = 256


def shapes(sizes: list[int]) -> list[tuple[str, int, int, int]]:
    """``(kind, M, K, N)``: square products, then tall ones."""
    square = [("square", s, s, s) for s in sizes]
    tall = [("tall", 4 * s, s, 128) for s in sizes if s >= 128]
    return square + tall


def operands(rng: np.random.Generator, m: int, k: int, n: int, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 operands representable in ``fmt`` (spread over its range)."""
    scale = 4.0 if fmt.startswith("fixed") else 1.0
    a = quantize(rng.standard_normal((m, k)).astype(np.float32) * scale, fmt)
    b = quantize(rng.standard_normal((k, n)).astype(np.float32) * scale, fmt)
    return a, b


def check_exact(a: np.ndarray, b: np.ndarray) -> None:
    """The 24-bit accumulator case must equal the exact integer product (saturation aside)."""
    got, stats = matmul(a, b, acc="fixed(24,8)")
    codes = int_matmul((a * 16).astype(np.int16), (b * 16).astype(np.int16)).astype(np.float64) / 256
    if stats.saturated == 0 and not np.array_equal(got, codes):
        raise AssertionError("matmul with a wide fixed accumulator differs from the exact integer product")


def interleaved_best(calls: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best wall time (s) of each call over ``repeat`` rounds after a warm-up round; every round
    runs every call once, in turn, so that all of them see the same state of a shared machine
    (this VM's speed drifts by tens of percent over minutes)."""
    for call in calls:
        call()
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def run(sizes: list[int], threads: int, repeat: int) -> list[str]:
    numba.set_num_threads(threads)
    rng = np.random.default_rng(0)
    lines = [
        f"### {threads} thread(s)",
        "",
        "| shape (M x K x N) | case | wall ms | GMAC/s | vs BLAS fp32 | vs int16 int_matmul |",
        "|---|---|---|---|---|---|",
    ]
    for kind, m, k, n in shapes(sizes):
        macs = m * k * n
        a32 = rng.standard_normal((m, k)).astype(np.float32)
        b32 = rng.standard_normal((k, n)).astype(np.float32)
        a16 = rng.integers(-128, 128, (m, k)).astype(np.int16)
        b16 = rng.integers(-128, 128, (k, n)).astype(np.int16)
        labels = ["numpy float32 matmul (BLAS)", "int_matmul int16 (exact int64 sums)"]
        calls: list[Callable[[], object]] = [lambda a=a32, b=b32: np.matmul(a, b),
                                             lambda a=a16, b=b16: int_matmul(a, b)]
        for label, fmt, kwargs, where in CASES:
            if where == "small" and k > SMALL:
                continue
            a, b = operands(rng, m, k, n, fmt)
            if kwargs["acc"] == "fixed(24,8)":
                check_exact(a, b)
            labels.append(label)
            calls.append(lambda a=a, b=b, kwargs=kwargs: matmul(a, b, **kwargs))
        with blas_threads(threads) as note:
            walls = interleaved_best(calls, repeat)
        labels[0] += f" {note}" if note else ""
        blas, int16 = walls[0], walls[1]
        shape = f"{kind} {m} x {k} x {n}"
        lines.append(f"| {shape} | {labels[0]} | {blas * 1e3:.2f} | {macs / blas / 1e9:.2f} | 1 | |")
        for label, wall in zip(labels[1:], walls[1:], strict=True):
            lines.append(f"| {shape} | {label} | {wall * 1e3:.2f} | {macs / wall / 1e9:.3f} | "
                         f"{blas / wall:.3f} | {int16 / wall:.3f} |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256,512,1024", help="comma-separated sizes (K)")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per case (best is kept)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < 1 or args.repeat < 1:
        parser.error("--sizes and --repeat must be positive integers")
    print(f"matmul benchmark, {datetime.date.today()}, code {code_version()}")
    print(machine_line())
    print()
    for t in (int(t) for t in args.threads.split(",")):
        print("\n".join(run(sizes, t, args.repeat)), flush=True)
    print(f"after: {load_line()}")


if __name__ == "__main__":
    main()
