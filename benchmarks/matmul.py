"""Time ``lpformats.matmul`` (per-step rounding, narrow accumulators) against BLAS, on AVX-512
and AVX2 in one run.

Run from the repository root::

    python benchmarks/matmul.py [--sizes 128,256,512,1024] [--repeat 5] [--isa both|host|avx2]

The host's ISA is measured in this process; with ``--isa both`` (default) the script then
runs itself again in a subprocess built for AVX2 (``NUMBA_CPU_NAME=haswell
NUMBA_CPU_FEATURES=""``: Numba keeps the host's AVX-512 features if only the CPU name is set)
with OpenBLAS's AVX2 kernels (``OPENBLAS_CORETYPE=Haswell``), so that the BLAS reference is
an AVX2 one too. Each table's header names the CPU, the ISA Numba compiled for and the BLAS
kernels (threadpoolctl). One thread each: Numba 1 thread, BLAS 1 thread (threadpoolctl).

For square products (M = K = N = size) and tall ones (M = 4 * size, K = size, N = 128) it
prints, per case, the best of ``--repeat`` interleaved rounds after a warm-up round (every
round calls every case of the shape once, BLAS included, so that ratios compare calls made
under the same machine load): wall ms, CPU ms (process time, less disturbed by other
processes on a shared machine), GMAC/s (M*K*N multiply-accumulates per wall second), the
ratio of throughput to numpy ``matmul`` on float32 (BLAS) by wall time and by CPU time, and
PASS/MISS where the case has a target (issue 15). The verdict uses the CPU-time ratio: on a
machine shared with other jobs (load averages above the core count) a wall-time minimum
measures the scheduler as much as the code, and the short BLAS calls find quiet moments more
often than the long ones; with the machine to itself the two ratios agree.

- fixed-point operands into a saturating 24-bit accumulator, sequential: >= 0.25x BLAS at
  256^3, 512^3 and 1024^3;
- stochastic rounding of every addition (fixed(16,4) accumulator): >= 0.05x.

Below the table each build prints the random-number floor of the stochastic case: the time per
word of the stream's generator alone (:func:`lpformats.rng.mix64_top` over consecutive
counters, the top bits summed in int32 so that nothing is stored), against the time per
addition that 0.05x of this run's BLAS allows at 256^3; every addition needs its own word.

Cases (operands are random values already representable in their formats):

- ``fixed8 -> fixed(24,8) sat``: fixed(8,4) x fixed(8,4) products summed exactly into a
  24-bit saturating accumulator with the products' 8 fraction bits (no step rounds; the
  common int8 x int8 -> int24 MAC); checked against the exact integer product first;
- ``fixed8 -> fixed(16,4) sat, nearest``: a 16-bit accumulator with 4 fraction bits: every
  addition rounds (ties to even) and saturates; ``... stochastic``: rounded stochastically
  (one counter-based random number per addition);
- ``fixed8 -> fixed(16,4) chunked(32) + fp32``: 32-term partial sums, combined in fp32;
- ``fp8_e4m3 -> fp16 / bf16 / fp32 acc``: E4M3 operands, every addition rounded (nearest).

Every process prints a digest of all its results (values and statistics); ``--isa both``
checks that the AVX2 build gave the same bytes. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import subprocess
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
from lpformats.rng import GOLDEN, mix64_top

#: (label, operand format, matmul keyword arguments, sizes it runs at: "all" or "small",
#: target ratio to BLAS float32 or None).
CASES: tuple[tuple[str, str, dict, str, float | None], ...] = (
    ("fixed8 -> fixed(24,8) sat", "fixed(8,4)", dict(acc="fixed(24,8)"), "all", 0.25),
    ("fixed8 -> fixed(16,4) sat, nearest", "fixed(8,4)", dict(acc="fixed(16,4)"), "all", None),
    ("fixed8 -> fixed(16,4) sat, stochastic", "fixed(8,4)",
     dict(acc="fixed(16,4)", rounding="stochastic", seed=0), "small", 0.05),
    ("fixed8 -> fixed(16,4) chunked(32) + fp32", "fixed(8,4)",
     dict(acc="fixed(16,4)", order="chunked(32)"), "small", None),
    ("fp8_e4m3 -> fp16 acc", "fp8_e4m3", dict(acc="fp16"), "all", None),
    ("fp8_e4m3 -> bf16 acc", "fp8_e4m3", dict(acc="bf16"), "small", None),
    ("fp8_e4m3 -> fp32 acc", "fp8_e4m3", dict(acc="fp32"), "small", None),
)
#: Largest K at which the "small" cases run (they are slower and tell the same story).
SMALL = 256
#: Square sizes at which the targets are stated (other shapes are shown without a verdict).
TARGET_SIZES = (256, 512, 1024)
#: Environment of the AVX2 subprocess.
AVX2_ENV = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell"}


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


def interleaved_best(calls: list[Callable[[], object]], repeat: int) -> list[tuple[float, float]]:
    """Best wall time and best CPU time (s) of each call over ``repeat`` rounds after a warm-up
    round; every round runs every call once, in turn, so that all of them see the same state
    of a shared machine."""
    for call in calls:
        call()
    wall = [float("inf")] * len(calls)
    cpu = [float("inf")] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            cpu[i] = min(cpu[i], time.process_time() - start_cpu)
            wall[i] = min(wall[i], time.perf_counter() - start)
    return list(zip(wall, cpu, strict=True))


@numba.njit(cache=True)
def _generator_sum(word, count, used):
    """Sum (int32, wrapping) of the top ``used`` bits of ``count`` consecutive stream words."""
    total = np.int32(0)
    for _ in range(count):
        total = np.int32(total + np.int32(mix64_top(word, used)))
        word += np.uint64(GOLDEN)
    return total


def generator_floor(repeat: int, count: int = 1 << 22) -> float:
    """Best time per random word (ns) of the stochastic rounding stream's generator alone."""
    word = np.uint64(0x243F6A8885A308D3)
    _generator_sum(word, 1024, 4)
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        _generator_sum(word, count, 4)
        best = min(best, time.process_time() - start)
    return best / count * 1e9


