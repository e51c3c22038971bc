"""``swalp sweep`` end to end on real (tiny) training runs, and its refusals of bad input."""

from __future__ import annotations

import json
import time

import pytest

from swalp.cli import main
from swalp.sweep.store import read_csv

TINY = ["--task", "linreg", "--methods", "sgd-fp,swalp", "--formats", "bfp:6..7", "--epochs", "2",
        "--swa-start", "1", "--workers", "2", "--no-plot"]


def test_a_sweep_trains_every_point_writes_csv_and_records_and_a_rerun_skips_them(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", *TINY, "--out", str(out)]) == 0
    assert "3 points: 0 already finished, 3 finished and 0 failed now" in capsys.readouterr().out
    rows = read_csv(out / "results.csv")
    assert [(r["method"], r["label"], r["status"]) for r in rows] == [
        ("sgd-fp", "fp32", "ok"), ("swalp", "bfp(6)", "ok"), ("swalp", "bfp(7)", "ok")]
    swalp6 = rows[1]
    assert swalp6["format_W"] == swalp6["format_G"] == swalp6["format_M"] == "bfp(6)"
    assert swalp6["epochs"] == 2 and swalp6["swa_start"] == 1 and swalp6["seed"] == 0
    assert swalp6["swa_test_error"] > 0 and swalp6["cost_energy_pj_per_step"] > 0
    assert rows[0]["cost_energy_pj_per_step"] > swalp6["cost_energy_pj_per_step"]  # fp32 costs more
    record = json.loads((out / "runs" / f"{swalp6['key']}.json").read_text())
    assert record["status"] == "ok" and record["config"]["formats"]["W"] == "bfp(6)"

    assert main(["sweep", *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 points: 3 already finished, 0 finished and 0 failed now" in printed
    assert "other code" not in printed
    assert len(read_csv(out / "results.csv")) == 3

    record["result"]["code"]["version"] = "0.0.1"  # as if an older release had run this point
    (out / "runs" / f"{swalp6['key']}.json").write_text(json.dumps(record))
    assert main(["sweep", *TINY, "--out", str(out)]) == 0
    assert "note: 1 of the 3 points already finished were run by other code" in capsys.readouterr().out


def test_another_grid_in_the_same_directory_is_refused_unless_extended(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", *TINY, "--methods", "sgd-fp", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["sweep", *TINY, "--methods", "sgd-fp", "--seeds", "0,1", "--out", str(out)]) == 2
    assert "holds a sweep over a different grid" in capsys.readouterr().err
    assert main(["sweep", *TINY, "--methods", "sgd-fp", "--seeds", "0,1", "--extend", "--out", str(out)]) == 0
    assert "2 points: 1 already finished, 1 finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--formats", "bfp:16..4"], "range 'bfp:16..4' runs downward"),
        (["--formats", "mx?"], "matches no preset"),
        (["--roles", "W,X"], "roles: unknown 'X'"),
        (["--task", "mnist"], "task: unknown 'mnist'"),
        (["--methods", "adam"], "methods: unknown 'adam'"),
        (["--seeds", "0"], "seeds must be a count"),
        (["--swa-start", "5"], "swa_start must be in [1, epochs - 1]"),
        (["--train-size", "100"], "task linreg has a fixed training set"),
        (["--backend", "ray", "--address", "127.0.0.1:9"], "cannot reach a Ray cluster at '127.0.0.1:9'"),
        (["--address", "127.0.0.1:9"], "address is for the ray backend"),
    ],
)
def test_bad_input_exits_2_with_a_message_before_training(tmp_path, capsys, args, match):
    start = time.monotonic()
    assert main(["sweep", *TINY, *args, "--out", str(tmp_path / "out")]) == 2
    assert match in capsys.readouterr().err
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def test_force_and_extend_together_are_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["sweep", *TINY, "--force", "--extend", "--out", str(tmp_path)])
    assert "not allowed with argument" in capsys.readouterr().err
