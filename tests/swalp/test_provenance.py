"""Records name the code that produced them, and a resumed sweep says how many of its points
other code produced."""

from __future__ import annotations

import json
import subprocess

from swalp.experiments import RunConfig, run_experiment
from swalp.provenance import SOURCE_ROOT, code_version, same_code
from swalp.sweep import run_sweep
from swalp.sweep.grid import GridSpec
from swalp.sweep.store import SweepStore
from tests.swalp.sweep.helpers import coded_toy_run, toy_run

SPEC = GridSpec(task="toy", methods=("sgd-fp",), formats=("bfp8",), seeds=(0, 1, 2), fixed={"epochs": 2})


def test_the_code_version_is_the_installed_version_and_the_checked_out_commit():
    code = code_version()
    head = subprocess.run(["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    if head.returncode == 0:
        assert code["commit"] == head.stdout.strip()
        assert isinstance(code["dirty"], bool)
    assert code["version"] is not None


def test_same_code_needs_equal_version_and_commit():
    here = {"version": "0.1.0", "commit": "a" * 40, "dirty": False}
    assert same_code(here, dict(here, dirty=True))
    assert not same_code(here, dict(here, commit="b" * 40))
    assert not same_code(here, dict(here, version="0.2.0"))
    assert not same_code(None, here)  # a record from before the field
    assert same_code({"version": "0.1.0", "commit": None}, {"version": "0.1.0", "commit": None})


def test_a_run_record_names_its_code():
    config = RunConfig(task="linreg", method="sgd-fp", epochs=1)
    record = run_experiment(config, out_dir=None, checkpoint=False)
    assert record["code"] == code_version()


def test_a_resumed_sweep_counts_the_finished_points_other_code_produced(tmp_path):
    first = run_sweep(SPEC, tmp_path, coded_toy_run, workers=1, progress=False)
    assert (first.finished, first.other_code) == (3, 0)
    assert run_sweep(SPEC, tmp_path, coded_toy_run, workers=1, progress=False).other_code == 0

    store = SweepStore.load(tmp_path)
    key = store.points[0]["key"]
    path = tmp_path / "runs" / f"{key}.json"
    stored = json.loads(path.read_text())
    stored["result"]["code"]["commit"] = "0" * 40
    path.write_text(json.dumps(stored))
    again = run_sweep(SPEC, tmp_path, coded_toy_run, workers=1, progress=False)
    assert (again.skipped, again.finished, again.other_code) == (3, 0, 1)  # kept, not re-run, counted


def test_points_recorded_before_records_named_their_code_count_as_other_code(tmp_path):
    run_sweep(SPEC, tmp_path, toy_run, workers=1, progress=False)
    assert run_sweep(SPEC, tmp_path, coded_toy_run, workers=1, progress=False).other_code == 3
