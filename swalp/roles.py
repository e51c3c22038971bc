"""The five tensor roles of low-precision training and how each one is quantized.

Roles (SWALP, Yang et al. 2019): ``W`` weights, ``A`` activations (forward), ``E`` errors
(gradients back-propagated through the activations), ``G`` weight gradients, ``M`` optimizer
state (momentum, and the weight accumulator when one is used).

A :class:`RoleSpec` is a format (any :func:`lpformats.parse` spelling), a rounding mode and a
block *layout*. The layout only matters for a whole-tensor block floating-point format
(``bfp8``, ``bfp(8)``); a format that names its own blocks (``bfp(8,axis=0)``,
``bfp(8,block=16)``, MX) is used as written. Layouts:

* ``auto`` (default): the paper's code. ``W``/``G``/``M``: one shared exponent per output
  channel (index of dim 0) for tensors of 2+ dims, one per tensor for biases and BatchNorm
  parameters ("small-block FC"); ``A``/``E``: one per tensor.
* ``tensor``: one shared exponent per tensor.
* ``dim0``: one per index of dim 0 (output channel for ``W``/``G``/``M``, sample for
  ``A``/``E``); 1-D tensors fall back to one per tensor.
* ``block:N``: one per ``N`` contiguous elements along the last axis.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import lpformats
from lpformats import BlockFloat, Format

ROLES = ("W", "A", "E", "G", "M")
#: Roles quantized by the optimizer (parameter-shaped tensors); the others are activations.
PARAMETER_ROLES = ("W", "G", "M")
ROUNDINGS = ("nearest", "nearest_away", "zero", "down", "up", "stochastic")
LAYOUTS = ("auto", "tensor", "dim0", "block:N")
#: The paper's default: 8-bit block floating point with stochastic rounding for every role.
DEFAULT_FORMAT = "bfp8"
DEFAULT_ROUNDING = "stochastic"
#: Spellings that mean "leave this role in full precision" (float32, no quantization).
FULL_PRECISION = ("fp32", "float32", "none")


def check_role(role: str) -> str:
    """``role`` must be one of :data:`ROLES`."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return role


def check_layout(layout: str) -> str:
    """``layout`` must be ``auto``, ``tensor``, ``dim0`` or ``block:N`` with N >= 1."""
    if layout in ("auto", "tensor", "dim0"):
        return layout
    if isinstance(layout, str) and layout.startswith("block:"):
        size = layout.split(":", 1)[1]
        if size.isdigit() and int(size) >= 1:
            return layout
    raise ValueError(f"layout must be one of {', '.join(LAYOUTS)} (N >= 1); got {layout!r}")


def is_full_precision(fmt: str) -> bool:
    """True when ``fmt`` spells float32, i.e. the role is not quantized."""
    return isinstance(fmt, str) and fmt.strip().lower() in FULL_PRECISION


@dataclasses.dataclass(frozen=True)
class RoleSpec:
    """How one role is quantized: ``fmt`` (an :func:`lpformats.parse` spelling, or ``fp32``
    for no quantization), ``rounding`` (one of :data:`ROUNDINGS`) and ``layout`` (see the
    module docstring)."""

    role: str
    fmt: str = DEFAULT_FORMAT
    rounding: str = DEFAULT_ROUNDING
    layout: str = "auto"

    def __post_init__(self) -> None:
        check_role(self.role)
        if not isinstance(self.fmt, str):
            raise TypeError(f"fmt of role {self.role} must be a format spelling (str), got {self.fmt!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(
                f"rounding of role {self.role} must be one of {', '.join(ROUNDINGS)}; got {self.rounding!r}"
            )
        check_layout(self.layout)
        if not self.enabled:
            return
        try:
            lpformats.parse(self.fmt)
        except (ValueError, TypeError) as err:
            raise ValueError(f"format of role {self.role}: {err}") from None

    @property
    def enabled(self) -> bool:
        """False when the role stays in float32."""
        return not is_full_precision(self.fmt)

    def format_for(self, shape: tuple[int, ...]) -> Format:
        """The concrete format for a tensor of ``shape`` (the layout applied)."""
        return _resolve(self.fmt, self.layout, self.role in PARAMETER_ROLES, len(shape))

    def __str__(self) -> str:
        layout = "" if self.layout == "auto" else f", {self.layout}"
        return f"{self.role}={self.fmt} ({self.rounding}{layout})"


@functools.lru_cache(maxsize=1024)
def _resolve(spelling: str, layout: str, parameter_role: bool, ndim: int) -> Format:
    fmt = lpformats.parse(spelling)
    if not isinstance(fmt, BlockFloat) or fmt.block_axis is not None or fmt.block_size is not None:
        return fmt
    if layout.startswith("block:"):
        return dataclasses.replace(fmt, block_size=int(layout.split(":", 1)[1]))
    per_dim0 = (layout == "dim0") or (layout == "auto" and parameter_role)
    if per_dim0 and ndim >= 2:
        return dataclasses.replace(fmt, block_axis=0)
    return fmt


def role_specs(
    formats: str | Mapping[str, str],
    rounding: str | Mapping[str, str] = DEFAULT_ROUNDING,
    layout: str | Mapping[str, str] = "auto",
) -> dict[str, RoleSpec]:
    """One :class:`RoleSpec` per role from a single value for all roles or a per-role mapping.

    A mapping may name a subset of the roles; the others get the default (``bfp8``,
    ``stochastic``, ``auto``). Unknown role names raise ``ValueError``.
    """

    def per_role(value: str | Mapping[str, str], name: str, default: str) -> dict[str, str]:
        if isinstance(value, str):
            return dict.fromkeys(ROLES, value)
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a string or a mapping role -> string; got {value!r}")
        for key in value:
            if key not in ROLES:
                raise ValueError(f"{name} has unknown role {key!r}; roles are {', '.join(ROLES)}")
        return {role: value.get(role, default) for role in ROLES}

    fmts = per_role(formats, "formats", DEFAULT_FORMAT)
    rounds = per_role(rounding, "rounding", DEFAULT_ROUNDING)
    layouts = per_role(layout, "layout", "auto")
    return {role: RoleSpec(role, fmts[role], rounds[role], layouts[role]) for role in ROLES}


def parse_role_assignments(text: str, name: str = "formats") -> str | dict[str, str]:
    """Parse a command-line value: ``bfp8`` (all roles) or ``W=bfp8,A=fp32,...`` (per role).

    Commas inside parentheses belong to the format (``W=bfp(8,axis=0),A=fp8_e4m3``).
    """
    if "=" not in text.split("(", 1)[0]:
        return text.strip()
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    result: dict[str, str] = {}
    for part in parts:
        role, sep, value = part.partition("=")
        role = role.strip()
        if not sep or not value.strip():
            raise ValueError(f"{name}: expected ROLE=VALUE pairs separated by commas, got {part!r}")
        check_role(role)
        if role in result:
            raise ValueError(f"{name}: role {role} given twice")
        result[role] = value.strip()
    return result
