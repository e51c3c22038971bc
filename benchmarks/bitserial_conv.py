"""Time ``lpformats.bitserial_conv2d`` on the 11 ResNet-18 convolutions of Cowan et al. (CGO 2020)
against our int16 convolutions and torch's float32 conv2d, tuned and untuned.

Run from the repository root (timings under the shared lock)::

    flock /tmp/timing.lock python benchmarks/bitserial_conv.py [--threads 1] [--budget 48] [--repeat 7]

The host's ISA is measured in this process; with ``--isa both`` (default) the script then runs
itself again in a subprocess built for AVX2 (:data:`AVX2_ENV`: Numba compiling for Haswell,
torch's AVX2 kernels, OpenBLAS's Haswell kernels), whose tables follow.

Workload: batch 1, NHWC, the layers of ``resnet_workload`` in the authors' artifact
(github.com/cowanmeg/cgo-artifact-2020, ``scripts/convolutions_quantized.py``): input size,
input channels, output channels, kernel, stride; "SAME" padding there is (0 before, 1 after)
for the stride-2 3x3 layers and 1 on both sides for stride 1; we pad 1 on both sides
(torch's ResNet-18), which gives the same output size and work. Activations are unsigned codes
(0..2^a-1), weights bipolar (+-1; 2-bit: -3, -1, 1, 3), as in the paper.

Per layer it prints the best time of ``--repeat`` calls after a warm-up: with one thread (the
default) the calling thread's CPU time, since every kernel, ours and torch's, then runs on
that thread and the figure does not depend on what other processes do with the cores (wall
time on a shared machine penalises long calls, which are preempted more often); with several
threads, wall time. Timed:

- int16: our two 16-bit integer convolutions, ``int16_conv2d`` (implicit GEMM on int16
  multiply-add pairs, ``vpdpwssd``/``vpmaddwd``, int32 accumulators, register-tiled, weights
  packed beforehand with ``pack_int16_weights``, as the bit-serial ones are) and im2col +
  ``int_matmul`` (int16 codes, int64 accumulators); the faster of the two is the baseline of
  the speedup columns;
- fp32: ``torch.nn.functional.conv2d`` on float32 NCHW tensors (``torch.set_num_threads``);
- A1W1, A2W1, A2W2: ``bitserial_conv2d`` with weights packed beforehand (as the paper's
  measurements, which pack weights offline), activation packing included, with the schedule
  the tuner chose (``tune_conv2d``: ``--budget`` schedules, searched afresh) and with the
  untuned default schedule (the two timed in alternation).

``int16_conv2d`` and torch's conv2d are checked equal and timed in alternation ("int16 vs fp32":
fp32 time / int16 time). Every bit-serial output is checked equal to the int16 baseline's before
it is timed. Threads:
``--threads`` for Numba (our kernels) and torch alike.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np
import torch

from benchmarks.common import code_version, load_line, machine_line
from lpformats import int_matmul
from lpformats.bitserial_conv import (
    DEFAULT,
    best_time,
    bitserial_conv2d,
    cpu_key,
    int16_conv2d,
    pack_conv_weights,
    pack_int16_weights,
    tune_conv2d,
)

#: (name, input height = width, input channels, output channels, kernel, stride): the artifact's
#: ``resnet_workload``, in its order.
LAYERS = (
    ("L1", 56, 64, 64, 3, 1),
    ("L2", 56, 64, 64, 1, 1),
    ("L3", 56, 64, 128, 3, 2),
    ("L4", 56, 64, 128, 1, 2),
    ("L5", 28, 128, 128, 3, 1),
    ("L6", 28, 128, 256, 3, 2),
    ("L7", 28, 128, 256, 1, 2),
    ("L8", 14, 256, 256, 3, 1),
    ("L9", 14, 256, 512, 3, 2),
    ("L10", 14, 256, 512, 1, 2),
    ("L11", 7, 512, 512, 3, 1),
)
#: (activation bits, weight bits) of the paper's configurations.
BITS = ((1, 1), (2, 1), (2, 2))
SIGNED = ("unsigned", "bipolar")
#: Environment of the AVX2 subprocess (Numba keeps the host's AVX-512 features if only the CPU
#: name is set; torch and OpenBLAS pick their AVX2 kernels).
AVX2_ENV = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell",
            "ATEN_CPU_CAPABILITY": "avx2"}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` calls after a warm-up, timed as the tuner times (thread CPU time on one
    thread, else wall time)."""
    return best_time(fn, repeat, warm_up=True)


