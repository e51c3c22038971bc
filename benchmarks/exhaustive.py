"""Exhaustive check: every float32 bit pattern through ``lpformats.quantize`` (nearest) and
through the ml_dtypes 0.6 round trip ``x.astype(T).astype(float32)``, for each FP8/FP6/FP4
preset.

Run from the repository root (about a minute per format on a quiet core)::

    python benchmarks/exhaustive.py [--formats fp8_e4m3 ...] [--chunk-bits 24] [--range LO HI]

Results agree when the float32 bit patterns are equal, or when both are NaN (our NaN keeps
the input's payload, ml_dtypes returns its canonical NaN). FP6/FP4 have no NaN: NaN inputs
follow our ``nan=`` rule (DESIGN.md), not ml_dtypes' undefined mapping, so they are run with
``nan="zero"`` and left out of the comparison (and counted). The same check is the opt-in
test ``pytest -m exhaustive tests/test_exhaustive.py``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ml_dtypes
import numpy as np

import lpformats
from benchmarks.common import code_version, machine_line

#: Preset -> the ml_dtypes type it must equal bit for bit.
ORACLES: dict[str, type] = {
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "fp8_e3m4": ml_dtypes.float8_e3m4,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}

ALL_PATTERNS = 1 << 32

#: Mismatches kept as examples per format.
EXAMPLES = 5


@dataclass
class SweepResult:
    """Outcome of :func:`sweep` over the float32 patterns ``[start, stop)``.

    ``compared``: inputs compared; ``nan_excluded``: NaN inputs left out (formats without
    NaN); ``mismatches``: compared inputs whose results differ; ``examples``: the first few
    as ``(input bits, our bits, oracle bits)``; ``seconds``: wall time."""

    fmt: str
    oracle: str
    start: int
    stop: int
    compared: int = 0
    nan_excluded: int = 0
    mismatches: int = 0
    examples: list[tuple[int, int, int]] = field(default_factory=list)
    seconds: float = 0.0


def _check_range(start: int, stop: int, chunk: int) -> None:
    if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop <= ALL_PATTERNS):
        raise ValueError(f"start, stop must be integers with 0 <= start < stop <= 2**32; got {start}, {stop}")
    if not (isinstance(chunk, int) and chunk >= 1):
        raise ValueError(f"chunk must be an integer >= 1 (patterns per pass); got {chunk!r}")


def chunks(start: int, stop: int, chunk: int) -> list[tuple[int, int]]:
    """``[start, stop)`` cut into consecutive ``(lo, hi)`` ranges of at most ``chunk``."""
    _check_range(start, stop, chunk)
    return [(lo, min(lo + chunk, stop)) for lo in range(start, stop, chunk)]


def sweep(
    fmt: str,
    start: int = 0,
    stop: int = ALL_PATTERNS,
    chunk: int = 1 << 24,
    *,
    oracle: type | None = None,
    progress: bool = False,
) -> SweepResult:
    """Compare ``lpformats.quantize(x, fmt)`` (nearest, style default overflow) with the
    ml_dtypes round trip for every float32 ``x`` whose bit pattern lies in ``[start, stop)``.

    Args:
        fmt: a preset of :data:`ORACLES`.
        start, stop: range of float32 bit patterns (default: all 2**32).
        chunk: patterns per pass (memory: about 20 bytes each).
        oracle: ml_dtypes type to compare with (default ``ORACLES[fmt]``).
        progress: show a tqdm progress bar when tqdm is installed.
    """
    if fmt not in ORACLES:
        raise ValueError(f"fmt must be one of {', '.join(ORACLES)}; got {fmt!r}")
    parts = chunks(start, stop, chunk)
    oracle = ORACLES[fmt] if oracle is None else oracle
    fmt_obj = lpformats.parse(fmt)
    has_nan = fmt_obj.has_nan
    result = SweepResult(fmt, np.dtype(oracle).name, start, stop)
    size = parts[0][1] - parts[0][0]
    offsets = np.arange(size, dtype=np.uint32)
    bits = np.empty(size, dtype=np.uint32)
    ours = np.empty(size, dtype=np.float32)
    began = time.perf_counter()
    for lo, hi in _progress(parts, fmt, progress):
        n = hi - lo
        np.add(offsets[:n], np.uint32(lo), out=bits[:n])
        x = bits[:n].view(np.float32)
        lpformats.quantize(x, fmt_obj, out=ours[:n], nan=None if has_nan else "zero")
        with np.errstate(invalid="ignore"):  # NaN into FP6/FP4: undefined in ml_dtypes, excluded below
            theirs = x.astype(oracle).astype(np.float32)
        same = ours[:n].view(np.uint32) == theirs.view(np.uint32)
        same |= np.isnan(ours[:n]) & np.isnan(theirs)
        compared = n
        if not has_nan:
            nan_in = np.isnan(x)
            same |= nan_in
            excluded = int(np.count_nonzero(nan_in))
            result.nan_excluded += excluded
            compared -= excluded
        result.compared += compared
        bad = np.flatnonzero(~same)
        result.mismatches += bad.size
        for i in bad[: EXAMPLES - len(result.examples)]:
            result.examples.append(
                (int(bits[i]), int(ours[i:i + 1].view(np.uint32)[0]), int(theirs[i:i + 1].view(np.uint32)[0]))
            )
    result.seconds = time.perf_counter() - began
    return result


def _progress(parts: list[tuple[int, int]], fmt: str, show: bool) -> Iterable[tuple[int, int]]:
    if not show:
        return parts
    try:
        from tqdm import tqdm
    except ImportError:
        return parts
    return tqdm(parts, desc=fmt, unit="chunk", leave=False)


def describe(result: SweepResult) -> list[str]:
    """A markdown table row for ``result``."""
    first = ""
    if result.examples:
        x, ours, theirs = result.examples[0]
        first = f"x=0x{x:08x}: ours 0x{ours:08x}, ml_dtypes 0x{theirs:08x}"
    return [result.fmt, result.oracle, f"{result.compared:,}", f"{result.nan_excluded:,}",
            f"{result.mismatches:,}", f"{result.seconds:.1f}", first]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", nargs="+", default=list(ORACLES), choices=list(ORACLES),
                        help="presets to sweep (default: all)")
    parser.add_argument("--chunk-bits", type=int, default=24, choices=range(10, 29), metavar="10..28",
                        help="log2 of the patterns per pass (default 24)")
    parser.add_argument("--range", nargs=2, metavar=("LO", "HI"), type=lambda s: int(s, 0),
                        default=(0, ALL_PATTERNS),
                        help="float32 bit patterns [LO, HI) to sweep, e.g. 0x3f000000 0x40000000")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the sweep; the exit status is 1 when any format mismatches."""
    args = parse_args(argv)
    lo, hi = args.range
    _check_range(lo, hi, 1)
    print(f"# exhaustive float32 sweep vs ml_dtypes {ml_dtypes.__version__}, "
          f"{datetime.datetime.now().isoformat(timespec='seconds')}")
    print(machine_line() + " (before)")
    print(f"code: {code_version()}")
    print(f"patterns [0x{lo:08x}, 0x{hi:08x}) in chunks of 2**{args.chunk_bits}\n", flush=True)
    rows = []
    for fmt in args.formats:
        result = sweep(fmt, lo, hi, 1 << args.chunk_bits, progress=True)
        rows.append(describe(result))
        print(f"{fmt}: {result.mismatches} mismatch(es) in {result.compared} inputs, "
              f"{result.seconds:.0f} s", flush=True)
        for x, ours, theirs in result.examples:
            value = np.array([x], dtype=np.uint32).view(np.float32)[0]
            print(f"    x=0x{x:08x} ({value!r}): ours 0x{ours:08x}, ml_dtypes 0x{theirs:08x}")
    header = ["format", "ml_dtypes type", "inputs compared", "NaN inputs excluded", "mismatches",
              "seconds", "first mismatch"]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n" + machine_line() + " (after)")
    return 1 if any(row[4] != "0" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
