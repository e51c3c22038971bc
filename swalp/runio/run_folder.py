"""A run's output folder: ``record.json`` and ``checkpoint.pt`` (+ ``checkpoint.prev.pt``),
checked before training so that nothing is overwritten until the checks pass.

:func:`prepare_run_folder` decides, with the folder locked by the caller, whether a run
starts over or resumes, and from which checkpoint:

- a finished run is kept unless ``force`` (``resume`` returns its record untouched); an
  unfinished one (a ``running`` record or a checkpoint) needs ``resume`` to continue or
  ``force`` to start over;
- every file is validated first (:mod:`swalp.runio.readback`); a file we would replace must
  be a regular file (a directory named ``record.json`` is refused before any epoch runs);
- ``resume`` loads the newest good checkpoint: a damaged ``checkpoint.pt`` is set aside as
  ``checkpoint.damaged.pt`` and the run continues from ``checkpoint.prev.pt`` (said in one
  line on stderr); with neither good, it is refused;
- temporary files of a killed writer are removed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swalp.runio.checkpoint import load_latest, previous_path, remove_checkpoints, set_aside
from swalp.runio.files import remove_stale_temps
from swalp.runio.readback import check_replaceable, read_json_object

RECORD_FILE, CHECKPOINT_FILE = "record.json", "checkpoint.pt"


class RunExistsError(FileExistsError):
    """The output directory holds a finished run (``force`` overwrites it, ``resume`` returns it)."""


class UnfinishedRunError(FileExistsError):
    """The output directory holds an unfinished run (``resume`` continues it, ``force`` starts over)."""


@dataclass(frozen=True)
class RunStart:
    """How a run in a folder starts: from ``state`` (a checkpoint; None: from scratch), or not
    at all because the folder holds the ``finished`` record of the same run (``resume``)."""

    state: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None


RECORD_FIX = "pass --force to overwrite it (with --resume the run continues from its checkpoint)"


def check_same_config(saved: Any, config: Mapping[str, Any], path: Path) -> None:
    """Refuse to resume from ``path`` when the config saved there is not ``config``."""
    ours = dict(config)
    if saved != ours:
        diff = sorted(k for k in ours if (saved if isinstance(saved, dict) else {}).get(k) != ours[k])
        raise ValueError(f"--resume: {path} is from a different config (differs in {', '.join(diff)})")


def read_record(record_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's record, validated (a JSON object with a ``status``).

    Raises:
        DamagedFileError: the file is damaged (the message says what to do).
    """
    return read_json_object(record_path, RECORD_FIX, {"status": str})


def finished_record(record_path: str | os.PathLike[str], config: Mapping[str, Any], *, resume: bool,
                    force: bool) -> dict[str, Any] | None:
    """The finished record at ``record_path`` when resuming it (nothing left to train), None
    when there is none, it is unfinished, or ``force`` overwrites it.

    Raises:
        RunExistsError: a finished run, neither ``force`` nor ``resume``.
        ValueError: resuming a finished run of another config.
        DamagedFileError: a damaged record (without ``force``).
    """
    record_path = Path(record_path)
    if force or not os.path.lexists(record_path):
        return None
    record = read_record(record_path)
    if record["status"] != "finished":
        return None
    if not resume:
        raise RunExistsError(f"{record_path} holds a finished run; pass force=True to overwrite it or "
                             "resume=True to return its record")
    check_same_config(record.get("config"), config, record_path)
    return record


def prepare_run_folder(out: str | os.PathLike[str], config: Mapping[str, Any], *, resume: bool,
                       force: bool, writer: bool = True) -> RunStart:
    """Check ``out`` before training; says whether and from which checkpoint the run starts.

    Args:
        out: the run's folder (the caller holds its :class:`~swalp.runio.lock.FolderLock`).
        config: the run's configuration (``RunConfig.to_dict()``), which a checkpoint must match.
        resume, force: as in :func:`swalp.experiments.run_experiment`.
        writer: False for a process that only reads the folder (the other ranks of a
            data-parallel run, whose rank 0 writes): the same checks and the same checkpoint,
            but nothing removed, moved or said.

    Raises:
        RunExistsError: a finished run, neither ``force`` nor ``resume``.
        UnfinishedRunError: an unfinished run, neither ``resume`` nor ``force``.
        DamagedFileError: a damaged record (without ``force``), a damaged checkpoint with no
            good previous one (with ``resume``), or a directory where a file belongs.
        ValueError: the checkpoint or finished record is of a different configuration.
    """
    out = Path(out)
    record_path, checkpoint_path = out / RECORD_FILE, out / CHECKPOINT_FILE
    for path in (record_path, checkpoint_path, previous_path(checkpoint_path)):
        check_replaceable(path, "remove it or choose another --out")
    finished = finished_record(record_path, config, resume=resume, force=force)
    if finished is not None:
        return RunStart(finished=finished)
    if writer:
        remove_stale_temps(out)
    record = read_record(record_path) if os.path.lexists(record_path) and not force else None
    has_checkpoint = any(os.path.lexists(p) for p in (checkpoint_path, previous_path(checkpoint_path)))
    if not resume:
        if (record is not None or has_checkpoint) and not force:
            done = (f"{record.get('epochs_done', '?')} epochs done" if record is not None
                    else f"{checkpoint_path.name} kept")
            raise UnfinishedRunError(f"{out} holds an unfinished run ({done}); pass resume=True (--resume) "
                                     "to continue it or force=True (--force) to start over")
        if writer:
            remove_checkpoints(checkpoint_path)
        return RunStart()
    state, used, problem = load_latest(checkpoint_path, "pass --force without --resume to start the run over")
    if state is None:
        return RunStart()
    check_same_config(state.get("config"), config, used)
    if problem is not None and writer:
        aside = set_aside(checkpoint_path)
        kept = f"; the damaged file is kept as {aside.name}" if aside is not None else ""
        print(f"swalp: {problem.path}: {problem.problem}; resuming from the previous checkpoint {used.name} "
              f"(epoch {state['epoch']}){kept}", file=sys.stderr)
    return RunStart(state=state)


__all__ = ["CHECKPOINT_FILE", "RECORD_FILE", "RunExistsError", "RunStart", "UnfinishedRunError",
           "check_same_config", "finished_record", "prepare_run_folder", "read_record"]
