"""Operand precision: which format each tensor role uses, its storage bits and its arithmetic width.

``accel_model`` knows formats only by their bit widths (read from :mod:`lpformats` format objects):

* storage: ``bits_per_element`` of the format, shared scales included (BFP: ``exp_bits`` per block;
  MX: 8 bits per ``block_size``); for formats blocked per tensor or per axis the operand is taken
  as its 2-D GEMM matrix (rows, cols), so ``bfp8`` on a 64x64 weight adds 8/4096 bit per element;
* arithmetic: integer-like formats (fixed point, BFP mantissas, MXINT) multiply as integers of
  their word length; floats (and MX float elements) as floats of ``man + 1`` significand bits.

Roles: ``weights``, ``activations``, ``errors``, ``gradients``, ``accumulators``, ``state``
(optimizer state) and ``average`` (the SWA average). Default when a role is not given: the
accelerator's native width (integers of ``input_bits`` for activations and errors,
``weight_bits`` for weights, ``output_bits`` for gradients, ``acc_bits`` for accumulators and
state); the SWA ``average`` defaults to ``fp32``.

``lpformats`` (and through it numba, about 0.5 s to import) is imported only when a format has
to be parsed or inspected, so that estimates at native widths start fast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accel_model.hardware import Accelerator
from accel_model.workload import ROLES


@dataclass(frozen=True)
class Operand:
    """The precision of one tensor role.

    Attributes:
        role: the role name.
        label: the format's spelling (``"native int8"`` for accelerator defaults).
        kind: ``"int"`` or ``"float"`` arithmetic.
        width: arithmetic width: integer bits, or float significand bits (hidden bit included).
        bits: storage bits per element without shared scales.
        fmt: the lpformats format, or None for a native integer width.
    """

    role: str
    label: str
    kind: str
    width: int
    bits: int
    fmt: Any = None

    @property
    def shared_scale(self) -> bool:
        """True for block formats (BFP, MX): quantizing needs a max-reduction over each block."""
        if self.fmt is None:
            return False
        import lpformats as lp

        return isinstance(self.fmt, (lp.BlockFloat, lp.MXFormat))

    def bits_per_element(self, shape: tuple[int, int]) -> float:
        """Average storage bits per element of a ``shape`` (rows, cols) operand, scales included."""
        per_element = getattr(self.fmt, "bits_per_element", None)
        if per_element is None:
            return float(self.bits)
        axis = getattr(self.fmt, "block_axis", None)
        rank = max(2, (axis if axis is not None and axis >= 0 else 0) + 1)
        return float(per_element(tuple(shape) + (1,) * (rank - 2)))


def native(role: str, bits: int) -> Operand:
    """An integer operand of the accelerator's native width."""
    return Operand(role=role, label=f"int{bits}", kind="int", width=bits, bits=bits)


def from_format(role: str, fmt: Any) -> Operand:
    """The operand of ``role`` stored in lpformats format (or spelling) ``fmt``."""
    if isinstance(fmt, str) and fmt == "fp32":
        return fp32_operand(role)
    import lpformats as lp

    if isinstance(fmt, str):
        try:
            fmt = lp.parse(fmt)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"format for role {role!r}: cannot parse {fmt!r} ({exc})") from None
    element = fmt.element if isinstance(fmt, lp.MXFormat) else fmt
    if isinstance(element, lp.FloatFormat):
        kind, width = "float", element.man + 1
    elif isinstance(element, (lp.FixedPoint, lp.BlockFloat)):
        kind, width = "int", element.wl
    else:
        raise TypeError(
            f"format for role {role!r} must be an lpformats format with a bit width "
            f"(FixedPoint, FloatFormat, BlockFloat, MXFormat) or its spelling, got {fmt!r}"
        )
    return Operand(role=role, label=str(fmt), kind=kind, width=width, bits=int(fmt.bits), fmt=fmt)


def fp32_operand(role: str) -> Operand:
    """IEEE binary32 (``lpformats`` ``fp32``: 24 significand bits) without importing lpformats."""
    return Operand(role=role, label="fp32", kind="float", width=24, bits=32)


def defaults(accel: Accelerator) -> dict[str, Operand]:
    """The native operand of every role (see the module docstring)."""
    widths = {
        "weights": accel.weight_bits,
        "activations": accel.input_bits,
        "errors": accel.input_bits,
        "gradients": accel.output_bits,
        "accumulators": accel.acc_bits,
        "state": accel.acc_bits,
    }
    out = {role: native(role, bits) for role, bits in widths.items()}
    out["average"] = from_format("average", "fp32")
    return out


def resolve(formats: Mapping[str, Any] | str | Any | None, accel: Accelerator) -> dict[str, Operand]:
    """Operands of every role for ``formats``.

    ``formats`` is None (all native), a mapping role -> format (a format object, its spelling,
    or ``"native"``), or one format (object or spelling) for every role except
    ``accumulators`` (which stays native) and ``average``.
    """
    out = defaults(accel)
    if formats is None:
        return out
    if not isinstance(formats, Mapping):
        fmt = formats
        formats = {role: fmt for role in ROLES if role not in ("accumulators", "average")}
    for role, fmt in formats.items():
        if role not in ROLES:
            raise ValueError(f"formats: unknown role {role!r}; roles are {', '.join(ROLES)}")
        if not (isinstance(fmt, str) and fmt == "native"):
            out[role] = from_format(role, fmt)
    return out


def pow2_at_least_2(bits: int) -> int:
    """Smallest power of two >= max(bits, 2) (Bit Fusion's brick-composable widths 2, 4, 8, ...)."""
    return max(2, 1 << (bits - 1).bit_length())


def mac_cost_factor(a: Operand, w: Operand, accel: Accelerator) -> float:
    """PE-cycles per MAC relative to a native MAC, by ``accel.pe_mode`` (storage bits of the operands).

    ``fixed``: ``ceil(a/na) * ceil(w/nw)`` passes (1 up to the native widths ``na``, ``nw``);
    ``fusion``: ``1 / (floor(na/a') * floor(nw/w'))`` with ``a'``, ``w'`` the widths rounded up to
    powers of two >= 2 (4x4-bit on an 8x8 PE: 1/4, 2x2-bit: 1/16), passes as ``fixed`` above the
    native width; ``bit_serial``: ``a * w / (na * nw)`` (Loom-style, normalised so that a
    native-width MAC costs one cycle).
    """
    na, nw = accel.input_bits, accel.weight_bits
    passes = math.ceil(a.bits / na) * math.ceil(w.bits / nw)
    if accel.pe_mode == "fixed":
        return float(passes)
    if accel.pe_mode == "fusion":
        if a.bits > na or w.bits > nw:
            return float(passes)
        return 1.0 / (max(1, na // pow2_at_least_2(a.bits)) * max(1, nw // pow2_at_least_2(w.bits)))
    return a.bits * w.bits / (na * nw)
