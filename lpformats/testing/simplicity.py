"""An order on float inputs from simple to complicated, used to present the minimal
counterexample (as Hypothesis shrinks toward simple examples): finite before infinite
before NaN, then few significant bits, exponent near 0, positive before negative."""

from __future__ import annotations

import numpy as np


def simplicity_key(value: float) -> tuple:
    """Sort key: smaller is simpler (``0.5`` before ``0.5625`` before ``1e-30`` before inf)."""
    v = float(value)
    if np.isnan(v):
        return (2, 0, 0, 0, 0.0)
    if np.isinf(v):
        return (1, 0, 0, int(v < 0), 0.0)
    if v == 0:
        return (0, 0, 0, int(np.signbit(v)), 0.0)
    mantissa, exponent = np.frexp(abs(v))
    bits = 53
    m = int(np.ldexp(mantissa, 53))
    while bits > 1 and m % 2 == 0:
        m //= 2
        bits -= 1
    return (0, bits, abs(int(exponent) - 1), int(v < 0), abs(v))


def simplest_first(values: np.ndarray) -> np.ndarray:
    """``values`` (1-D) without duplicate bit patterns, sorted by :func:`simplicity_key`."""
    values = np.asarray(values)
    _, first = np.unique(values.view(f"u{values.dtype.itemsize}"), return_index=True)
    unique = values[np.sort(first)]
    order = sorted(range(unique.size), key=lambda i: simplicity_key(unique[i]))
    return unique[np.array(order, dtype=np.int64)] if order else unique
