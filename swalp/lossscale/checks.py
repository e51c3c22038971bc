"""Which role formats loss scaling can work with (checked before training).

Loss scaling moves the errors (role ``E``) up, away from the format's underflow; it needs:

* errors in a low-precision element-wise format (fixed or float): with ``E`` in fp32 nothing
  underflows, and a block format (BFP, MX) shares one exponent per block that follows the
  scale, so scaling changes none of its roundings;
* for ``dynamic`` and ``enhanced`` scaling, errors and weight gradients (roles ``E`` and
  ``G``, where quantized) in formats that overflow to inf or NaN: overflow is detected as
  non-finite gradients, and a saturating format (fixed point, FP6/FP4, ``overflow=saturate``)
  would hide it. A static scale works with those.
"""

from __future__ import annotations

from collections.abc import Mapping

from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from swalp.roles import RoleSpec

#: A representative shape for resolving a role's format (activation-like, 4-D).
_SHAPE = (1, 1, 1, 1)


def overflows_to_nonfinite(fmt: object) -> bool:
    """True when values beyond ``fmt``'s range round to inf or NaN (not to its largest value)."""
    return isinstance(fmt, FloatFormat) and fmt.overflow is None and (fmt.has_inf or fmt.has_nan)


def check_loss_scaling(options: Mapping | None, specs: Mapping[str, RoleSpec]) -> None:
    """Refuse loss scaling (parsed ``options``, see :func:`swalp.lossscale.parse_loss_scale`;
    None: none) that cannot work with the run's role ``specs`` (see the module docstring).

    Raises:
        ValueError: the reason, naming the role and its format.
    """
    if options is None:
        return
    errors = specs["E"]
    if not errors.enabled:
        raise ValueError("loss scaling needs the errors (role E) in a low-precision format: with E=fp32 "
                         "nothing underflows")
    fmt = errors.format_for(_SHAPE)
    if isinstance(fmt, (BlockFloat, MXFormat)):
        raise ValueError(f"loss scaling has nothing to do with errors in a block format (E={errors.fmt}): "
                         "each block's shared exponent follows the scale, so no rounding changes")
    if not isinstance(fmt, (FixedPoint, FloatFormat)):
        raise ValueError(f"loss scaling does not know the error format E={errors.fmt}")
    if options["kind"] in ("dynamic", "enhanced"):
        for role in ("E", "G"):
            spec = specs[role]
            if spec.enabled and not overflows_to_nonfinite(spec.format_for(_SHAPE)):
                raise ValueError(
                    f"{options['kind']} loss scaling detects overflow as inf/NaN gradients, but role "
                    f"{role}'s format {spec.fmt} saturates instead (fixed point, FP6/FP4 or "
                    "overflow=saturate): use a format with inf or NaN, or a static scale (static:S)")
