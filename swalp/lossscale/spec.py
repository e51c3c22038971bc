"""Loss-scale spellings (``--loss-scale``) and the scalers they build.

* ``none``: no loss scaling.
* ``static:S``: a constant scale ``S``.
* ``dynamic`` or ``dynamic:KEY=VALUE,...`` with keys ``init`` (first scale, default
  ``2^16``), ``interval`` (clean steps before doubling, default 2000), ``floor`` (default 1),
  ``ceiling`` (default ``2^32``), ``patience`` (consecutive overflows tolerated at the floor,
  default 8).
* ``enhanced:floors=STEP:FLOOR/STEP:FLOOR/...[,KEY=VALUE,...]``: dynamic scaling whose floor
  is ``FLOOR`` from optimizer step ``STEP`` on (the first at step 0); keys as ``dynamic``
  except ``floor``. The schedule has no default: the right floors depend on the model, the
  format and the batch (see :mod:`swalp.lossscale.scalers`).
* ``adaptive`` or ``adaptive:KEY=VALUE,...``: adaptive layer-wise loss scaling
  (:mod:`swalp.lossscale.adaptive`), with keys ``init`` (the loss's scale, a power of two,
  default 1), ``every`` (optimizer steps between recomputations of the statistics, default 1),
  ``t_uf`` (target underflow fraction, default 1e-3), ``layer_cap`` (default 16),
  ``total_cap`` (default 1024) and ``patience``. Its ``u_min``/``u_max`` come from the run's
  error format (role ``E``), which :func:`build_scaler` needs.

Numbers are decimal (``65536``, ``1e4``) or powers of two (``2^16``). ``static:S`` may also
be written ``static:scale=S`` and a static scaler takes ``patience`` too.
"""

from __future__ import annotations

import math
import re

from swalp.lossscale import adaptive
from swalp.lossscale.scalers import (
    DEFAULT_PATIENCE,
    DynamicScaler,
    EnhancedScaler,
    LossScaler,
    StaticScaler,
    check_patience,
)

KINDS = ("none", "static", "dynamic", "enhanced", "adaptive")
_KEYS = {
    "static": ("scale", "patience"),
    "dynamic": ("init", "interval", "floor", "ceiling", "patience"),
    "enhanced": ("floors", "init", "interval", "ceiling", "patience"),
    "adaptive": ("init", "every", "t_uf", "layer_cap", "total_cap", "patience"),
}
_INTEGER_KEYS = ("interval", "patience", "every")
_POWER = re.compile(r"^\s*(-?[0-9.]+)\s*\^\s*(-?[0-9]+)\s*$")
_EXAMPLES = ("none, static:1024, dynamic, dynamic:init=2^10,interval=200, enhanced:floors=0:2^8/1000:2^10, "
             "adaptive, adaptive:every=10")


def _number(text: str, what: str) -> float:
    match = _POWER.match(text)
    try:
        value = float(match.group(1)) ** int(match.group(2)) if match else float(text)
    except (ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"loss scale: {what} must be a number (65536, 1e4 or 2^16), got {text!r}")
    return value


def _integer(text: str, what: str) -> int:
    value = _number(text, what)
    if value != int(value):
        raise ValueError(f"loss scale: {what} must be an integer, got {text!r}")
    return int(value)


def _floors(text: str) -> list[tuple[int, float]]:
    pairs = []
    for item in text.split("/"):
        step, sep, floor = item.partition(":")
        if not sep:
            raise ValueError(f"loss scale: floors must be STEP:FLOOR pairs separated by '/', got {item!r}")
        pairs.append((_integer(step, "a floor's step"), _number(floor, "a floor")))
    return pairs


