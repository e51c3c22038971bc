"""Run records on disk: one JSON file per run, written atomically, reused when the same run
(same data and training configuration) is asked for again, so an interrupted study resumes
where it stopped and a finished one is re-tabulated without retraining."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swalp.diagnet.trainer import Run
from swalp.runio.files import write_json
from swalp.runio.readback import read_json_object


def cached_run(out: Path | None, key: str, identity: dict[str, Any], compute: Callable[[], Run],
               force: bool = False) -> tuple[Run, bool]:
    """``(run, reused)``: the record ``out/runs/KEY.json`` when it holds ``identity`` (and not
    ``force``), else ``compute()`` written there. ``out`` None keeps nothing on disk.

    Raises:
        DamagedFileError: the record is damaged (one line: the file, what is wrong, what to do).
    """
    if out is None:
        return compute(), False
    path = Path(out) / "runs" / f"{key}.json"
    if os.path.lexists(path) and not force:
        stored = read_json_object(path, "delete it to compute that run again (or pass --force)",
                                  {"identity": dict, "run": dict})
        if stored["identity"] == identity:
            return Run.from_dict(stored["run"]), True
    run = compute()
    write_json({"identity": identity, "run": run.to_dict()}, path)
    return run, False
