"""Running sweeps on the local process pool: failures recorded, resume, a killed sweep resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from swalp.runio.lock import FolderBusyError
from swalp.sweep import run_sweep
from swalp.sweep.grid import GridSpec
from swalp.sweep.store import SweepStore, read_csv
from tests.swalp.sweep.helpers import failing_toy_run, toy_run

ROOT = Path(__file__).resolve().parents[3]
SPEC = GridSpec(task="toy", methods=("sgd-fp", "swalp"), formats=("bfp(6)", "bfp8"), seeds=(0, 1),
                fixed={"epochs": 3})


def test_a_failing_point_is_recorded_and_the_rerun_retries_only_failed_points(tmp_path):
    first = run_sweep(SPEC, tmp_path, failing_toy_run, workers=2, progress=False)
    assert (first.total, first.skipped, first.finished, first.failed) == (6, 0, 4, 2)
    rows = read_csv(first.csv)
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["label"] for r in failed} == {"bfp(6)"}
    assert all(r["error"] == "ValueError: toy failure at bfp(6)" for r in failed)
    store = SweepStore.load(tmp_path)
    before = {r["key"]: store.record(r["key"])["finished_at"] for r in rows if r["status"] == "ok"}

    second = run_sweep(SPEC, tmp_path, toy_run, workers=2, progress=False)
    assert (second.skipped, second.finished, second.failed) == (4, 2, 0)
    rows = read_csv(second.csv)
    assert len(rows) == 6 and len({r["key"] for r in rows}) == 6
    assert all(r["status"] == "ok" for r in rows)
    assert {k: store.record(k)["finished_at"] for k in before} == before  # finished points not re-run

    third = run_sweep(SPEC, tmp_path, toy_run, workers=2, progress=False)
    assert (third.skipped, third.finished, third.failed) == (6, 0, 0)


def test_results_depend_on_seed_and_format_only_not_on_the_worker_count(tmp_path):
    one = run_sweep(SPEC, tmp_path / "one", toy_run, workers=1, progress=False)
    two = run_sweep(SPEC, tmp_path / "two", toy_run, workers=2, progress=False)
    cols = ("key", "test_error", "cost_energy_pj_per_step", "bits_per_element")
    a = [{c: r[c] for c in cols} for r in read_csv(one.csv)]
    b = [{c: r[c] for c in cols} for r in read_csv(two.csv)]
    assert a == b
    assert len({r["test_error"] for r in a}) > 2  # seeds and formats really change the numbers


KILLABLE = textwrap.dedent("""
    import sys
    from swalp.runio.lock import FolderBusyError
    from swalp.sweep import run_sweep
    from swalp.sweep.grid import GridSpec
    from tests.swalp.sweep.helpers import slow_toy_run
    spec = GridSpec(task="toy", methods=("swalp",), formats=("bfp(6)", "bfp(7)", "bfp8"), seeds=(0, 1, 2))
    try:
        run_sweep(spec, sys.argv[1], slow_toy_run, workers=1, progress=False)
    except FolderBusyError as err:
        sys.exit(f"refused: {err}")
""")
KILLABLE_SPEC = GridSpec(task="toy", methods=("swalp",), formats=("bfp(6)", "bfp(7)", "bfp8"),
                         seeds=(0, 1, 2))


def test_two_sweeps_on_one_directory_one_is_refused_and_a_killed_sweep_resumes_without_duplicates(tmp_path):
    """Two sweeps started together: one runs, the other is refused naming it; a third started
    later is refused too; the running one killed with kill -9 resumes with each point once."""
    out = tmp_path / "sweep"
    procs = [subprocess.Popen([sys.executable, "-c", KILLABLE, str(out)], cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = list((out / "runs").glob("*.json")) if (out / "runs").exists() else []
            if len(runs) >= 2 or all(p.poll() is not None for p in procs):
                break
            time.sleep(0.1)
        refused = [p for p in procs if p.poll() is not None]
        assert len(refused) == 1, [p.stderr.read() for p in refused]
        (winner,) = [p for p in procs if p not in refused]
        assert refused[0].returncode == 1
        named = f"is in use by another swalp process (pid {winner.pid} on "
        assert named in refused[0].stderr.read().decode()
        with pytest.raises(FolderBusyError, match=rf"pid {winner.pid} on .*; wait for it to finish or"):
            run_sweep(KILLABLE_SPEC, out, toy_run, workers=1, progress=False)
        os.killpg(winner.pid, signal.SIGKILL)  # the sweep and its pool workers
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    done_before = {p.stem for p in (out / "runs").glob("*.json")}
    assert 2 <= len(done_before) < 9

    resumed = run_sweep(KILLABLE_SPEC, out, toy_run, workers=2, progress=False)
    assert resumed.skipped == len(done_before)
    assert resumed.finished == 9 - len(done_before)
    rows = read_csv(resumed.csv)
    assert len(rows) == 9 and len({r["key"] for r in rows}) == 9
    assert all(r["status"] == "ok" for r in rows)
    assert not [p for p in [*out.iterdir(), *(out / "runs").iterdir()] if p.name.endswith(".tmp")]


def test_local_backend_rejects_an_address_and_bad_worker_counts(tmp_path):
    with pytest.raises(ValueError, match="address is for the ray backend"):
        run_sweep(SPEC, tmp_path, toy_run, address="10.0.0.1:6379", progress=False)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        run_sweep(SPEC, tmp_path / "w", toy_run, workers=0, progress=False)
    with pytest.raises(ValueError, match="backend must be one of local, ray"):
        run_sweep(SPEC, tmp_path / "b", toy_run, backend="slurm", progress=False)
