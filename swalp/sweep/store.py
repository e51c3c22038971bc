"""On-disk state of a sweep: the grid manifest, one JSON record per point, one tidy CSV.

Layout of a sweep directory::

    DIR/manifest.json     {"version", "grid": GridSpec.to_json(), "points": [point, ...]}
    DIR/runs/KEY.json     one record per finished point: {"key", "status": "ok"|"failed",
                          "label", "varied_roles", "config", "result" | "error", ...}
    DIR/results.csv       one row per recorded point, in grid order (rewritten from the records)

Every file is written atomically (:mod:`swalp.runio.files`: temporary file in the same
directory, then ``os.replace``, mode following the umask), so a killed sweep leaves complete
files only and loses at most the runs in flight. The CSV is derived: it is regenerated from the
records whenever they disagree (each run, :meth:`SweepStore.sync_csv`), so a re-run never
duplicates rows and a CSV that lags after a kill is caught up.

Every file is validated when read back (:mod:`swalp.runio.readback`): a damaged manifest or
record stops the sweep with one line naming the file, what is wrong and what to do, before
anything is written. The caller holds the directory's :class:`~swalp.runio.lock.FolderLock`
while it writes (:func:`swalp.sweep.run_sweep` does).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lpformats.analyze import format_family
from swalp.runio.files import TEMP_NAME, remove_stale_temps, write_text
from swalp.runio.lock import LOCK_NAME, FolderBusyError, FolderLock
from swalp.runio.readback import DamagedFileError, check_replaceable, read_json_object
from swalp.sweep.grid import ROLES

MANIFEST = "manifest.json"
RUNS = "runs"
CSV_NAME = "results.csv"
VERSION = 1

#: Result columns that come first in the CSV (when present), in this order.
RESULT_COLUMNS = (
    "test_error", "swa_test_error", "train_loss", "dist_to_opt", "swa_dist_to_opt", "wall_time_s",
    "cost_cycles_per_step", "cost_energy_pj_per_step", "cost_speedup_vs_fp32",
    "cost_energy_ratio_vs_fp32", "bits_per_element",
)
#: Nested record groups whose keys are lifted without a prefix (issue 5's record has ``final``).
UNPREFIXED_GROUPS = ("final",)
#: Record fields left out of the CSV (the configuration columns already say it).
SKIPPED_FIELDS = ("config", "formats_requested", "status")
#: Statuses of a point's record.
STATUSES = ("ok", "failed")
#: What to do about a damaged manifest, when a sweep is started and when one is read.
MANIFEST_FIX = ("pass --extend to rebuild it from this command's grid (the records in runs/ are kept and "
                "reused) or --force to start the sweep over")
MANIFEST_FIX_READ = "re-run its `swalp sweep` command with --extend to rebuild it"
RECORD_FIX = "delete it to run that point again (or pass --force to start the sweep over)"
OUT_FIX = "remove it or choose another --out"


class GridMismatchError(ValueError):
    """The output directory holds a sweep over a different grid."""


def flatten_result(record: Mapping[str, Any]) -> dict[str, Any]:
    """Scalar fields of a run record as flat columns: nested dicts join keys with ``_``
    (``cost.energy_pj_per_step`` -> ``cost_energy_pj_per_step``; the ``final`` group's keys
    keep their own names); lists (per-epoch metrics) are left out."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, mapping: Mapping[str, Any]) -> None:
        for key, item in mapping.items():
            if isinstance(item, Mapping):
                walk(prefix if (not prefix and key in UNPREFIXED_GROUPS) else f"{prefix}{key}_", item)
            elif item is None or isinstance(item, (str, int, float, bool)):
                flat[f"{prefix}{key}"] = item

    walk("", record)
    return flat


