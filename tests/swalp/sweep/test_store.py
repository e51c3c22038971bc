"""Sweep directories: grid identity (refuse / force / extend), records, tidy CSV, atomic writes."""

from __future__ import annotations

import pytest

from swalp.sweep.grid import GridSpec, expand_grid
from swalp.sweep.store import GridMismatchError, SweepStore, flatten_result, read_csv


def grid(formats=("bfp(6)", "bfp8")):
    return GridSpec(task="toy", methods=("swalp",), formats=formats, seeds=(0,))


def open_store(out, spec, **kw):
    store = SweepStore(out)
    store.open(spec.to_json(), expand_grid(spec), **kw)
    return store


def record(point, status="ok", **result):
    rec = {"key": point["key"], "label": point["label"], "varied_roles": point["varied_roles"],
           "config": point["config"], "status": status}
    if status == "ok":
        rec["result"] = {"final": {"test_error": 0.1, **result}, "cost": {"energy_pj_per_step": 5.0}}
    else:
        rec["error"] = "ValueError: boom"
    return rec


def test_same_grid_resumes_and_keeps_records(tmp_path):
    store = open_store(tmp_path, grid())
    store.save(record(store.points[0]))
    again = open_store(tmp_path, grid())
    assert again.status(store.points[0]["key"]) == "ok"
    assert again.status(store.points[1]["key"]) is None


def test_a_different_grid_is_refused_unless_force_or_extend(tmp_path):
    first = open_store(tmp_path, grid())
    first.save(record(first.points[0]))
    with pytest.raises(GridMismatchError, match=r"different grid \(2 points; this one adds 1 and drops 1\)"):
        open_store(tmp_path, grid(("bfp8", "bfp(7)")))
    extended = open_store(tmp_path, grid(("bfp8", "bfp(7)")), extend=True)
    assert [p["label"] for p in extended.points] == ["bfp(6)", "bfp8", "bfp(7)"]
    assert extended.status(first.points[0]["key"]) == "ok"
    forced = open_store(tmp_path, grid(("bfp(7)",)), force=True)
    assert [p["label"] for p in forced.points] == ["bfp(7)"]
    assert forced.status(first.points[0]["key"]) is None
    assert not (tmp_path / "runs" / f"{first.points[0]['key']}.json").exists()


def test_a_non_empty_directory_without_a_sweep_is_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(GridMismatchError, match="not empty and holds no sweep"):
        open_store(tmp_path, grid())
    with pytest.raises(ValueError, match="force or extend, not both"):
        open_store(tmp_path / "new", grid(), force=True, extend=True)


def test_csv_has_one_row_per_point_whatever_the_number_of_saves(tmp_path):
    store = open_store(tmp_path, grid())
    a, b = store.points
    store.save(record(a, "failed"))
    store.save(record(b))
    store.save(record(a))  # the re-run of the failed point replaces its row
    rows = read_csv(store.csv_path)
    assert [(r["key"], r["status"]) for r in rows] == [(a["key"], "ok"), (b["key"], "ok")]
    row = rows[0]
    assert row["format_W"] == "bfp(6)" and row["family"] == "bfp" and row["method"] == "swalp"
    assert row["test_error"] == 0.1 and row["cost_energy_pj_per_step"] == 5.0 and row["seed"] == 0.0


def test_failed_rows_carry_the_error(tmp_path):
    store = open_store(tmp_path, grid())
    store.save(record(store.points[1], "failed"))
    (row,) = read_csv(store.csv_path)
    assert row["status"] == "failed" and row["error"] == "ValueError: boom" and row["label"] == "bfp8"


def test_flatten_lifts_final_and_prefixes_other_groups_and_drops_lists():
    rec = {"final": {"test_error": 0.2, "swa_test_error": None}, "cost": {"speedup_vs_fp32": 3.0,
           "accelerator": "tpu_v1"}, "epochs": [{"loss": 1.0}], "wall_time_s": 4.5}
    assert flatten_result(rec) == {"test_error": 0.2, "swa_test_error": None, "cost_speedup_vs_fp32": 3.0,
                                   "cost_accelerator": "tpu_v1", "wall_time_s": 4.5}


def test_load_of_a_directory_without_a_sweep_says_so(tmp_path):
    with pytest.raises(ValueError, match=r"holds no sweep: manifest\.json not found"):
        SweepStore.load(tmp_path)
