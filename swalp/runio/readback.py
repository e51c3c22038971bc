"""Reading back the files a run or a sweep wrote, checked before use.

Every failure is a :class:`DamagedFileError` whose message is one line: the file, what is
wrong with it, and what to do (``PATH: PROBLEM; REMEDY``). Nothing is written here, so a
caller that checks everything first overwrites nothing before the checks pass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class DamagedFileError(ValueError):
    """A file we read back (or are about to replace) is not what we wrote there.

    Attributes:
        path: the file; ``problem``: what is wrong; ``remedy``: what to do about it.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, remedy: str) -> None:
        self.path, self.problem, self.remedy = Path(path), problem, remedy
        super().__init__(f"{self.path}: {problem}; {remedy}")


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "a number",
               float: "a number", type(None): "null"}


def json_type_name(value: Any) -> str:
    """How JSON calls the type of ``value`` ("an object", "an array", ...)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def check_replaceable(path: str | os.PathLike[str], remedy: str) -> None:
    """Check that ``path`` is absent or a regular file, i.e. that a write can replace it.

    Raises:
        DamagedFileError: ``path`` is a directory or another non-file.
    """
    path = Path(path)
    if path.is_dir():
        raise DamagedFileError(path, "is a directory, where a file belongs", remedy)
    if os.path.lexists(path) and not path.is_file():
        raise DamagedFileError(path, "is not a regular file (broken link, socket or device?)", remedy)


def file_size(path: str | os.PathLike[str], remedy: str) -> int:
    """The size in bytes of the regular, non-empty file ``path``.

    Raises:
        DamagedFileError: ``path`` is missing, not a regular file or empty.
    """
    path = Path(path)
    check_replaceable(path, remedy)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DamagedFileError(path, "is missing", remedy) from None
    if not size:
        raise DamagedFileError(path, "is empty (0 bytes)", remedy)
    return size


def read_bytes(path: str | os.PathLike[str], remedy: str) -> bytes:
    """The content of the regular file ``path``.

    Raises:
        DamagedFileError: ``path`` is missing, not a regular file, unreadable or empty.
    """
    path = Path(path)
    check_replaceable(path, remedy)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DamagedFileError(path, "is missing", remedy) from None
    except OSError as err:
        raise DamagedFileError(path, f"cannot be read ({err.strerror or err})", remedy) from None
    if not data:
        raise DamagedFileError(path, "is empty (0 bytes)", remedy)
    return data


def read_json_object(path: str | os.PathLike[str], remedy: str,
                     fields: Mapping[str, type | tuple[type, ...]] | None = None) -> dict[str, Any]:
    """The JSON object in ``path``, with ``fields`` (name -> expected Python type) checked.

    Raises:
        DamagedFileError: the file is missing, empty, not UTF-8, not valid JSON, not an
            object, or lacks a field or holds one of the wrong type.
    """
    data = read_bytes(path, remedy)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise DamagedFileError(path, f"is not UTF-8 text (byte {err.start} is 0x{data[err.start]:02x}): "
                                     "binary data, not JSON", remedy) from None
    except json.JSONDecodeError as err:
        raise DamagedFileError(path, f"is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})",
                               remedy) from None
    if not isinstance(value, dict):
        raise DamagedFileError(path, f"holds {json_type_name(value)} where a JSON object belongs", remedy)
    for name, expected in (fields or {}).items():
        if name not in value:
            raise DamagedFileError(path, f"lacks the field {name!r}", remedy)
        if not isinstance(value[name], expected) or (isinstance(value[name], bool) and bool not in (
                expected if isinstance(expected, tuple) else (expected,))):
            raise DamagedFileError(path, f"field {name!r} holds {json_type_name(value[name])}, not "
                                         f"{_expected_name(expected)}", remedy)
    return value


def _expected_name(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(dict.fromkeys(_JSON_TYPES.get(t, t.__name__) for t in types))


__all__ = ["DamagedFileError", "check_replaceable", "file_size", "json_type_name", "read_bytes",
           "read_json_object"]
