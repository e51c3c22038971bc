"""Sweep grids: format-range spellings, grid expansion, and stable keys of grid points.

Format lists (``--formats``) are comma-separated items, each one of:

* ``FAMILY:LO..HI`` (or ``FAMILY:W``): every word length from ``LO`` to ``HI`` bits,
  ``LO <= HI``. Families: ``fixed`` -> ``fixed(W, W-2)`` (sign, one integer bit: range
  [-2, 2), SWALP's fixed-point convention, 8 bits = ``fixed(8,6)``); ``bfp`` -> ``bfp(W)``
  (SWALP block floating point; training applies each role's block layout to it); ``int`` ->
  ``fixed(W, 0)``.
* a glob over the preset names (``mx*``, ``fp8_*``);
* any :func:`lpformats.parse` spelling (``fp8_e4m3``, ``bfp(6,block=16)``, ``fixed(8,6)``).

A grid point is a JSON-serializable run configuration (task, method, per-role formats, seed
and any fixed overrides) plus labels (``label``: the swept format, ``varied_roles``: the
roles it was applied to). Its key is a hash of the configuration only, so the same run has
the same key in any grid.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lpformats import PRESETS, FixedPoint, parse
from lpformats.spelling import _split_args, format_to_text
from swalp.methods import METHODS, all_options, get_method, method_names, methods_taking
from swalp.roles import ROLES

FULL_PRECISION_FORMAT = "fp32"

_RANGE = re.compile(r"^([a-z]+):(\d+)(?:\.\.(\d+))?$")
_FAMILY_SPELLING = {
    "fixed": lambda w: FixedPoint(w, w - 2),
    "bfp": lambda w: parse(f"bfp({w})"),
    "int": lambda w: FixedPoint(w, 0),
}


def expand_formats(text: str | Iterable[str]) -> list[str]:
    """Canonical spellings of every format a ``--formats`` list names, duplicates removed.

    Raises:
        ValueError: empty list, a downward or malformed range (``bfp:16..4``), an unknown
            range family, a glob that matches no preset, or an unknown format.
    """
    items = _split_args(re.sub(r"\s+", "", text).lower()) if isinstance(text, str) else list(text)
    if not items:
        raise ValueError("formats must name at least one format, e.g. 'bfp:6..8,fp8_e4m3,mx*'")
    out: list[str] = []
    for item in items:
        for fmt in _expand_item(item.strip().lower()):
            if fmt not in out:
                out.append(fmt)
    return out


def _expand_item(item: str) -> list[str]:
    if ":" in item and "(" not in item:
        match = _RANGE.match(item)
        if match is None:
            raise ValueError(f"formats: cannot read range {item!r}; expected FAMILY:LO..HI, e.g. 'bfp:4..16'")
        family, lo, hi = match.group(1), int(match.group(2)), int(match.group(3) or match.group(2))
        if family not in _FAMILY_SPELLING:
            raise ValueError(f"formats: unknown range family {family!r} in {item!r}; "
                             f"families: {', '.join(_FAMILY_SPELLING)}")
        if lo > hi:
            raise ValueError(f"formats: range {item!r} runs downward; write it as {family}:{hi}..{lo}")
        try:
            return [format_to_text(_FAMILY_SPELLING[family](w)) for w in range(lo, hi + 1)]
        except ValueError as exc:
            raise ValueError(f"formats: range {item!r}: {exc}") from None
    if any(ch in item for ch in "*?["):
        names = [name for name in PRESETS if fnmatch.fnmatchcase(name, item)]
        if not names:
            raise ValueError(f"formats: {item!r} matches no preset; presets: {', '.join(PRESETS)}")
        return names
    return [format_to_text(parse(item))]


def parse_list(text: str | Sequence[str], name: str, choices: Collection[str] | None = None) -> list[str]:
    """Split a comma-separated option into items, checking each against ``choices``."""
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else [str(t) for t in text]
    items = [t for t in items if t]
    if not items:
        raise ValueError(f"{name} must name at least one item")
    if choices is not None:
        unknown = [t for t in items if t not in choices]
        if unknown:
            raise ValueError(f"{name}: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(choices)}")
    return list(dict.fromkeys(items))


def parse_seeds(text: str | int | Sequence[int]) -> list[int]:
    """``3`` -> seeds 0, 1, 2; ``"4,7"`` or ``[4, 7]`` -> seeds 4 and 7 (a comma means a list)."""
    what = f"seeds must be a count or a comma-separated list of non-negative integers, got {text!r}"
    if isinstance(text, str) and "," not in text:
        text = text.strip()
        if not text.isdigit() or int(text) < 1:
            raise ValueError(what)
        return list(range(int(text)))
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 1:
            raise ValueError(what)
        return list(range(text))
    items = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    items = [t.strip() for t in items if t.strip()]
    if not items or not all(t.isdigit() for t in items):
        raise ValueError(what)
    return list(dict.fromkeys(int(t) for t in items))


@dataclass(frozen=True)
class GridSpec:
    """What a sweep varies.

    Attributes:
        task: task name.
        methods: training methods (see :func:`swalp.methods.method_names`).
        formats: canonical format spellings (see :func:`expand_formats`).
        roles: roles that take the swept format.
        seeds: seeds of every configuration.
        per_role: False: each format is applied to all ``roles`` at once; True: to one role
            at a time while the other roles keep ``base_format`` (a role-sensitivity sweep).
        base_format: format of the roles not being swept (default fp32: full precision).
        fixed: further run-configuration fields shared by every point (epochs, lr, ...);
            its ``method_options`` go to each point whose method takes them.
        lr_policies: learning-rate policy specs (``RunConfig.lr_policy``), each run with every
            other combination; empty: the task's schedule, no ``lr_policy`` in the configs.
    """

    task: str
    methods: tuple[str, ...]
    formats: tuple[str, ...]
    roles: tuple[str, ...] = ROLES
    seeds: tuple[int, ...] = (0,)
    per_role: bool = False
    base_format: str = FULL_PRECISION_FORMAT
    fixed: Mapping[str, Any] = field(default_factory=dict)
    lr_policies: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "methods": list(self.methods), "formats": list(self.formats),
                "roles": list(self.roles), "seeds": list(self.seeds), "per_role": self.per_role,
                "base_format": self.base_format, "fixed": dict(self.fixed),
                "lr_policies": list(self.lr_policies)}


def point_key(config: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit key of a run configuration (SHA-256 of its canonical JSON)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_point(spec: GridSpec, method: str, formats: Mapping[str, str], seed: int, label: str,
               varied: str, lr_policy: str | None = None) -> dict[str, Any]:
    """A grid point: ``{"key", "config", "label", "varied_roles"}`` (``lr_policy`` joins the
    configuration when given; so do the options of ``spec.fixed["method_options"]`` that
    ``method`` takes)."""
    fixed = dict(spec.fixed)
    given = fixed.pop("method_options", {})
    config = {"task": spec.task, "method": method, "formats": dict(formats), "seed": seed, **fixed}
    taken = {o.name for o in get_method(method).options}
    options = {name: value for name, value in given.items() if name in taken}
    if options:
        config["method_options"] = options
    if lr_policy is not None:
        config["lr_policy"] = lr_policy
    return {"key": point_key(config), "config": config, "label": label, "varied_roles": varied}


def expand_grid(spec: GridSpec, tasks: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every point of the grid, in a stable order (lr policy, method, format, roles, seed), no
    duplicates.

    Full-precision methods get one point per seed with every role at fp32. For low-precision
    methods each format is applied to ``spec.roles`` together, or (``per_role``) to each of
    them alone with the other roles at ``spec.base_format``.

    Raises:
        ValueError: unknown task (when ``tasks`` is given), method or role, no formats, or a
            method option that no method of the grid takes.
    """
    if tasks is not None and spec.task not in tasks:
        raise ValueError(f"task: unknown {spec.task!r}; valid: {', '.join(sorted(tasks))}")
    parse_list(list(spec.methods), "methods", method_names())
    for name in spec.fixed.get("method_options", {}):
        takers = methods_taking(name)
        if not takers:
            known = ", ".join(all_options()) or "none"
            raise ValueError(f"unknown method option {name!r}; options are {known}")
        if not set(takers) & set(spec.methods):
            raise ValueError(f"method option {name} applies to {', '.join(takers)}, none of the grid's "
                             f"methods ({', '.join(spec.methods)})")
    parse_list(list(spec.roles), "roles", ROLES)
    if not spec.formats:
        raise ValueError("formats must name at least one format")
    base = format_to_text(parse(spec.base_format))
    groups_of: dict[str, list[tuple[str, dict[str, str], str]]] = {}
    for method in spec.methods:
        if not get_method(method).low_precision:  # full precision: formats are not swept
            groups = [(FULL_PRECISION_FORMAT, dict.fromkeys(ROLES, FULL_PRECISION_FORMAT), "")]
        else:
            groups = []
            for fmt in spec.formats:
                role_sets = [(r,) for r in spec.roles] if spec.per_role else [spec.roles]
                for roles in role_sets:
                    formats = {r: fmt if r in roles else base for r in ROLES}
                    groups.append((fmt, formats, "".join(roles)))
        groups_of[method] = groups
    points: dict[str, dict[str, Any]] = {}
    for policy in spec.lr_policies or (None,):
        for method, groups in groups_of.items():
            for label, formats, varied in groups:
                for seed in spec.seeds:
                    point = make_point(spec, method, formats, seed, label, varied, policy)
                    points.setdefault(point["key"], point)
    return list(points.values())


__all__ = [
    "METHODS", "ROLES", "GridSpec", "expand_formats", "expand_grid", "make_point", "parse_list",
    "parse_seeds", "point_key",
]
