"""Number-format descriptions: frozen, hashable dataclasses with validated parameters.

Every format knows its bit widths and its value grid; the arithmetic that rounds onto the
grid lives in :mod:`lpformats.quantize`. Units: all ``*_value`` properties are real numbers
(Python floats, exact powers of two times small integers); bit counts are integers.

Semantics follow ``DESIGN.md``:

* :class:`FixedPoint` ``(wl, fl)``: values ``k * 2**-fl`` for integer ``k`` in
  ``[-2**(wl-1), 2**(wl-1) - 1]`` (signed) or ``[0, 2**wl - 1]`` (unsigned).
* :class:`FloatFormat` ``(exp, man)``: sign, ``exp`` exponent bits, ``man`` mantissa bits,
  IEEE-like with a style that says what the top codes mean (see :data:`FLOAT_STYLES`).
* :class:`BlockFloat` ``(wl)``: SWALP's block floating point; a ``wl``-bit two's-complement
  mantissa per element and one shared exponent of ``exp_bits`` bits per block.
* :class:`MXFormat` ``(element)``: OCP Microscaling v1.0; an E8M0 power-of-two scale per block
  of ``block_size`` elements along ``axis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

#: Meaning of the codes with the largest exponent field, per float style.
#:
#: * ``ieee``: the all-ones exponent holds +-inf (mantissa 0) and NaN (mantissa != 0).
#: * ``fn``: finite; only the all-ones code (exponent and mantissa) is NaN, as OCP E4M3.
#: * ``fnuz``: finite, no negative zero; the code ``1000...0`` (negative zero) is the NaN.
#: * ``finite``: every code is a finite number; no inf, no NaN (OCP FP6 and FP4).
FLOAT_STYLES = ("ieee", "fn", "fnuz", "finite")

FIXED_OVERFLOW = ("saturate", "wrap")


def _check_int(name: str, value: object, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer ({what}), got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}] ({what}), got {value}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _as_float(value: Fraction) -> float:
    return float(value)


@dataclass(frozen=True)
class FixedPoint:
    """Two's-complement (or unsigned) fixed point: ``wl`` bits, ``fl`` of them fractional.

    Values are ``k * 2**-fl``. ``overflow="saturate"`` clamps out-of-range results to the
    nearest end of the range; ``"wrap"`` reduces ``k`` modulo ``2**wl`` into the range, as
    two's-complement hardware does.

    Args:
        wl: word length in bits, 2..32 (sign bit included when ``signed``).
        fl: fraction length in bits, -126..126 (negative: the step is a power of two > 1).
        signed: two's complement when True, unsigned otherwise.
        overflow: ``"saturate"`` or ``"wrap"``.
    """

    wl: int
    fl: int
    signed: bool = True
    overflow: str = "saturate"

    def __post_init__(self) -> None:
        _check_int("wl", self.wl, 2, 32, "FixedPoint word length in bits")
        _check_int("fl", self.fl, -126, 126, "FixedPoint fraction length in bits")
        if not isinstance(self.signed, (bool, np.bool_)):
            raise TypeError(f"signed must be True or False, got {self.signed!r}")
        _check_choice("overflow", self.overflow, FIXED_OVERFLOW)
        object.__setattr__(self, "wl", int(self.wl))
        object.__setattr__(self, "fl", int(self.fl))
        object.__setattr__(self, "signed", bool(self.signed))

    # integer range of the stored code k
    @property
    def kmin(self) -> int:
        """Smallest integer code ``k`` (value ``kmin * 2**-fl``)."""
        return -(1 << (self.wl - 1)) if self.signed else 0

    @property
    def kmax(self) -> int:
        """Largest integer code ``k``."""
        return (1 << (self.wl - 1)) - 1 if self.signed else (1 << self.wl) - 1

    @property
    def step(self) -> float:
        """Distance between neighbouring values, ``2**-fl``."""
        return math.ldexp(1.0, -self.fl)

    @property
    def bits(self) -> int:
        """Bits per element."""
        return self.wl

    @property
    def max_value(self) -> float:
        """Largest representable value."""
        return math.ldexp(self.kmax, -self.fl)

    @property
    def min_value(self) -> float:
        """Most negative representable value (0 for unsigned)."""
        return math.ldexp(self.kmin, -self.fl)

    @property
    def smallest_normal(self) -> float:
        """Smallest positive value (fixed point has no subnormals: equals the step)."""
        return self.step

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive value, ``2**-fl``."""
        return self.step

    @property
    def eps(self) -> float:
        """Resolution ``2**-fl`` (the absolute spacing everywhere in the range)."""
        return self.step

    @property
    def has_nan(self) -> bool:
        return False

    def values(self) -> np.ndarray:
        """Every representable value in increasing order, as float64 (``wl <= 16`` only)."""
        if self.wl > 16:
            raise ValueError(f"values() enumerates formats of at most 16 bits; {self} has {self.wl}")
        return np.ldexp(np.arange(self.kmin, self.kmax + 1, dtype=np.float64), -self.fl)

    def __str__(self) -> str:
        from lpformats.spelling import format_to_text

        return format_to_text(self)


