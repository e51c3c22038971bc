"""Checkpoints with an integrity check, the last two kept, and resume that falls back.

A checkpoint file is ``torch.save`` of the state plus one entry, ``"integrity": {"format":
"swalp-checkpoint", "version": 1, "sha256": HEX}``: the digest of the state's content (every
tensor's dtype, shape and bytes, every other value's type and value, in order; see
:func:`content_digest`). ``torch.load`` opens it as any checkpoint; :func:`load_checkpoint`
recomputes the digest and refuses a file whose content changed since it was written (one
flipped byte is caught: a flip in the data changes the digest, one in the framing makes the
file unreadable or leaves the content as it was). Hashing the loaded content rather than the
file's bytes costs one pass over the tensors, not a second serialization.

:func:`save_checkpoint` writes the new file completely, then moves the current one to
``NAME.prev.pt`` and renames the new one into place, so the two latest checkpoints are kept
and a kill at any moment leaves at least one good checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from swalp.runio.files import atomic_write
from swalp.runio.readback import DamagedFileError, file_size

FORMAT, VERSION = "swalp-checkpoint", 1
#: The state entry that holds the digest.
INTEGRITY_KEY = "integrity"


def content_digest(state: Any) -> str:
    """sha256 (hex) of ``state``'s content: nested dicts (keys in order), lists and tuples,
    tensors (dtype, shape and bytes of their values, wherever they live) and other values (type
    and pickled value)."""
    digest = hashlib.sha256()

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            tensor = value.detach().to("cpu").contiguous()
            digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
        elif isinstance(value, Mapping):
            digest.update(f"D{len(value)}".encode())
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            digest.update(f"{type(value).__name__[0]}{len(value)}".encode())
            for item in value:
                walk(item)
        else:
            digest.update(f"V{type(value).__qualname__}".encode())
            digest.update(pickle.dumps(value, protocol=4))

    walk(state)
    return digest.hexdigest()


def previous_path(path: str | os.PathLike[str]) -> Path:
    """Where the checkpoint before ``path`` is kept (``checkpoint.pt`` -> ``checkpoint.prev.pt``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def damaged_path(path: str | os.PathLike[str]) -> Path:
    """Where a damaged checkpoint is moved aside (``checkpoint.pt`` -> ``checkpoint.damaged.pt``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.damaged{path.suffix}")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` (tensors and plain data) with its content digest to ``path``
    atomically, keeping the checkpoint it replaces as :func:`previous_path`."""
    path = Path(path)
    if INTEGRITY_KEY in state:
        raise ValueError(f"a checkpoint state may not have an entry {INTEGRITY_KEY!r} (it holds the digest)")
    sealed = {**state, INTEGRITY_KEY: {"format": FORMAT, "version": VERSION, "sha256": content_digest(state)}}

    def rotate() -> None:
        if path.is_file():
            os.replace(path, previous_path(path))

    atomic_write(path, lambda fh: torch.save(sealed, fh), before_replace=rotate)


def load_checkpoint(path: str | os.PathLike[str],
                    remedy: str = "it cannot be resumed from") -> dict[str, Any]:
    """The state saved in ``path`` by :func:`save_checkpoint`, verified against its digest.

    Raises:
        DamagedFileError: missing, empty, truncated or random bytes, not a swalp checkpoint,
            or content that does not match its digest (``remedy`` ends the message).
    """
    size = file_size(path, remedy)
    try:
        with warnings.catch_warnings():  # a damaged file can make torch warn before it fails
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=False)
        seal = state.pop(INTEGRITY_KEY, None) if isinstance(state, dict) else None
        ours = isinstance(seal, dict) and seal.get("format") == FORMAT
        intact = ours and content_digest(state) == seal.get("sha256")
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ... on a damaged file
        raise DamagedFileError(path, f"is not a readable checkpoint, truncated or overwritten ({size} "
                                     f"bytes; {type(err).__name__})", remedy) from None
    if not ours:
        raise DamagedFileError(path, "is not a swalp checkpoint with an integrity digest (damaged, or "
                                     "written by another program or an older swalp)", remedy)
    if not intact:
        raise DamagedFileError(path, "fails its integrity check (the sha256 of its content differs from the "
                                     "one recorded when it was written: the file changed since)", remedy)
    return state


def load_latest(path: str | os.PathLike[str], remedy: str) -> tuple[dict[str, Any] | None, Path | None,
                                                                      DamagedFileError | None]:
    """The newest good checkpoint of ``path`` and its own :func:`previous_path`.

    Returns ``(state, file, problem)``: ``state`` read from ``file`` (None, None when neither
    file exists) and ``problem``, the error of a damaged or missing ``path`` when the previous
    checkpoint was used instead. The caller should move a damaged ``path`` aside
    (:func:`set_aside`) before the next :func:`save_checkpoint` rotates it over the good one.

    Raises:
        DamagedFileError: ``path`` is damaged and no good previous checkpoint exists (the
            message names both and ends with ``remedy``).
    """
    path, prev = Path(path), previous_path(path)
    if not os.path.lexists(path) and not os.path.lexists(prev):
        return None, None, None
    try:
        return load_checkpoint(path, remedy), path, None
    except DamagedFileError as err:
        latest = err
    if not os.path.lexists(prev):
        raise DamagedFileError(path, f"{latest.problem}, and there is no previous checkpoint {prev.name}",
                               remedy)
    try:
        state = load_checkpoint(prev, remedy)
    except DamagedFileError as err:
        raise DamagedFileError(path, f"{latest.problem}, and the previous checkpoint {prev.name} "
                                     f"{err.problem}", remedy) from None
    return state, prev, latest


def set_aside(path: str | os.PathLike[str]) -> Path | None:
    """Move a damaged checkpoint to :func:`damaged_path` (kept for inspection, replacing an older
    one there); returns where it went, None when ``path`` did not exist."""
    path = Path(path)
    if not os.path.lexists(path) or path.is_dir():
        return None
    target = damaged_path(path)
    os.replace(path, target)
    return target


def remove_checkpoints(path: str | os.PathLike[str]) -> None:
    """Delete ``path`` and its previous checkpoint (a run that starts over)."""
    for file in (Path(path), previous_path(path)):
        if file.is_file() or file.is_symlink():
            file.unlink()


__all__ = ["damaged_path", "load_checkpoint", "load_latest", "previous_path", "remove_checkpoints",
           "save_checkpoint", "set_aside"]
