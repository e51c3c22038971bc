"""``swalp lrbench`` end to end on a small real task."""

import csv
import json

import pytest

from swalp.cli import main

POLICIES = "epoch:FIX(k0=0.5); epoch:STEP(k0=0.5,gamma=0.5,l=1)"
TINY = ["--task", "logreg", "--policies", POLICIES, "--seeds", "2", "--target", "80", "--epochs", "2",
        "--workers", "1"]


def test_a_study_trains_ranks_recommends_and_resumes(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["lrbench", *TINY, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 points: 0 already finished, 4 finished and 0 failed now" in text
    assert "recommended (LRBench's rule" in text and "sgd-fp: epoch:" in text
    with open(out / "lrbench.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["policy"] for r in rows) == ["epoch:FIX(k0=0.5)", "epoch:STEP(k0=0.5,gamma=0.5,l=1)"]
    assert {r["seeds"] for r in rows} == {"2"} and all(r["rank_top1_accuracy"] for r in rows)
    with open(out / "lrbench_runs.csv", newline="") as fh:
        runs = list(csv.DictReader(fh))
    assert len(runs) == 4 and all(0 < float(r["top1_accuracy"]) <= 100 for r in runs)
    summary = json.loads((out / "lrbench.json").read_text())
    assert summary["target"] == 80 and summary["recommendations"][0]["setting"] == "sgd-fp"
    for name in ("accuracy_vs_steps", "metrics", "ranks"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 0
    assert (out / "plots" / "lr_policies.png").stat().st_size > 0
    assert main(["lrbench", *TINY, "--out", str(out), "--no-plot"]) == 0
    assert "4 points: 4 already finished, 0 finished" in capsys.readouterr().out


@pytest.mark.parametrize(("change", "message"), [
    (["--target", "120"], "--target is a test accuracy in percent"),
    (["--policies", "COS(k0=0.1)"], "COS: missing parameter"),
    (["--methods", "adam"], "methods: unknown 'adam'"),
])
def test_bad_input_exits_2_before_training(tmp_path, capsys, change, message):
    assert main(["lrbench", *TINY, *change, "--out", str(tmp_path / "bad")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