def parse_loss_scale(text: str | None) -> dict | None:
    """The options a spelling names, as ``{"kind": ..., key: value, ...}``; None for ``none``.

    Raises:
        ValueError: unknown kind or key, a malformed number, a key given twice, or a missing
            ``floors`` / scale.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(f"loss scale must be a string such as {_EXAMPLES}; got {text!r}")
    kind, _, rest = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"loss scale: unknown kind {kind!r}; spellings: {_EXAMPLES}")
    if kind == "none":
        if rest.strip():
            raise ValueError(f"loss scale: 'none' takes no options, got {text!r}")
        return None
    options: dict = {"kind": kind}
    items = [item.strip() for item in rest.split(",")] if rest.strip() else []
    if kind == "static" and items and "=" not in items[0]:
        items[0] = f"scale={items[0]}"
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not value.strip():
            raise ValueError(f"loss scale: expected KEY=VALUE, got {item!r} in {text!r}")
        if key not in _KEYS[kind]:
            raise ValueError(f"loss scale: {kind} takes keys {', '.join(_KEYS[kind])}; got {key!r}")
        if key in options:
            raise ValueError(f"loss scale: {key} given twice in {text!r}")
        if key == "floors":
            options[key] = _floors(value)
        elif key in _INTEGER_KEYS:
            options[key] = _integer(value, key)
        else:
            options[key] = _number(value, key)
    if kind == "static" and "scale" not in options:
        raise ValueError("loss scale: static needs a scale, e.g. static:1024")
    if kind == "enhanced" and "floors" not in options:
        raise ValueError("loss scale: enhanced needs its floor schedule, e.g. "
                         "enhanced:floors=0:2^8/1000:2^10 (floor 256 from step 0, 1024 from step 1000)")
    try:
        _check_values(options)
    except ValueError as err:
        raise ValueError(f"loss scale {text!r}: {err}") from None
    return options


def _check_values(options: dict) -> None:
    """Raise ValueError for values the scaler would refuse (without building an adaptive one,
    whose error format comes later)."""
    if options["kind"] == "adaptive":
        values = {k: v for k, v in options.items() if k not in ("kind", "patience")}
        adaptive.check_options(**values)
        check_patience(options.get("patience", DEFAULT_PATIENCE))
    else:
        build_scaler(options)


def build_scaler(options: dict | None, errors: str | None = None) -> LossScaler | None:
    """The scaler of parsed options (:func:`parse_loss_scale`); None for no scaling.
    ``errors``: the run's error format (role ``E``), needed by ``adaptive``.

    Raises:
        ValueError: ``adaptive`` without ``errors``, or with an error format it cannot scale.
    """
    if options is None:
        return None
    values = {k: v for k, v in options.items() if k != "kind"}
    values.setdefault("patience", DEFAULT_PATIENCE)
    kind = options["kind"]
    if kind == "adaptive":
        if errors is None:
            raise ValueError("adaptive loss scaling needs the error format (role E) to size its scales")
        return adaptive.AdaptiveScaler(errors, **values)
    if kind == "static":
        return StaticScaler(**values)
    if kind == "dynamic":
        return DynamicScaler(**values)
    return EnhancedScaler(**values)


def _spell(value: float) -> str:
    """A number as the spelling reads it back exactly: ``2^k`` for powers of two."""
    mantissa, exponent = math.frexp(value)
    if mantissa == 0.5:
        return f"2^{exponent - 1}"
    return str(int(value)) if value.is_integer() else repr(value)


def format_loss_scale(options: dict | None) -> str:
    """The canonical spelling of parsed options (every key, in a fixed order)."""
    if options is None:
        return "none"
    if options["kind"] == "adaptive":
        scaler = build_scaler(options, errors="fp16")  # the spelling does not depend on the format
        return (f"adaptive:init={_spell(scaler.init)},every={scaler.every},t_uf={scaler.t_uf!r},"
                f"layer_cap={_spell(scaler.layer_cap)},total_cap={_spell(scaler.total_cap)},"
                f"patience={scaler.patience}")
    scaler = build_scaler(options)
    if isinstance(scaler, StaticScaler):
        return f"static:{_spell(scaler.scale)},patience={scaler.patience}"
    common = (f"init={_spell(scaler.scale)},interval={scaler.interval},ceiling={_spell(scaler.ceiling)},"
              f"patience={scaler.patience}")
    if isinstance(scaler, EnhancedScaler):
        floors = "/".join(f"{step}:{_spell(floor)}" for step, floor in scaler.floors)
        return f"enhanced:floors={floors},{common}"
    return f"dynamic:{common},floor={_spell(scaler.floor)}"


def canonical_loss_scale(text: str | None) -> str:
    """``text`` checked and spelled canonically (``none`` for None)."""
    return format_loss_scale(parse_loss_scale(text))