@dataclass(frozen=True)
class FloatFormat:
    """A small (or not so small) binary floating-point format.

    Args:
        exp: exponent bits, 1..11.
        man: explicit mantissa (trailing significand) bits, 0..52.
        bias: exponent bias; default ``2**(exp-1) - 1``.
        subnormals: keep subnormal values; when False, results below the smallest normal are
            flushed to (signed) zero after rounding.
        style: meaning of the top codes, one of :data:`FLOAT_STYLES`.
        overflow: ``None`` for the style's default (``ieee``: +-inf; ``fn``/``fnuz``: NaN;
            ``finite``: saturate) or ``"saturate"`` to clamp to +-max finite in every style.
    """

    exp: int
    man: int
    bias: int | None = None
    subnormals: bool = True
    style: str = "ieee"
    overflow: str | None = None

    def __post_init__(self) -> None:
        _check_int("exp", self.exp, 1, 11, "FloatFormat exponent bits")
        _check_int("man", self.man, 0, 52, "FloatFormat mantissa bits")
        _check_choice("style", self.style, FLOAT_STYLES)
        if self.overflow not in (None, "saturate"):
            raise ValueError(
                f"overflow must be None (style default) or 'saturate'; got {self.overflow!r}"
            )
        if not isinstance(self.subnormals, (bool, np.bool_)):
            raise TypeError(f"subnormals must be True or False, got {self.subnormals!r}")
        object.__setattr__(self, "subnormals", bool(self.subnormals))
        object.__setattr__(self, "exp", int(self.exp))
        object.__setattr__(self, "man", int(self.man))
        if self.bias is None:
            object.__setattr__(self, "bias", (1 << (self.exp - 1)) - 1)
        else:
            _check_int("bias", self.bias, -(1 << 11), 1 << 11, "FloatFormat exponent bias")
            object.__setattr__(self, "bias", int(self.bias))
        if self.style == "ieee" and self.man < 1:
            raise ValueError("man must be >= 1 for style 'ieee' (inf and NaN need distinct codes)")
        if self.max_exponent_field < 1:
            raise ValueError(
                f"exp={self.exp} with style {self.style!r} leaves no normal numbers "
                "(exponent field 0 is subnormal and the top field is reserved)"
            )
        if self.emin < -1022 or self.emax > 1023:
            raise ValueError(
                f"bias={self.bias} puts the values of {self.exp}-bit exponents outside float64's "
                f"normal range (need 1-bias >= -1022 and largest exponent <= 1023)"
            )

    # ----------------------------------------------------------------- exponent range
    @property
    def max_exponent_field(self) -> int:
        """Largest biased exponent field that holds finite values."""
        top = (1 << self.exp) - 1
        if self.style == "ieee" or (self.style == "fn" and self.man == 0):
            return top - 1
        return top

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, ``1 - bias``."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number (``floor(log2(max_value))``)."""
        return self.max_exponent_field - self.bias

    @property
    def max_significand(self) -> Fraction:
        """Significand (in [1, 2)) of the largest finite number."""
        ulp = Fraction(1, 1 << self.man)
        if self.style == "fn" and self.man > 0:
            return 2 - 2 * ulp  # the all-ones mantissa of the top field is the NaN
        return 2 - ulp

    # ----------------------------------------------------------------- public facts
    @property
    def bits(self) -> int:
        """Bits per element: sign + exponent + mantissa."""
        return 1 + self.exp + self.man

    @property
    def max_value(self) -> float:
        """Largest finite value."""
        return math.ldexp(_as_float(self.max_significand), self.emax)

    @property
    def smallest_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive value (the smallest normal when subnormals are off)."""
        if self.subnormals and self.man > 0:
            return math.ldexp(1.0, self.emin - self.man)
        return self.smallest_normal

    @property
    def eps(self) -> float:
        """Machine epsilon: distance from 1 to the next larger value, ``2**-man``."""
        return math.ldexp(1.0, -self.man)

    @property
    def has_inf(self) -> bool:
        return self.style == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.style != "finite"

    @property
    def has_negative_zero(self) -> bool:
        return self.style != "fnuz"

    @property
    def saturates(self) -> bool:
        """True when out-of-range values clamp to +-max instead of becoming inf/NaN."""
        return self.overflow == "saturate" or self.style == "finite"

    def values(self) -> np.ndarray:
        """Every representable non-NaN value in increasing order, as float64.

        Infinities are included for ``ieee`` style; +0 and -0 appear once (as 0.0).
        Only for formats of at most 16 bits.
        """
        if self.bits > 16:
            raise ValueError(f"values() enumerates formats of at most 16 bits; {self} has {self.bits}")
        from lpformats.codec import decode

        codes = np.arange(1 << self.bits, dtype=np.uint16)
        vals = decode(codes, self, dtype=np.float64)
        return np.unique(vals[~np.isnan(vals)])

    def __str__(self) -> str:
        from lpformats.spelling import format_to_text

        return format_to_text(self)


ScalarFormat = FixedPoint | FloatFormat


@dataclass(frozen=True)
class BlockFloat:
    """SWALP block floating point: one shared exponent per block, ``wl``-bit mantissas.

    For a block with largest magnitude ``m``: ``E = floor(log2(m))`` clamped to
    ``[-2**(exp_bits-1), 2**(exp_bits-1) - 1]``; ``step = 2**(E + 2 - wl)``; each element is
    ``k * step`` with ``k`` the rounded ``x / step`` clamped to ``[-2**(wl-1), 2**(wl-1) - 1]``.
    An all-zero block stays zero.

    Blocks: the whole tensor (``block_axis`` and ``block_size`` both None); one block per
    index of ``block_axis`` (e.g. 0: one exponent per output channel of a weight); or
    ``block_size`` contiguous elements along the last axis (the last block of a row may be
    shorter).
    """

    wl: int
    block_axis: int | None = None
    block_size: int | None = None
    exp_bits: int = 8

    def __post_init__(self) -> None:
        _check_int("wl", self.wl, 2, 32, "BlockFloat mantissa bits, sign included")
        _check_int("exp_bits", self.exp_bits, 1, 10, "BlockFloat shared-exponent bits")
        if self.block_axis is not None and self.block_size is not None:
            raise ValueError("give block_axis or block_size, not both (None for both: whole tensor)")
        if self.block_axis is not None:
            _check_int("block_axis", self.block_axis, -64, 63, "axis that owns one exponent per index")
        if self.block_size is not None:
            _check_int("block_size", self.block_size, 1, 1 << 30, "elements per block")

    @property
    def exponent_range(self) -> tuple[int, int]:
        """Inclusive range of the shared exponent ``E``."""
        half = 1 << (self.exp_bits - 1)
        return -half, half - 1

    @property
    def element(self) -> FixedPoint:
        """The mantissa grid at shared exponent ``E = wl - 2`` (step 1): ``FixedPoint(wl, 0)``."""
        return FixedPoint(self.wl, 0)

    @property
    def bits(self) -> int:
        """Bits per element, shared exponent not included (see :meth:`bits_per_element`)."""
        return self.wl

    def bits_per_element(self, shape: tuple[int, ...] | None = None) -> float:
        """Average storage bits per element, shared exponents included.

        Blocks along an axis or over the whole tensor need the tensor ``shape``.
        """
        if self.block_size is not None:
            return self.wl + self.exp_bits / self.block_size
        if shape is None:
            raise ValueError(f"{self} has tensor-dependent blocks: pass the tensor shape")
        size = math.prod(shape)
        if size == 0:
            return float(self.wl)
        blocks = 1 if self.block_axis is None else shape[self.block_axis]
        return self.wl + self.exp_bits * blocks / size

    def block_bits(self) -> int:
        """Bits per block of ``block_size`` elements, shared exponent included."""
        if self.block_size is None:
            raise ValueError(f"{self} has no fixed block size")
        return self.wl * self.block_size + self.exp_bits

    def values(self, exponent: int = 0) -> np.ndarray:
        """The values a block with shared exponent ``exponent`` can hold (``wl <= 16``)."""
        lo, hi = self.exponent_range
        _check_int("exponent", exponent, lo, hi, f"shared exponent of {self}")
        return np.ldexp(self.element.values(), exponent + 2 - self.wl)

    def __str__(self) -> str:
        from lpformats.spelling import format_to_text

        return format_to_text(self)


#: E8M0 scale of OCP MX: exponents -127..127, code 0xFF is NaN.
MX_SCALE_RANGE = (-127, 127)
MX_SCALE_BITS = 8


@dataclass(frozen=True)
class MXFormat:
    """OCP Microscaling (MX v1.0) format: E8M0 scale shared by ``block_size`` elements.

    For a block with largest magnitude ``m``, the scale exponent is
    ``floor(log2(m)) - emax(element)`` clamped to [-127, 127]; elements are ``x / 2**scale``
    rounded in ``element`` and saturated to its largest finite value. A block holding NaN or
    Inf becomes all NaN (NaN scale), as microxcaling does.

    Args:
        element: a :class:`FloatFormat` (MXFP8/6/4) or a signed saturating
            :class:`FixedPoint` (MXINT8 is ``FixedPoint(8, 6)``).
        block_size: elements per scale, >= 1 (32 in OCP MX v1.0).
        axis: tensor axis along which blocks are formed (default: last).
    """

    element: FloatFormat | FixedPoint
    block_size: int = 32
    axis: int = -1

    def __post_init__(self) -> None:
        if isinstance(self.element, str):
            from lpformats.spelling import parse

            object.__setattr__(self, "element", parse(self.element))
        if isinstance(self.element, FixedPoint):
            if not self.element.signed or self.element.overflow != "saturate":
                raise ValueError("MX integer elements must be signed, saturating FixedPoint")
        elif not isinstance(self.element, FloatFormat):
            raise TypeError(
                f"element must be a FloatFormat or FixedPoint, got {type(self.element).__name__}"
            )
        elif self.element.exp > 8:
            raise ValueError(
                f"MX float elements have at most 8 exponent bits, got {self.element.exp}"
            )
        _check_int("block_size", self.block_size, 1, 1 << 30, "elements per MX block")
        _check_int("axis", self.axis, -64, 63, "tensor axis along which blocks are formed")

    @property
    def element_emax(self) -> int:
        """``floor(log2(max_value))`` of the element format (the OCP ``emax_elem``)."""
        return math.floor(math.log2(self.element.max_value))

    @property
    def bits(self) -> int:
        """Bits per element, scale not included (see :meth:`bits_per_element`)."""
        return self.element.bits

    def bits_per_element(self, shape: tuple[int, ...] | None = None) -> float:
        """Average storage bits per element with the 8-bit scale shared by ``block_size``."""
        return self.element.bits + MX_SCALE_BITS / self.block_size

    def block_bits(self) -> int:
        """Bits per block: ``block_size`` elements plus the 8-bit scale."""
        return self.element.bits * self.block_size + MX_SCALE_BITS

    def values(self, scale_exponent: int = 0) -> np.ndarray:
        """Values a block with scale ``2**scale_exponent`` can hold (element of <= 16 bits)."""
        _check_int("scale_exponent", scale_exponent, *MX_SCALE_RANGE, "E8M0 scale exponent")
        return np.ldexp(self.element.values(), scale_exponent)

    def __str__(self) -> str:
        from lpformats.spelling import format_to_text

        return format_to_text(self)


Format = FixedPoint | FloatFormat | BlockFloat | MXFormat
