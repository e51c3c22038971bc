"""``swalp lr`` and ``--lr-policy`` on training runs."""

import csv

import pytest

from swalp.cli import main
from swalp.experiments import RunConfig, run_experiment
from swalp.schedules import parse_policy


def test_lr_command_prints_writes_and_plots(tmp_path, capsys):
    spec = "WARMUP(k0=0,k1=0.1,l=5) @5 COS(k0=0.001,k1=0.1,l=15)"
    status = main(["lr", "--policy", spec, "--policy", "epoch:STEP(k0=0.1,gamma=0.5,l=1)", "--steps", "20",
                   "--steps-per-epoch", "10", "--every", "5", "--csv", str(tmp_path / "lr.csv"),
                   "--plot", str(tmp_path / "lr.png")])
    out = capsys.readouterr().out
    assert status == 0
    assert f"policy 1: {spec}" in out and "policy 2: epoch:STEP(k0=0.1,gamma=0.5,l=1)" in out
    assert (tmp_path / "lr.png").stat().st_size > 0
    with open(tmp_path / "lr.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["step", spec, "epoch:STEP(k0=0.1,gamma=0.5,l=1)"]
    policy = parse_policy(spec)
    assert [float(r[1]) for r in rows[1:]] == [policy(t) for t in range(20)]
    assert [float(r[2]) for r in rows[1:]] == [0.1] * 10 + [0.05] * 10


def test_lr_command_refuses_a_bad_spec(capsys):
    assert main(["lr", "--policy", "COS(k0=0.1)"]) == 2
    assert "COS: missing parameter(s) k1, l" in capsys.readouterr().err


def test_lr_command_lists_every_policy(capsys):
    assert main(["lr", "--list"]) == 0
    out = capsys.readouterr().out
    assert "TRIEXP(k0=..,k1=..,l=..,gamma=..)" in out and "SWALP(lr=..,epochs=.." in out


def test_training_follows_the_lr_policy():
    record = run_experiment(RunConfig(task="linreg", method="sgd-fp", epochs=3,
                                      lr_policy="epoch:NSTEP(k0=0.02,gamma=0.5,l=[1,2])"))
    assert [row["lr"] for row in record["epochs"]] == pytest.approx([0.02, 0.01, 0.005])
    assert record["config"]["lr_policy"] == "epoch:NSTEP(k0=0.02,gamma=0.5,l=[1,2])"
    final = record["final"]
    assert final["robustness"] == pytest.approx(final["test_loss"] - final["train_loss"])
    assert final["top1_accuracy"] is None and final["confidence_mean"] is None  # regression: no accuracy


@pytest.mark.parametrize(("changes", "message"), [
    ({"lr_policy": "COS(k0=0.1)"}, "COS: missing parameter"),
    ({"lr_policy": "FIX(k0=0.1)", "cyclic_min": 0.001}, "cyclic_min"),
])
def test_bad_lr_policy_fails_before_training(changes, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(task="linreg", method="swalp", **changes).resolved()
