"""Conventions that legitimately differ between correct quantizers, stated by the user of
:func:`~lpformats.testing.assert_rounds_like` instead of silencing the check.

* ``signed_zero``: ``exact`` (default) or ``any``. Formats without a negative-zero code
  (fixed point, ``fnuz`` floats, block floating point) hold one zero; whether a quantizer
  returns it as +0.0 or -0.0 is a convention (``lpformats`` returns +0.0 for fixed point,
  ``torch.round`` keeps the sign). Refused for formats with a negative-zero code, where the
  sign is part of the value.
* ``nan_payload``: ``exact`` (default: sign and payload bits of NaN results agree with
  ``lpformats``' canonical quiet NaN) or ``any`` (every NaN matches every NaN).
* ``overflow`` (float formats): ``None`` (default: the format's rule), ``saturate``
  (+-largest finite value), ``inf`` or ``nan``: what a result becomes whose exactly rounded
  magnitude exceeds the largest finite value (infinite inputs included).
* ``nan``: ``None`` (default: NaN stays NaN where the format has one; formats without NaN
  get no NaN inputs) or ``zero`` (NaN inputs must become +0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import lpformats as lp
from lpformats.formats import FloatFormat, MXFormat
from lpformats.testing.compare import NAN_PAYLOAD, SIGNED_ZERO, as_float64, same_values

OVERFLOW_CONVENTIONS = (None, "saturate", "inf", "nan")
NAN_CONVENTIONS = (None, "zero")


def _choice(name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def has_negative_zero(fmt: object) -> bool:
    """True when ``fmt`` has a code for -0 (floats other than fnuz, MX with float elements)."""
    if isinstance(fmt, MXFormat):
        fmt = fmt.element
    return isinstance(fmt, FloatFormat) and fmt.has_negative_zero


def has_nan(fmt: object) -> bool:
    """True when ``fmt`` has a NaN code (floats other than ``finite``, MX blocks)."""
    return isinstance(fmt, MXFormat) or (isinstance(fmt, FloatFormat) and fmt.has_nan)


@dataclass(frozen=True)
class Conventions:
    """The user's stated conventions (see the module docstring)."""

    signed_zero: str = "exact"
    nan_payload: str = "exact"
    overflow: str | None = None
    nan: str | None = None

    def check(self, fmt: object) -> None:
        """``ValueError`` naming the argument when a convention does not apply to ``fmt``."""
        _choice("signed_zero", self.signed_zero, SIGNED_ZERO)
        _choice("nan_payload", self.nan_payload, NAN_PAYLOAD)
        _choice("overflow", self.overflow, OVERFLOW_CONVENTIONS)
        _choice("nan", self.nan, NAN_CONVENTIONS)
        if self.signed_zero == "any" and has_negative_zero(fmt):
            raise ValueError(
                f"signed_zero='any' is for formats with a single zero; {fmt} has a "
                "negative-zero code, so the sign of a zero result is part of its value"
            )
        if self.overflow is not None:
            if not isinstance(fmt, FloatFormat):
                raise ValueError(
                    f"overflow= applies to float formats; {fmt} states its overflow rule "
                    "itself (FixedPoint saturate/wrap; block formats saturate)"
                )
            if fmt.exp >= 11:
                raise ValueError(f"overflow= needs a format of at most 10 exponent bits; {fmt} has {fmt.exp}")

    def generates_nan(self, fmt: object) -> bool:
        """Whether NaN inputs belong to the checked cases."""
        return has_nan(fmt) or self.nan == "zero"

    def expected(self, x: np.ndarray, fmt: object, rounding: str) -> np.ndarray:
        """``lpformats.quantize(x, fmt, rounding)`` with these conventions applied (float64)."""
        ref = as_float64(lp.quantize(x, fmt, rounding, nan=self.nan))
        if self.overflow is None:
            return ref
        wide = FloatFormat(fmt.exp + 1, fmt.man, bias=fmt.bias, subnormals=fmt.subnormals, style="finite")
        with np.errstate(invalid="ignore"):
            overflowed = np.abs(as_float64(lp.quantize(x, wide, rounding, nan="zero"))) > fmt.max_value
        overflowed &= ~np.isnan(as_float64(x))
        sign = np.where(np.signbit(as_float64(x)), -1.0, 1.0)
        replacement = {
            "saturate": sign * fmt.max_value,
            "inf": sign * np.inf,
            "nan": np.full(x.shape, np.nan),
        }
        return np.where(overflowed, replacement[self.overflow], ref)

    def same(self, actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Element-wise agreement under these conventions."""
        return same_values(actual, expected, signed_zero=self.signed_zero, nan_payload=self.nan_payload)

    def __str__(self) -> str:
        return (
            f"signed_zero={self.signed_zero!r}, nan_payload={self.nan_payload!r}, "
            f"overflow={self.overflow!r}, nan={self.nan!r}"
        )
