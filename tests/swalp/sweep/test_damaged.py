"""A sweep directory with damaged files: one line naming the file, what is wrong and what to
do, before anything is written; --extend rebuilds a damaged manifest keeping the records;
the CSV is rebuilt from the records whenever they disagree; stale temporaries are removed."""

from __future__ import annotations

import json
import os
import random
import re
import shutil

import pytest

from swalp.cli import main
from swalp.runio.lock import LOCK_NAME, FolderLock
from swalp.runio.readback import DamagedFileError
from swalp.sweep import run_sweep
from swalp.sweep.backends import execute_point
from swalp.sweep.grid import GridSpec, expand_grid
from swalp.sweep.store import SweepStore, catch_up_csv, read_csv
from tests.swalp.sweep.helpers import toy_run

SPEC = GridSpec(task="toy", methods=("swalp",), formats=("bfp(6)", "bfp8"), seeds=(0, 1))
MANIFEST_FIX = ("pass --extend to rebuild it from this command's grid (the records in runs/ are kept and "
                "reused) or --force to start the sweep over")
RECORD_FIX = "delete it to run that point again (or pass --force to start the sweep over)"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished sweep, its points run here (as a backend would) to spare a process pool."""
    out = tmp_path_factory.mktemp("finished") / "sweep"
    store = SweepStore(out)
    store.open(SPEC.to_json(), expand_grid(SPEC))
    for point in store.points:
        store.save(execute_point(toy_run, point))
    return out


@pytest.fixture
def sweep(finished, tmp_path):
    out = tmp_path / "sweep"
    shutil.copytree(finished, out)
    return out


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*")) if p.name != LOCK_NAME}


def rerun(out, **kw):
    return run_sweep(SPEC, out, toy_run, workers=1, progress=False, **kw)


def damage(path, content):
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)


MANIFEST_DAMAGE = {
    "wrong JSON type": (b"[]", "holds an array where a JSON object belongs"),
    "invalid JSON": (b'{"version": 1, "grid"', r"is not valid JSON \(Expecting ':' delimiter at line 1"),
    "empty": (b"", r"is empty \(0 bytes\)"),
    "random bytes": (random.Random(0).randbytes(300), "is not UTF-8 text"),
    "directory": (None, "is a directory, where a file belongs; remove it or choose another --out$"),
    "wrong version": (b'{"version": 7, "grid": {}, "points": []}', "is a sweep manifest of version 7, not 1"),
    "bad point": (b'{"version": 1, "grid": {}, "points": [{"key": 3}]}', "point 0 is not a grid point"),
}


@pytest.mark.parametrize("case", MANIFEST_DAMAGE)
def test_a_damaged_manifest_stops_the_sweep_before_anything_is_written(sweep, case):
    content, problem = MANIFEST_DAMAGE[case]
    damage(sweep / "manifest.json", content)
    before = snapshot(sweep)
    with pytest.raises(DamagedFileError, match=rf"^{sweep / 'manifest.json'}: {problem}") as err:
        rerun(sweep)
    assert "\n" not in str(err.value)
    if content is not None:
        assert str(err.value).endswith(MANIFEST_FIX)
    assert snapshot(sweep) == before


def test_extend_rebuilds_a_damaged_manifest_and_reuses_every_record(sweep):
    store = SweepStore.load(sweep)
    finished_at = {p["key"]: store.record(p["key"])["finished_at"] for p in store.points}
    damage(sweep / "manifest.json", b"\x00\x00garbage")
    summary = rerun(sweep, extend=True)
    assert (summary.total, summary.skipped, summary.finished) == (4, 4, 0)  # nothing trained again
    again = SweepStore.load(sweep)
    assert {p["key"]: again.record(p["key"])["finished_at"] for p in again.points} == finished_at


def test_force_over_a_damaged_manifest_starts_over(sweep):
    damage(sweep / "manifest.json", b"[]")
    SweepStore(sweep).open(SPEC.to_json(), expand_grid(SPEC), force=True)
    assert list((sweep / "runs").iterdir()) == [] and read_csv(sweep / "results.csv") == []


RECORD_DAMAGE = {
    "wrong JSON type": (b'"ok"', "holds a string where a JSON object belongs"),
    "invalid JSON": (b'{"key": "', r"is not valid JSON \(Unterminated string"),
    "empty": (b"", r"is empty \(0 bytes\)"),
    "directory": (None, "is a directory, where a file belongs"),
    "another point's": (None, "holds the record of point"),
    "bad status": (None, "has status 'done', not one of ok, failed"),
}


@pytest.mark.parametrize("case", RECORD_DAMAGE)
def test_a_damaged_record_stops_the_sweep_naming_it_before_anything_is_written(sweep, case):
    content, problem = RECORD_DAMAGE[case]
    first, second, *_ = sorted((sweep / "runs").iterdir())
    if case == "another point's":
        content = second.read_bytes()
    elif case == "bad status":
        content = json.dumps({**json.loads(first.read_text()), "status": "done"}).encode()
    damage(first, content)
    before = snapshot(sweep)
    with pytest.raises(DamagedFileError, match=rf"^{first}: {problem}.*; {re.escape(RECORD_FIX)}$") as err:
        rerun(sweep)
    assert "\n" not in str(err.value)
    assert snapshot(sweep) == before


def test_several_damaged_records_are_counted_and_deleting_them_leaves_only_those_points_to_run(sweep):
    records = sorted((sweep / "runs").iterdir())
    for path in records[:3]:
        path.write_text("[]")
    with pytest.raises(DamagedFileError, match=r"holds an array where a JSON object belongs \(2 more damaged "
                                               r"records in runs/\)"):
        rerun(sweep)
    for path in records[:3]:
        path.unlink()
    store = SweepStore(sweep)
    store.open(SPEC.to_json(), expand_grid(SPEC))
    assert sorted(store.status(p["key"]) is None for p in store.points) == [False, True, True, True]
    assert len(read_csv(store.csv_path)) == 1


@pytest.mark.parametrize(("name", "problem"), [
    ("results.csv", "is a directory, where a file belongs"),
    ("runs", "is a file, where the directory of the records belongs"),
])
def test_a_directory_or_file_in_the_wrong_place_is_refused(sweep, name, problem):
    damage(sweep / name, None if name == "results.csv" else b"")
    before = snapshot(sweep)
    with pytest.raises(DamagedFileError, match=rf"{sweep / name}: {problem}; remove it or choose another"):
        rerun(sweep)
    assert snapshot(sweep) == before


def test_the_cli_gives_one_line_and_exit_2(sweep, capsys):
    damage(sweep / "manifest.json", b"[]")
    args = ["sweep", "--task", "linreg", "--methods", "swalp", "--formats", "bfp8", "--epochs", "2",
            "--swa-start", "1", "--no-plot", "--out", str(sweep)]
    problem = f"{sweep / 'manifest.json'}: holds an array where a JSON object belongs"
    assert main(args) == 2
    assert capsys.readouterr().err == f"swalp sweep: error: {problem}; {MANIFEST_FIX}\n"
    assert main(["plot", str(sweep)]) == 2
    assert capsys.readouterr().err == (f"swalp plot: error: {problem}; re-run its `swalp sweep` command with "
                                       "--extend to rebuild it\n")


@pytest.mark.parametrize("csv", ["stale", "garbage", "missing"])
def test_a_csv_that_disagrees_with_the_records_is_rebuilt(sweep, csv):
    good = (sweep / "results.csv").read_text()
    path = sweep / "results.csv"
    if csv == "stale":  # killed between a record and the CSV
        path.write_text("\n".join(good.splitlines()[:-2]) + "\n")
    elif csv == "garbage":
        path.write_bytes(random.Random(1).randbytes(100))
    else:
        path.unlink()
    assert catch_up_csv(sweep) is True
    assert path.read_text() == good
    assert catch_up_csv(sweep) is False
    path.write_text(good[:50])
    assert rerun(sweep).skipped == 4 and path.read_text() == good


def test_stale_temporaries_are_removed_and_the_lock_file_is_not_content(sweep, tmp_path):
    stale = [sweep / ".results.csv.k2j_9xq1.tmp", sweep / "runs" / ".abc.json.q1w2e3r4.tmp",
             sweep / ".manifest.json.zzzzzzzz.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    rerun(sweep)
    assert not any(p.exists() for p in stale)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / LOCK_NAME).write_text("{}")  # left by an earlier writer: not a foreign file
    (fresh / ".results.csv.k2j_9xq1.tmp").write_text("half")
    SweepStore(fresh).open(SPEC.to_json(), expand_grid(SPEC))
    assert sorted(p.name for p in fresh.iterdir()) == [LOCK_NAME, "manifest.json", "results.csv", "runs"]


def test_the_cli_refuses_a_second_sweep_naming_the_first_with_exit_2(sweep, capsys):
    before = snapshot(sweep)
    args = ["sweep", "--task", "linreg", "--methods", "swalp", "--formats", "bfp8", "--epochs", "2",
            "--swa-start", "1", "--no-plot", "--out", str(sweep)]
    with FolderLock(sweep):  # as a running `swalp sweep` holds it
        assert main(args) == 2
    err = capsys.readouterr().err
    holder = f"is in use by another swalp process (pid {os.getpid()} on "
    assert err.startswith(f"swalp sweep: error: {sweep} {holder}")
    assert err.endswith("; wait for it to finish or choose another --out\n") and err.count("\n") == 1
    assert snapshot(sweep) == before
