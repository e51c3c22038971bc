"""Named presets and the text spelling of formats: :func:`parse` and ``str(fmt)``.

Grammar (case-insensitive, spaces ignored); ``str(fmt)`` always produces text that
:func:`parse` maps back to an equal format:

* a preset name from :data:`PRESETS`, e.g. ``fp8_e4m3``, ``bf16``, ``bfp8``, ``mxfp4``;
* ``fixed(WL,FL[,unsigned][,wrap])``, e.g. ``fixed(8,6)``, ``fixed(12,5,wrap)``;
* ``float(EXP,MAN[,bias=B][,style=ieee|fn|fnuz|finite][,subnormals=false][,overflow=saturate])``,
  e.g. ``float(3,2)``, ``float(4,3,style=fn,overflow=saturate)``;
* ``bfp(WL[,axis=A][,block=N][,exp=E])``, e.g. ``bfp(8,axis=0)``, ``bfp(6,block=4)``;
* ``mx(ELEMENT[,block=N][,axis=A])`` with ELEMENT any scalar spelling, e.g. ``mx(fp6_e2m3)``,
  ``mx(float(4,3,style=fn),block=16)``.
"""

from __future__ import annotations

import functools
import re

from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, Format, MXFormat

_E4M3 = FloatFormat(4, 3, style="fn")
_E5M2 = FloatFormat(5, 2)
_E2M3 = FloatFormat(2, 3, style="finite")
_E3M2 = FloatFormat(3, 2, style="finite")
_E2M1 = FloatFormat(2, 1, style="finite")

#: Named formats. Float presets match the ml_dtypes types of the same name.
PRESETS: dict[str, Format] = {
    "fp32": FloatFormat(8, 23),
    "fp16": FloatFormat(5, 10),
    "bf16": FloatFormat(8, 7),
    "fp8_e4m3": _E4M3,
    "fp8_e5m2": _E5M2,
    "fp8_e4m3fnuz": FloatFormat(4, 3, bias=8, style="fnuz"),
    "fp8_e5m2fnuz": FloatFormat(5, 2, bias=16, style="fnuz"),
    "fp8_e3m4": FloatFormat(3, 4),
    "fp6_e2m3": _E2M3,
    "fp6_e3m2": _E3M2,
    "fp4_e2m1": _E2M1,
    "int8": FixedPoint(8, 0),
    "int16": FixedPoint(16, 0),
    "bfp8": BlockFloat(8),
    "mxfp8_e4m3": MXFormat(_E4M3),
    "mxfp8_e5m2": MXFormat(_E5M2),
    "mxfp6_e2m3": MXFormat(_E2M3),
    "mxfp6_e3m2": MXFormat(_E3M2),
    "mxfp4": MXFormat(_E2M1),
    "mxint8": MXFormat(FixedPoint(8, 6)),
}

_NAME_OF = {fmt: name for name, fmt in PRESETS.items()}

_CALL = re.compile(r"^(fixed|float|bfp|mx)\((.*)\)$")
_KEYWORD = re.compile(r"^[a-z_]+=")


def format_to_text(fmt: Format) -> str:
    """Canonical text of ``fmt``: its preset name, else the generic spelling."""
    if fmt in _NAME_OF:
        return _NAME_OF[fmt]
    if isinstance(fmt, FixedPoint):
        opts = ["unsigned"] if not fmt.signed else []
        opts += ["wrap"] if fmt.overflow == "wrap" else []
        return f"fixed({', '.join([str(fmt.wl), str(fmt.fl), *opts])})"
    if isinstance(fmt, FloatFormat):
        parts = [str(fmt.exp), str(fmt.man)]
        if fmt.bias != (1 << (fmt.exp - 1)) - 1:
            parts.append(f"bias={fmt.bias}")
        if fmt.style != "ieee":
            parts.append(f"style={fmt.style}")
        if not fmt.subnormals:
            parts.append("subnormals=false")
        if fmt.overflow is not None:
            parts.append(f"overflow={fmt.overflow}")
        return f"float({', '.join(parts)})"
    if isinstance(fmt, BlockFloat):
        parts = [str(fmt.wl)]
        if fmt.block_axis is not None:
            parts.append(f"axis={fmt.block_axis}")
        if fmt.block_size is not None:
            parts.append(f"block={fmt.block_size}")
        if fmt.exp_bits != 8:
            parts.append(f"exp={fmt.exp_bits}")
        return f"bfp({', '.join(parts)})"
    if isinstance(fmt, MXFormat):
        parts = [format_to_text(fmt.element)]
        if fmt.block_size != 32:
            parts.append(f"block={fmt.block_size}")
        if fmt.axis != -1:
            parts.append(f"axis={fmt.axis}")
        return f"mx({', '.join(parts)})"
    raise TypeError(f"not a format: {fmt!r}")


