"""``python -m lpformats``: a table of the preset formats and a worked quantization example."""

from __future__ import annotations

import numpy as np

from lpformats import PRESETS, BlockFloat, MXFormat, encode, quantize


def format_table() -> str:
    """One line per preset: bits per element, largest value, smallest normal/subnormal, eps."""
    lines = [f"{'format':14s} {'bits/elem':>9s} {'max':>12s} {'min normal':>12s} "
             f"{'min subnorm':>12s} {'eps':>10s}"]
    for name, fmt in PRESETS.items():
        scalar = fmt.element if isinstance(fmt, MXFormat) else fmt
        if isinstance(fmt, BlockFloat):
            lines.append(f"{name:14s} {fmt.wl:>6d}+E  {'(per block)':>12s}")
            continue
        bits = fmt.bits_per_element() if isinstance(fmt, MXFormat) else fmt.bits
        lines.append(
            f"{name:14s} {bits:9.3g} {scalar.max_value:12.5g} {scalar.smallest_normal:12.5g} "
            f"{scalar.smallest_subnormal:12.5g} {scalar.eps:10.3g}"
        )
    return "\n".join(lines)


def example() -> str:
    """Quantize a few values in several formats and rounding modes."""
    x = np.array([0.1, -1.7, 3.14159, 300.0, 1e-3, 500.0], dtype=np.float32)
    rows = [f"x                        = {np.array2string(x, precision=5)}"]
    for fmt, rounding in [("fp8_e4m3", "nearest"), ("fp8_e4m3", "stochastic"), ("fp8_e5m2", "nearest"),
                          ("fp4_e2m1", "nearest"), ("fixed(8,4)", "nearest"), ("bfp8", "nearest"),
                          ("mxfp4", "nearest")]:
        q = quantize(x, fmt, rounding, seed=0)
        rows.append(f"{fmt + ' ' + rounding:24s} = {np.array2string(q, precision=5)}")
    rows.append(f"encode(x, 'fp8_e4m3')    = {[hex(c) for c in encode(x, 'fp8_e4m3')]}")
    return "\n".join(rows)


def main() -> None:
    print("lpformats presets\n" + format_table() + "\n")
    print("Quantization example (stochastic rounding with seed=0)\n" + example())


if __name__ == "__main__":
    main()
