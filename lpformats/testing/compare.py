"""Bit-level comparison of float results and their readable description (numpy only).

Values are compared as float64 (every float16/32/64 value widens exactly), so a result
returned in a wider dtype than the input is still compared bit for bit as a number.
"""

from __future__ import annotations

import numpy as np

#: How two zeros compare: ``exact`` (+0 and -0 differ) or ``any`` (either sign matches).
SIGNED_ZERO = ("exact", "any")
#: How two NaNs compare: ``exact`` (same sign and payload) or ``any`` (every NaN matches).
NAN_PAYLOAD = ("exact", "any")


def as_float64(values: object) -> np.ndarray:
    """``values`` as a float64 numpy array (torch tensors of any floating dtype included)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor):
        values = values.detach().cpu().to(torch.float64).numpy()
    with np.errstate(invalid="ignore"):  # signalling-NaN payloads warn when widened
        return np.asarray(values, dtype=np.float64)


def same_values(
    actual: np.ndarray, expected: np.ndarray, *, signed_zero: str = "exact", nan_payload: str = "any"
) -> np.ndarray:
    """Element-wise: are ``actual`` and ``expected`` the same number bit for bit as float64?

    ``signed_zero="any"`` lets +0 match -0; ``nan_payload="any"`` lets every NaN match every
    NaN (else sign and payload bits must agree)."""
    a, e = as_float64(actual), as_float64(expected)
    a_bits, e_bits = a.view(np.uint64), e.view(np.uint64)
    same = a_bits == e_bits
    if signed_zero == "any":
        same |= (a == 0) & (e == 0)
    if nan_payload == "any":
        same |= np.isnan(a) & np.isnan(e)
    return same


def bits_hex(value: float, dtype: np.dtype) -> str:
    """The bit pattern of ``value`` in ``dtype`` (float16/32/64) as hex, e.g. ``0x3f100000``;
    a value ``dtype`` cannot hold exactly is shown as float64 bits, marked ``(float64)``."""
    dtype = np.dtype(dtype)
    v = np.float64(value)
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = np.array([v]).astype(dtype)
    if (
        dtype != np.float64
        and not (narrow.astype(np.float64).view(np.uint64) == np.array([v]).view(np.uint64))[0]
    ):
        return f"0x{int(np.array([v]).view(np.uint64)[0]):016x} (float64)"
    width = dtype.itemsize * 2
    return f"0x{int(narrow.view(f'u{dtype.itemsize}')[0]):0{width}x}"


def show(value: float, dtype: np.dtype) -> str:
    """``repr`` of the value and its bits, e.g. ``0.5625 (0x3f100000)``."""
    return f"{float(value)!r} ({bits_hex(value, dtype)})"


def assert_same_values(actual: object, expected: object, inputs: object = None, what: str = "") -> None:
    """``actual`` and ``expected`` are the same numbers bit for bit as float64: equal values,
    NaN in the same places, zeros with the same sign. On failure, shows the first mismatches
    (with the ``inputs`` that produced them)."""
    a, e = as_float64(actual), as_float64(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    same = same_values(a, e)
    if not same.all():
        bad = np.argwhere(~same)[:8]
        rows = []
        for idx in map(tuple, bad):
            x = "" if inputs is None else f"x={np.asarray(inputs)[idx]!r} "
            rows.append(f"  at {idx}: {x}got {a[idx]!r}, expected {e[idx]!r}")
        raise AssertionError(f"{what}: {int((~same).sum())} of {a.size} differ\n" + "\n".join(rows))