def verdict(target: float | None, kind: str, k: int, ratio: float) -> str:
    if target is None or kind != "square" or k not in TARGET_SIZES:
        return ""
    return f">= {target}: {'PASS' if ratio >= target else 'MISS'}"


def run(sizes: list[int], repeat: int, digest: hashlib._Hash) -> tuple[list[str], list[str]]:
    """The table's lines and the verdict lines (one per targeted case and shape)."""
    numba.set_num_threads(1)
    rng = np.random.default_rng(0)
    lines = [
        "| shape (M x K x N) | case | wall ms | CPU ms | GMAC/s | vs BLAS fp32 (wall) | (CPU) | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for kind, m, k, n in shapes(sizes):
        macs = m * k * n
        a32 = rng.standard_normal((m, k)).astype(np.float32)
        b32 = rng.standard_normal((k, n)).astype(np.float32)
        cases = [(label, target) for label, _, _, where, target in CASES if where == "all" or k <= SMALL]
        calls: list[Callable[[], object]] = [lambda a=a32, b=b32: np.matmul(a, b)]
        for _label, fmt, kwargs, where, _ in CASES:
            if where == "small" and k > SMALL:
                continue
            a, b = operands(rng, m, k, n, fmt)
            if kwargs["acc"] == "fixed(24,8)":
                check_exact(a, b)
            c, stats = matmul(a, b, **kwargs)
            digest.update(c.tobytes())
            digest.update(repr(stats).encode())
            calls.append(lambda a=a, b=b, kwargs=kwargs: matmul(a, b, **kwargs))
        with blas_threads(1) as note:
            times = interleaved_best(calls, repeat)
        (blas, blas_cpu), shape = times[0], f"{kind} {m} x {k} x {n}"
        lines.append(f"| {shape} | numpy float32 matmul (BLAS{note and ' ' + note}) | {blas * 1e3:.2f} | "
                     f"{blas_cpu * 1e3:.2f} | {macs / blas / 1e9:.2f} | 1 | 1 | |")
        if (kind, k) == ("square", 256):
            budget = blas_cpu / 0.05 / macs * 1e9
            floor = generator_floor(repeat)
            verdicts.append(f"random-number floor, {shape}: the generator alone takes {floor:.3f} ns "
                            f"per word (CPU); 0.05x of BLAS allows {budget:.3f} ns per addition: "
                            f"{floor / budget:.0%} of it")
        for (label, target), (wall, cpu) in zip(cases, times[1:], strict=True):
            check = verdict(target, kind, k, blas_cpu / cpu)
            lines.append(f"| {shape} | {label} | {wall * 1e3:.2f} | {cpu * 1e3:.2f} | "
                         f"{macs / wall / 1e9:.3f} | {blas / wall:.3f} | {blas_cpu / cpu:.3f} | {check} |")
            if check:
                verdicts.append(f"{label}, {shape}: CPU {blas_cpu / cpu:.3f}x "
                                f"(wall {blas / wall:.3f}x) {check}")
    return lines, verdicts


def measure(sizes: list[int], repeat: int, isa: str) -> str:
    """Print this process's table; returns its result digest."""
    digest = hashlib.sha256()
    with blas_threads(1):  # so that the header states the BLAS thread count of the timings
        print(f"### {isa}: {machine_line()}", flush=True)
    print()
    lines, verdicts = run(sizes, repeat, digest)
    print("\n".join(lines))
    print()
    print("\n".join(f"- {isa}: {line}" for line in verdicts))
    print(f"- {isa}: result digest {digest.hexdigest()}")
    print(f"- {isa}: after: {load_line()}", flush=True)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256,512,1024", help="comma-separated sizes (K)")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (best is kept)")
    parser.add_argument("--isa", choices=("both", "host", "avx2"), default="both",
                        help="host: this process's ISA; avx2: this process must be the AVX2 build; "
                             "both: host, then an AVX2 subprocess")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < 1 or args.repeat < 1:
        parser.error("--sizes and --repeat must be positive integers")
    if args.isa == "avx2" and any(os.environ.get(key) != value for key, value in AVX2_ENV.items()):
        needed = " ".join(f"{key}={value!r}" for key, value in AVX2_ENV.items())
        parser.error(f"--isa avx2 runs in an environment with {needed} (use --isa both)")
    now = datetime.datetime.now(datetime.UTC)
    print(f"matmul benchmark, {now:%Y-%m-%d %H:%M} UTC, code {code_version()}, 1 thread (numba and BLAS), "
          f"best of {args.repeat} interleaved rounds")
    print()
    host = measure(sizes, args.repeat, "AVX2 build" if args.isa == "avx2" else "host build")
    if args.isa != "both":
        return
    print()
    child = subprocess.run(
        [sys.executable, __file__, "--sizes", args.sizes, "--repeat", str(args.repeat), "--isa", "avx2"],
        env={**os.environ, **AVX2_ENV}, capture_output=True, text=True, check=True,
    ).stdout
    print(child.split("\n", 2)[2], end="")  # its own header line is the same
    avx2 = child.rsplit("result digest ", 1)[1].split()[0]
    print(f"\nsame result bytes on both builds: {'yes' if avx2 == host else 'NO'}")
    if avx2 != host:
        raise SystemExit("the AVX2 build gave different results")


if __name__ == "__main__":
    main()