class SweepStore:
    """A sweep directory (see the module docstring)."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.points: list[dict[str, Any]] = []
        self.grid: dict[str, Any] = {}

    @property
    def csv_path(self) -> Path:
        return self.out / CSV_NAME

    def _record_path(self, key: str) -> Path:
        return self.out / RUNS / f"{key}.json"

    def open(self, grid: Mapping[str, Any], points: list[dict[str, Any]], *, force: bool = False,
             extend: bool = False) -> None:
        """Start or resume the sweep of ``points`` in this directory.

        A directory holding the same points resumes. One holding different points is refused
        (:class:`GridMismatchError`) unless ``force`` (its records are deleted and the sweep
        starts over) or ``extend`` (the new points are added to the old ones). Everything is
        checked before anything is written: a damaged manifest (``extend`` rebuilds it from
        ``grid``, keeping the records) or damaged records raise :class:`DamagedFileError`.
        Temporary files of a killed writer are removed.

        Raises:
            ValueError: ``force`` and ``extend`` together; ``out`` exists and is not a sweep.
            DamagedFileError: see above; a directory where a file belongs.
        """
        if force and extend:
            raise ValueError("give force or extend, not both")
        manifest = self.out / MANIFEST
        self._check_layout()
        try:
            old = self._read_manifest(manifest, MANIFEST_FIX)
            damaged = False
        except DamagedFileError:
            if not (force or extend):
                raise
            old, damaged = None, True
        if old is None and not damaged and self._holds_files() and not force:
            raise GridMismatchError(f"--out {self.out} is not empty and holds no sweep ({MANIFEST} missing); "
                                    "choose another directory or pass --force")
        new_keys = [p["key"] for p in points]
        if old is not None:
            old_keys = [p["key"] for p in old["points"]]
            if set(old_keys) != set(new_keys) and not (force or extend):
                added = len(set(new_keys) - set(old_keys))
                dropped = len(set(old_keys) - set(new_keys))
                raise GridMismatchError(
                    f"--out {self.out} holds a sweep over a different grid ({len(old_keys)} points; this one "
                    f"adds {added} and drops {dropped}). Pass --extend to add the new points to it, "
                    "--force to delete its results and start over, or choose another --out."
                )
            if extend:
                known = set(old_keys)
                points = old["points"] + [p for p in points if p["key"] not in known]
                grid = {"extended": [*old["grid"].get("extended", [old["grid"]]), dict(grid)]}
        if force and (old is not None or damaged):
            shutil.rmtree(self.out / RUNS, ignore_errors=True)
            self.csv_path.unlink(missing_ok=True)
        self.points, self.grid = points, dict(grid)
        self._check_records()
        for folder in (self.out, self.out / RUNS):
            remove_stale_temps(folder)
        (self.out / RUNS).mkdir(parents=True, exist_ok=True)
        write_text(manifest, json.dumps({"version": VERSION, "grid": self.grid, "points": self.points},
                                        indent=1, sort_keys=True))
        self.sync_csv()

    def _check_layout(self) -> None:
        """Files we replace must be files, and ``runs`` a directory."""
        for path in (self.out / MANIFEST, self.csv_path):
            check_replaceable(path, OUT_FIX)
        runs = self.out / RUNS
        if os.path.lexists(runs) and not runs.is_dir():
            raise DamagedFileError(runs, "is a file, where the directory of the records belongs", OUT_FIX)

    def _holds_files(self) -> bool:
        """Whether ``out`` holds anything but its lock file and stale temporary files."""
        return self.out.is_dir() and any(
            e.name != LOCK_NAME and not TEMP_NAME.match(e.name) for e in self.out.iterdir())

    def _check_records(self) -> None:
        """Read every point's record; raise one error naming the first damaged one (and how many)."""
        damaged = []
        for point in self.points:
            try:
                self.record(point["key"])
            except DamagedFileError as err:
                damaged.append(err)
        if damaged:
            more = f" ({len(damaged) - 1} more damaged records in {RUNS}/)" if len(damaged) > 1 else ""
            first = damaged[0]
            raise DamagedFileError(first.path, f"{first.problem}{more}", first.remedy)

    @staticmethod
    def _read_manifest(path: Path, remedy: str) -> dict[str, Any] | None:
        if not os.path.lexists(path):
            return None
        data = read_json_object(path, remedy, {"version": int, "grid": dict, "points": list})
        if data["version"] != VERSION:
            raise DamagedFileError(path, f"is a sweep manifest of version {data['version']}, not {VERSION}",
                                   remedy)
        for index, point in enumerate(data["points"]):
            if not (isinstance(point, dict) and isinstance(point.get("key"), str)
                    and isinstance(point.get("config"), dict) and {"label", "varied_roles"} <= point.keys()):
                raise DamagedFileError(path, f"point {index} is not a grid point (key, config, label, "
                                             "varied_roles)", remedy)
        return data

    @classmethod
    def load(cls, out: str | os.PathLike[str]) -> SweepStore:
        """An existing sweep directory (to read its records, e.g. for plots).

        Raises:
            ValueError: ``out`` holds no sweep.
            DamagedFileError: its manifest is damaged.
        """
        store = cls(out)
        data = store._read_manifest(store.out / MANIFEST, MANIFEST_FIX_READ)
        if data is None:
            raise ValueError(f"{out} holds no sweep: {MANIFEST} not found")
        store.points, store.grid = data["points"], data["grid"]
        return store

    def record(self, key: str) -> dict[str, Any] | None:
        """The record of point ``key``, None when it has not run.

        Raises:
            DamagedFileError: the record file is damaged or not this point's.
        """
        path = self._record_path(key)
        if not os.path.lexists(path):
            return None
        rec = read_json_object(path, RECORD_FIX, {"key": str, "status": str, "config": dict})
        if rec["key"] != key:
            raise DamagedFileError(path, f"holds the record of point {rec['key']}, not {key}", RECORD_FIX)
        if rec["status"] not in STATUSES:
            raise DamagedFileError(path, f"has status {rec['status']!r}, not one of {', '.join(STATUSES)}",
                                   RECORD_FIX)
        return rec

    def status(self, key: str) -> str | None:
        """``"ok"``, ``"failed"`` or None (not run yet)."""
        rec = self.record(key)
        return None if rec is None else rec["status"]

    def save(self, record: Mapping[str, Any]) -> None:
        """Store one point's record and rewrite the CSV."""
        write_text(self._record_path(record["key"]), json.dumps(record, indent=1, sort_keys=True))
        self.write_csv()

    def records(self) -> list[dict[str, Any]]:
        """Records of the recorded points, in grid order."""
        return [rec for rec in (self.record(p["key"]) for p in self.points) if rec is not None]

    def rows(self) -> list[dict[str, Any]]:
        """One tidy row per recorded point (the CSV's content)."""
        return [row_of(rec) for rec in self.records()]

    def write_csv(self) -> None:
        """Rewrite the CSV from the records."""
        write_text(self.csv_path, rows_to_csv(self.rows()))

    def sync_csv(self) -> bool:
        """Rewrite the CSV if it disagrees with the records (e.g. a kill between a record and
        the CSV); returns whether it was rewritten. Needs the directory's lock."""
        text = rows_to_csv(self.rows())
        check_replaceable(self.csv_path, OUT_FIX)
        try:
            if self.csv_path.read_text() == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
        write_text(self.csv_path, text)
        return True


