"""Compare register tiles of ``int16_conv2d`` on the paper's 11 ResNet-18 layers, for the ISA
Numba compiles for in this process (how ``lpformats.bitserial_conv.int16_conv.TILES`` was chosen).

Run from the repository root::

    python benchmarks/int16_tiles.py [--tiles 6x4,7x4,4x4] [--repeat 7]

For a CPU other than the host, set Numba's target, e.g. AVX-512 without VNNI
``NUMBA_CPU_NAME=skylake-avx512 NUMBA_CPU_FEATURES=""`` or AVX2 ``NUMBA_CPU_NAME=haswell
NUMBA_CPU_FEATURES=""`` (the code is then what that CPU would run; the timing is this machine's).
A tile ``RxV`` is R output pixels x V vectors of 16 int32 lanes of output channels. Weights are
packed beforehand for each tile; every tile's output is checked equal to the first's; times are
the best of ``--repeat`` rounds that call each tile once in turn (thread CPU time, one thread),
per layer and summed over the layers.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

from benchmarks.bitserial_conv import LAYERS, interleaved
from benchmarks.common import code_version, load_line, machine_line
from lpformats._int16_pairs import LANES
from lpformats.bitserial_conv.int16_conv import _int16_conv2d, _pack_weights, register_tile


def parse_tiles(text: str) -> list[tuple[int, int]]:
    """``"6x4,7x4"`` -> ``[(6, 4), (7, 4)]``."""
    tiles = []
    for item in text.split(","):
        rows, _, vectors = item.strip().partition("x")
        if not (rows.isdigit() and vectors.isdigit() and int(rows) > 0 and int(vectors) > 0):
            raise argparse.ArgumentTypeError(f"tiles must look like 6x4,7x4; got {item!r}")
        tiles.append((int(rows), int(vectors)))
    return tiles


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=parse_tiles, default=None,
                        help="comma-separated RxV tiles (default: this target's tile and its neighbours)")
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (best kept)")
    args = parser.parse_args(argv)
    rows, vectors = register_tile()
    tiles = args.tiles or sorted({(rows, vectors), (rows - 1, vectors), (rows + 1, vectors),
                                  (rows, max(1, vectors - 1))} - {(0, vectors)})
    numba.set_num_threads(1)
    now = datetime.datetime.now(datetime.UTC)
    print(f"int16_conv2d register tiles, {now:%Y-%m-%d %H:%M} UTC, code {code_version()}")
    print(machine_line())
    print(f"this target's tile: {rows}x{vectors}; best of {args.repeat} rounds, thread CPU time, 1 thread\n")
    print("| layer | " + " | ".join(f"{r}x{v} ms" for r, v in tiles) + " |")
    print("|---|" + "---|" * len(tiles))
    rng = np.random.default_rng(0)
    totals = [0.0] * len(tiles)
    for name, size, c, o, k, stride in LAYERS:
        x = rng.integers(0, 4, (1, size, size, c)).astype(np.int16)
        w = (2 * rng.integers(0, 4, (k, k, c, o)) - 3).astype(np.int16)
        calls = [functools.partial(_int16_conv2d, x, _pack_weights(w, "NHWC", v * LANES), stride, k // 2,
                                   "NHWC", (r, v)) for r, v in tiles]
        first = calls[0]()
        for call, tile in zip(calls, tiles, strict=True):
            if not np.array_equal(call(), first):
                raise AssertionError(f"{name}: tile {tile} differs from tile {tiles[0]}")
        times = interleaved(calls, args.repeat)
        totals = [t + s for t, s in zip(totals, times, strict=True)]
        print(f"| {name} | " + " | ".join(f"{s * 1e3:.3f}" for s in times) + " |", flush=True)
    print("| total | " + " | ".join(f"{t * 1e3:.2f}" for t in totals) + " |")
    print(f"\n{load_line()}")


if __name__ == "__main__":
    main()
