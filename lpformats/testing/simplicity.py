"""An order on float inputs from simple to complicated, used to present the minimal
counterexample (as Hypothesis shrinks toward simple examples): finite before infinite
before NaN, then few significant bits, exponent near 0, positive before negative."""

from __future__ import annotations

import numpy as np


def simplicity_keys(values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort keys of ``values`` for ``np.lexsort`` (last key first): smaller is simpler
    (``0.5`` before ``0.5625`` before ``1e-30`` before inf before NaN)."""
    v = np.asarray(values, dtype=np.float64)
    kind = np.where(np.isnan(v), 2, np.where(np.isinf(v), 1, 0))
    finite = np.where(np.isfinite(v) & (v != 0), np.abs(v), 1.0)
    mantissa, exponent = np.frexp(finite)
    integer = np.ldexp(mantissa, 53).astype(np.int64)
    trailing = np.log2((integer & -integer).astype(np.float64)).astype(np.int64)
    bits = np.where(v == 0, 0, 53 - trailing)
    distance = np.where(v == 0, 0, np.abs(exponent - 1))
    return (np.abs(np.nan_to_num(v)), np.signbit(v), distance, bits, kind)


def simplest_first(values: np.ndarray) -> np.ndarray:
    """``values`` (1-D) without duplicate bit patterns, sorted by :func:`simplicity_keys`."""
    values = np.asarray(values)
    _, first = np.unique(values.view(f"u{values.dtype.itemsize}"), return_index=True)
    unique = values[np.sort(first)]
    return unique[np.lexsort(simplicity_keys(unique))]