def _split_args(body: str) -> list[str]:
    """Split on top-level commas (``mx(float(4,3),block=16)`` has a nested call)."""
    args, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(body[start:i])
            start = i + 1
    args.append(body[start:])
    return [a for a in args if a]


def _int(text: str, field: str, spelling: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"format {spelling!r}: {field} must be an integer, got {text!r}") from None


def _parse_call(kind: str, args: list[str], spelling: str) -> Format:
    # ``key=value`` at the top level; a nested spelling such as ``float(4,3,style=fn)`` is positional
    named = [a for a in args if _KEYWORD.match(a)]
    positional = [a for a in args if not _KEYWORD.match(a)]
    keywords = dict(a.split("=", 1) for a in named)

    def take(key: str) -> str | None:
        return keywords.pop(key, None)

    if kind == "fixed":
        flags = [a for a in positional[2:]]
        if len(positional) < 2 or set(flags) - {"unsigned", "wrap"}:
            raise ValueError(f"format {spelling!r}: expected fixed(WL,FL[,unsigned][,wrap])")
        fmt: Format = FixedPoint(
            _int(positional[0], "WL", spelling),
            _int(positional[1], "FL", spelling),
            signed="unsigned" not in flags,
            overflow="wrap" if "wrap" in flags else "saturate",
        )
    elif kind == "float":
        if len(positional) != 2:
            raise ValueError(f"format {spelling!r}: expected float(EXP,MAN[,key=value...])")
        bias = take("bias")
        subn = take("subnormals")
        if subn not in (None, "true", "false"):
            raise ValueError(f"format {spelling!r}: subnormals must be true or false")
        fmt = FloatFormat(
            _int(positional[0], "EXP", spelling),
            _int(positional[1], "MAN", spelling),
            bias=None if bias is None else _int(bias, "bias", spelling),
            subnormals=subn != "false",
            style=take("style") or "ieee",
            overflow=take("overflow"),
        )
    elif kind == "bfp":
        if len(positional) != 1:
            raise ValueError(f"format {spelling!r}: expected bfp(WL[,axis=A][,block=N][,exp=E])")
        axis, block, exp = take("axis"), take("block"), take("exp")
        fmt = BlockFloat(
            _int(positional[0], "WL", spelling),
            block_axis=None if axis is None else _int(axis, "axis", spelling),
            block_size=None if block is None else _int(block, "block", spelling),
            exp_bits=8 if exp is None else _int(exp, "exp", spelling),
        )
    else:
        if len(positional) != 1:
            raise ValueError(f"format {spelling!r}: expected mx(ELEMENT[,block=N][,axis=A])")
        element = parse(positional[0])
        if not isinstance(element, (FloatFormat, FixedPoint)):
            raise ValueError(f"format {spelling!r}: the MX element must be a scalar format")
        block, axis = take("block"), take("axis")
        fmt = MXFormat(
            element,
            block_size=32 if block is None else _int(block, "block", spelling),
            axis=-1 if axis is None else _int(axis, "axis", spelling),
        )
    if keywords:
        raise ValueError(f"format {spelling!r}: unknown option(s) {', '.join(sorted(keywords))}")
    return fmt


def parse(text: str | Format) -> Format:
    """Turn a format spelling (see module docstring) into a format object.

    Format objects pass through unchanged, so every API function can accept either.

    Raises:
        ValueError: unknown preset or malformed spelling (the message lists the presets).
        TypeError: ``text`` is neither a string nor a format.
    """
    if isinstance(text, (FixedPoint, FloatFormat, BlockFloat, MXFormat)):
        return text
    if not isinstance(text, str):
        raise TypeError(f"fmt must be a format object or its text spelling, got {type(text).__name__}")
    return _parse_text(text)


@functools.lru_cache(maxsize=1024)
def _parse_text(text: str) -> Format:
    """:func:`parse` of a string (cached: formats are immutable, and every API call parses)."""
    spelling = text
    key = re.sub(r"\s+", "", text).lower()
    if key in PRESETS:
        return PRESETS[key]
    match = _CALL.match(key)
    if match is None:
        raise ValueError(
            f"unknown format {spelling!r}: expected a preset ({', '.join(PRESETS)}) or "
            "fixed(WL,FL), float(EXP,MAN,...), bfp(WL,...), mx(ELEMENT,...)"
        )
    return _parse_call(match.group(1), _split_args(match.group(2)), spelling)