def catch_up_csv(out: str | os.PathLike[str]) -> bool:
    """Rebuild the CSV of the sweep in ``out`` from its records if they disagree (a sweep
    killed between a record and the CSV), unless a sweep is writing there now (it keeps the
    CSV current itself). Returns whether the CSV was rewritten.

    Raises:
        ValueError: ``out`` holds no sweep.
        DamagedFileError: its manifest or a record is damaged.
    """
    store = SweepStore.load(out)
    try:
        with FolderLock(store.out):
            return store.sync_csv()
    except FolderBusyError:
        return False


def row_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as one flat CSV row: identity, configuration, then results."""
    config = record["config"]
    row: dict[str, Any] = {
        "key": record["key"], "status": record["status"], "task": config["task"],
        "method": config["method"], "seed": config["seed"], "label": record["label"],
        "family": format_family(record["label"]), "varied_roles": record["varied_roles"],
    }
    row.update({f"format_{r}": config["formats"].get(r, "") for r in ROLES})
    row.update({k: v for k, v in config.items() if k not in row and k != "formats"})
    result = record.get("result") or {}
    result = flatten_result({k: v for k, v in result.items() if k not in config and k not in SKIPPED_FIELDS})
    row.update({k: v for k, v in result.items() if k not in row})
    if "bits_per_element" not in row:
        row.update(_swept_bits(record, result))
    row["error"] = record.get("error") or ""
    return row


def _swept_bits(record: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, float]:
    """Mean bits per element over the swept roles that the run really quantized (a task may
    keep some roles in fp32, e.g. no activations in a convex task); all roles for
    full-precision points. Empty when the record has no per-role bits."""
    requested = record["config"]["formats"]
    effective = (record.get("result") or {}).get("formats") or requested
    swept = list(record["varied_roles"] or ROLES)
    roles = [r for r in swept if effective.get(r) == requested.get(r)] or swept
    bits = [result.get(f"bits_per_element_{r}") for r in roles]
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bits):
        return {}
    return {"bits_per_element": sum(bits) / len(bits)}


def rows_to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV text; columns are the union of the rows' keys, results in a fixed order."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    head = [c for c in columns if c not in RESULT_COLUMNS and c != "error"]
    columns = head + [c for c in RESULT_COLUMNS if c in columns] + (["error"] if "error" in columns else [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return buf.getvalue()


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """A results CSV back as rows; numeric cells become floats (empty cells None)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key, value in row.items():
            row[key] = _number(value)
    return rows


def _number(value: str) -> Any:
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


__all__ = ["GridMismatchError", "SweepStore", "catch_up_csv", "flatten_result", "read_csv", "row_of",
           "rows_to_csv"]
