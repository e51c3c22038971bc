"""Reading learning-rate policy specs (``--policy``, ``--lr-policy``).

Grammar (spaces are ignored, names are case-insensitive)::

    SPEC   := [UNIT ":"] PIECE ("@" START PIECE)*
    UNIT   := "step" | "epoch"        (default step: the iteration is the optimizer step)
    PIECE  := NAME ["(" [NAME "=" VALUE ("," NAME "=" VALUE)*] ")"]
    VALUE  := NUMBER | "[" NUMBER ("," NUMBER)* "]"

Examples: ``COS(k0=0.001,k1=0.1,l=500)``; ``NSTEP(k0=0.1,gamma=0.1,l=[300,450])``;
``epoch:TRI(k0=0.01,k1=0.1,l=5)``; warm-up, a policy, then a constant averaging rate:
``WARMUP(k0=0,k1=0.1,l=50) @50 COS(k0=0.001,k1=0.1,l=450) @500 FIX(k0=0.01)`` (each piece's
iteration restarts at 0 where it begins). ``parse_policy(policy.spec()) == policy``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

from swalp.schedules.compose import PerEpoch, pieces
from swalp.schedules.policy import REGISTRY, Policy, policy_class

UNITS = ("step", "epoch")
_PIECE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(text: str, where: str) -> int | float:
    if not _NUMBER.match(text):
        raise ValueError(f"{where}: {text!r} is not a number")
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)


def _value(text: str, where: str) -> Any:
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"{where}: list {text!r} lacks its closing ']'")
        inner = text[1:-1]
        return tuple(_number(item, where) for item in inner.split(",")) if inner else ()
    return _number(text, where)


def _split_args(text: str, where: str) -> list[str]:
    """Split ``a=1,l=[2,3]`` at commas outside brackets."""
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{where}: unbalanced ']' in {text!r}")
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    if depth:
        raise ValueError(f"{where}: unbalanced '[' in {text!r}")
    items.append(current)
    return items


def parse_piece(text: str) -> Policy:
    """One policy, ``NAME(param=value,...)``.

    Raises:
        ValueError: malformed text, unknown policy or parameter, a missing parameter, or a
            value out of range (each message names the policy and parameter).
    """
    match = _PIECE.match(text)
    if match is None:
        raise ValueError(f"cannot read policy {text!r}; expected NAME(param=value,...), e.g. "
                         "COS(k0=0.001,k1=0.1,l=500)")
    cls = policy_class(match.group(1))
    name = cls.NAME
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for item in _split_args(match.group(2) or "", name) if match.group(2) else []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{name}: expected param=value, got {item!r}")
        if key not in fields:
            raise ValueError(f"{name}: unknown parameter {key!r}; its parameters are {', '.join(fields)}")
        if key in kwargs:
            raise ValueError(f"{name}: parameter {key!r} given twice")
        kwargs[key] = _value(value, f"{name}: {key}")
    missing = [f for f, spec in fields.items() if f not in kwargs
               and spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{name}: missing parameter(s) {', '.join(missing)} (spelling: {signature(cls)})")
    return cls(**kwargs)


def signature(cls: type[Policy]) -> str:
    """``NAME(p=..,[q=..])``: a policy's parameters, optional ones in brackets."""
    names = [f"{f.name}=.." if f.default is dataclasses.MISSING else f"[{f.name}=..]"
             for f in dataclasses.fields(cls)]
    return f"{cls.NAME}({','.join(names)})"


def parse_policy(text: str) -> Policy:
    """The policy a spec names (grammar in the module docstring).

    Raises:
        ValueError: the spec cannot be read (the message says which part and why).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a learning-rate policy spec must be a non-empty string, got {text!r}; "
                         f"e.g. COS(k0=0.001,k1=0.1,l=500); policies: {', '.join(REGISTRY)}")
    compact = re.sub(r"\s+", "", text)
    unit = "step"
    head, sep, rest = compact.partition(":")
    if sep:
        if head.lower() not in UNITS:
            raise ValueError(f"unknown unit {head!r} in {text!r}; units are {', '.join(UNITS)}")
        unit, compact = head.lower(), rest
    parts = compact.split("@")
    policies, starts = [parse_piece(parts[0])], [0]
    for part in parts[1:]:
        match = re.match(r"^(\d+)(.+)$", part)
        if match is None:
            raise ValueError(f"after '@' expected a start iteration and a policy, got {part!r} in {text!r}")
        starts.append(int(match.group(1)))
        policies.append(parse_piece(match.group(2)))
    if any(a >= b for a, b in itertools.pairwise(starts)):
        raise ValueError(f"piece starts must increase and the first must be > 0, got {starts[1:]} in "
                         f"{text!r}")
    policy = pieces(policies, starts)
    return PerEpoch(policy) if unit == "epoch" else policy


def policy_names() -> list[str]:
    """Every policy name a spec may use."""
    return list(REGISTRY)


__all__ = ["UNITS", "parse_piece", "parse_policy", "policy_names", "signature"]
