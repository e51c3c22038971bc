"""Atomic files: write to a temporary file in the same directory, then ``os.replace``, so
a killed run leaves either the previous file or the new one, never a torn one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: Path, write) -> None:
    """Create ``path`` (and its directory) atomically: ``write(binary file handle)`` fills a
    temporary file next to it, which then replaces ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` (tensors and plain data) to ``path`` atomically with ``torch.save``."""
    atomic_write(Path(path), lambda fh: torch.save(state, fh))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    return torch.load(Path(path), map_location="cpu", weights_only=False)


def write_json(data: Any, path: str | Path) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    atomic_write(Path(path), lambda fh: fh.write(text.encode()))