def interleaved(calls: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best time of each call over ``repeat`` rounds that call each once in turn, so that a
    change in the machine's load affects them alike."""
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            best[i] = min(best[i], best_time(call, 1))
    return best


def im2col_int_matmul(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """int16 NHWC convolution as im2col of the padded input and one ``int_matmul``."""
    n, h, wd = x.shape[:3]
    kh, kw, _, o = w.shape
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    cols = windows[:, ::stride, ::stride][:, :ho, :wo].transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, -1)
    return int_matmul(cols, w.reshape(-1, o)).reshape(n, ho, wo, o)


def layer(name: str, size: int, c: int, o: int, k: int, stride: int, args: argparse.Namespace,
          rng: np.random.Generator) -> tuple[str, list[str]]:
    """The layer's row of the speed table and its rows of the tuning table."""
    padding = k // 2
    x2 = rng.integers(0, 4, size=(1, size, size, c)).astype(np.int8)
    w_patterns = rng.integers(0, 4, size=(k, k, c, o))
    weights = {1: (2 * (w_patterns & 1) - 1).astype(np.int8), 2: (2 * w_patterns - 3).astype(np.int8)}
    x16, w16 = x2.astype(np.int16), weights[2].astype(np.int16)
    xt = torch.from_numpy(np.ascontiguousarray(x2.transpose(0, 3, 1, 2)).astype(np.float32))
    wt = torch.from_numpy(np.ascontiguousarray(weights[2].transpose(3, 2, 0, 1)).astype(np.float32))
    direct = functools.partial(int16_conv2d, x16, pack_int16_weights(w16, layout="NHWC"), stride, padding,
                               layout="NHWC")
    fp32 = functools.partial(torch.nn.functional.conv2d, xt, wt, stride=stride, padding=padding)
    with torch.no_grad():
        if not np.array_equal(direct(), fp32().numpy().transpose(0, 2, 3, 1)):  # (also the warm-up)
            raise AssertionError(f"{name}: int16_conv2d differs from torch's conv2d")
        t_direct, t_fp32 = interleaved([direct, fp32], args.repeat)
    t_im2col = timed(lambda: im2col_int_matmul(x16, w16, stride, padding), args.repeat)
    t_int16 = min(t_direct, t_im2col)
    cells, tuning = [], []
    for a_bits, w_bits in BITS:
        x = x2 & ((1 << a_bits) - 1)
        w = weights[w_bits]
        packed = pack_conv_weights(w, w_bits, signed="bipolar", layout="NHWC")
        expected = int16_conv2d(x.astype(np.int16), w.astype(np.int16), stride, padding, layout="NHWC")
        result = tune_conv2d(x, packed, a_bits, w_bits, stride, padding, signed=SIGNED, layout="NHWC",
                             budget=args.budget, repeat=args.tune_repeat, refresh=True)

        calls = [
            functools.partial(bitserial_conv2d, x, packed, a_bits, w_bits, stride, padding, signed=SIGNED,
                              layout="NHWC", schedule=schedule)
            for schedule in (result.schedule, DEFAULT)
        ]
        for call in calls:
            if not np.array_equal(call(), expected):
                raise AssertionError(f"{name} A{a_bits}W{w_bits}: bitserial_conv2d differs from int16_conv2d")
        t_tuned, t_default = interleaved(calls, args.repeat)
        cells += [f"{t_tuned * 1e3:.3f}", f"{t_int16 / t_tuned:.1f}x", f"{t_fp32 / t_tuned:.1f}x"]
        tuning.append(f"| {name} | A{a_bits}W{w_bits} | {t_default * 1e3:.3f} | {t_tuned * 1e3:.3f} | "
                      f"{t_default / t_tuned:.2f}x | {result.search_seconds:.1f} | {result.tried} | "
                      f"{result.schedule.describe()} |")
    shape = f"{size}x{size}x{c} -> {o}, {k}x{k}/{stride}"
    row = (f"| {name} | {shape} | {t_direct * 1e3:.3f} | {t_im2col * 1e3:.3f} | {t_fp32 * 1e3:.3f} | "
           f"{t_fp32 / t_direct:.2f}x | " + " | ".join(cells) + " |")
    return row, tuning


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="Numba and torch threads")
    parser.add_argument("--budget", type=int, default=48, help="schedules the tuner times per layer")
    parser.add_argument("--repeat", type=int, default=7, help="timed calls per measurement (best kept)")
    parser.add_argument("--tune-repeat", type=int, default=5, help="timed calls per schedule while tuning")
    parser.add_argument("--layers", default="", help="comma-separated layer names (default: all 11)")
    parser.add_argument("--isa", choices=("both", "host", "avx2"), default="both",
                        help="host: this process's ISA; avx2: this process must be the AVX2 build; "
                             "both: host, then an AVX2 subprocess")
    args = parser.parse_args(argv)
    if args.isa == "avx2" and any(os.environ.get(key) != value for key, value in AVX2_ENV.items()):
        needed = " ".join(f"{key}={value!r}" for key, value in AVX2_ENV.items())
        parser.error(f"--isa avx2 runs in an environment with {needed} (use --isa both)")
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    chosen = [spec for spec in LAYERS if not args.layers or spec[0] in args.layers.split(",")]
    print(f"bitserial_conv benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, code "
          f"{code_version()}")
    print(machine_line())
    print(f"tuner CPU key: {cpu_key()}; threads: numba {numba.get_num_threads()}, torch "
          f"{torch.get_num_threads()}; batch 1, NHWC; weights packed beforehand; best of {args.repeat} "
          f"calls, {'thread CPU' if args.threads == 1 else 'wall'} time; tuner budget {args.budget}")
    print()
    rows, tuning = [], []
    rng = np.random.default_rng(0)
    for spec in chosen:
        row, tune_rows = layer(*spec, args, rng)
        rows.append(row)
        tuning += tune_rows
        print(row, file=sys.stderr, flush=True)
    print("| layer | shape (HxWxC -> O, k/stride) | int16 ms | int16 im2col ms | fp32 torch ms | "
          "int16 vs fp32 | " + " | ".join(f"A{a}W{b} ms | vs int16 | vs fp32" for a, b in BITS) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| layer | bits | default ms | tuned ms | tuned vs default | search s | schedules | chosen |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(tuning))
    print(f"\nafter: {load_line()}", flush=True)
    if args.isa == "both":
        print("\n--- AVX2 build (subprocess) ---\n", flush=True)
        forwarded = [f"--threads={args.threads}", f"--budget={args.budget}", f"--repeat={args.repeat}",
                     f"--tune-repeat={args.tune_repeat}", f"--layers={args.layers}", "--isa=avx2"]
        subprocess.run([sys.executable, __file__, *forwarded], env={**os.environ, **AVX2_ENV}, check=True)


if __name__ == "__main__":
    main()
