"""Atomic file writes that follow the umask, and removal of the temporary files a killed
writer leaves behind.

A file is written to a temporary file in the same folder (``.NAME.XXXXXXXX.tmp``), flushed
and fsynced, given the mode any other tool would give it (``0o666 & ~umask``: ``mkstemp``
alone makes it 0600), and renamed over ``NAME``: readers see the old file or the new one,
never a part. A writer killed before the rename leaves only its temporary file, which
:func:`remove_stale_temps` deletes the next time a writer takes the folder.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

TEMP_SUFFIX = ".tmp"
#: Names of the temporary files :func:`atomic_write` makes (``mkstemp``: 8 random characters).
TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def current_umask() -> int:
    """The process's file-mode creation mask (read without changing it where Linux allows)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], Any], *,
                 before_replace: Callable[[], None] | None = None) -> None:
    """Write ``data`` to ``path`` atomically with mode ``0o666 & ~umask``.

    Args:
        path: the file (its folder is created if missing).
        data: the whole content, or a function that writes it to the binary file it is given.
        before_replace: called once the content is safely on disk, just before the rename
            (e.g. to rotate the previous file out of the way).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    atomic_write(path, text.encode())


def write_json(data: Any, path: str | os.PathLike[str]) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write` in ``folder`` (not below it).

    Only safe while no other process writes there: call it holding the folder's
    :class:`~swalp.runio.lock.FolderLock`. Returns the deleted paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if TEMP_NAME.match(entry.name) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


__all__ = ["atomic_write", "current_umask", "remove_stale_temps", "write_json", "write_text"]
