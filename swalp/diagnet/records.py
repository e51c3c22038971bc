"""Run records on disk: one JSON file per run, written atomically, reused when the same run
(same data and training configuration) is asked for again, so an interrupted study resumes
where it stopped and a finished one is re-tabulated without retraining."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swalp.checkpoint import write_json
from swalp.diagnet.trainer import Run


def cached_run(out: Path | None, key: str, identity: dict[str, Any], compute: Callable[[], Run],
               force: bool = False) -> tuple[Run, bool]:
    """``(run, reused)``: the record ``out/runs/KEY.json`` when it holds ``identity`` (and not
    ``force``), else ``compute()`` written there. ``out`` None keeps nothing on disk."""
    if out is None:
        return compute(), False
    path = Path(out) / "runs" / f"{key}.json"
    if path.exists() and not force:
        stored = json.loads(path.read_text())
        if stored.get("identity") == identity:
            return Run.from_dict(stored["run"]), True
    run = compute()
    write_json({"identity": identity, "run": run.to_dict()}, path)
    return run, False
