"""Run a sweep: expand the grid, skip finished points, run the rest on a backend, record each.

:func:`run_sweep` is the engine behind ``swalp sweep``. Re-running it on the same directory
skips points recorded as ``ok`` and re-runs ``failed`` ones; points are recorded one by one
as they finish (see :mod:`swalp.sweep.store`), so a killed sweep loses only the runs in
flight. Progress is one tqdm bar over the whole grid with finished/failed/remaining and ETA.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from swalp.provenance import code_version, same_code
from swalp.runio.lock import FolderLock
from swalp.sweep.backends import RunFn, make_backend
from swalp.sweep.grid import GridSpec, expand_grid
from swalp.sweep.store import SweepStore


@dataclass(frozen=True)
class SweepSummary:
    """Outcome of :func:`run_sweep`.

    Attributes:
        out: the sweep directory; ``csv`` its results table.
        total: points in the grid; ``skipped``: already finished before this call;
        ``other_code``: how many of those other code produced (their record's ``code``
        differs from :func:`swalp.provenance.code_version`, or predates the field);
        ``finished``/``failed``: run by this call; ``wall_time_s``: seconds this call took.
    """

    out: Path
    csv: Path
    total: int
    skipped: int
    other_code: int
    finished: int
    failed: int
    wall_time_s: float

    @property
    def runs_per_minute(self) -> float:
        """Points run by this call per minute of wall time."""
        ran = self.finished + self.failed
        return 60.0 * ran / self.wall_time_s if self.wall_time_s > 0 else 0.0


def run_sweep(
    spec: GridSpec,
    out: str | os.PathLike[str],
    run_fn: RunFn,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
    extend: bool = False,
    tasks: Any = None,
    progress: bool = True,
) -> SweepSummary:
    """Run every point of ``spec`` that ``out`` does not already hold as finished.

    Args:
        spec: the grid.
        out: sweep directory (created if missing).
        run_fn: module-level function ``config dict -> record dict`` (e.g.
            :func:`swalp.sweep.runner.run_point`).
        backend: ``local`` (process pool) or ``ray``.
        workers: processes (local) or CPUs of a local Ray instance; None: all cores.
        address: Ray cluster to join (ray backend only).
        force, extend: what to do when ``out`` holds a different grid (see
            :meth:`SweepStore.open`); without either that is an error.
        tasks: valid task names, checked before anything runs (None: not checked).
        progress: show the progress bar (on stderr).

    Raises:
        ValueError: bad grid, a different grid in ``out``, bad backend options.
        ImportError: the ray backend without Ray installed.
        ConnectionError: an unreachable Ray address.
        FolderBusyError: another process is writing to ``out`` (a second sweep is refused, not
            joined: the message names the holder).
        DamagedFileError: a damaged file in ``out`` (nothing is run or written).
    """
    points = expand_grid(spec, tasks)
    with FolderLock(out):
        return _run_locked(spec, points, out, run_fn, backend=backend, workers=workers, address=address,
                           force=force, extend=extend, progress=progress)


def _run_locked(spec: GridSpec, points: list[dict[str, Any]], out: str | os.PathLike[str],
                run_fn: RunFn, *, backend: str, workers: int | None, address: str | None, force: bool,
                extend: bool, progress: bool) -> SweepSummary:
    start = time.perf_counter()
    store = SweepStore(out)
    store.open(spec.to_json(), points, force=force, extend=extend)
    todo = [p for p in store.points if store.status(p["key"]) != "ok"]
    total, skipped = len(store.points), len(store.points) - len(todo)
    other_code = sum(not same_code(store.record(p["key"])["result"].get("code"), code_version())
                     for p in store.points if store.status(p["key"]) == "ok")
    counts = {"finished": 0, "failed": 0}
    bar = tqdm(total=total, initial=skipped, disable=not progress, unit="run", desc="sweep",
               dynamic_ncols=True)
    bar.set_postfix(_postfix(skipped, counts, total))
    runner = make_backend(backend, workers=workers, address=address) if todo else None
    try:
        for _key, record in runner.run(run_fn, todo) if runner else ():
            store.save(record)
            counts["finished" if record["status"] == "ok" else "failed"] += 1
            bar.set_postfix(_postfix(skipped, counts, total), refresh=False)
            bar.update(1)
    finally:
        bar.close()
        if runner is not None:
            runner.close()
    return SweepSummary(out=store.out, csv=store.csv_path, total=total, skipped=skipped,
                        other_code=other_code, finished=counts["finished"], failed=counts["failed"],
                        wall_time_s=time.perf_counter() - start)


def _postfix(skipped: int, counts: Mapping[str, int], total: int) -> dict[str, int]:
    done = skipped + counts["finished"]
    return {"finished": done, "failed": counts["failed"], "remaining": total - done - counts["failed"]}


__all__ = ["SweepSummary", "run_sweep"]
