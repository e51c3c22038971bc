"""The ``swalp`` command line: ``train`` (record, per-role formats, resume, refusing to
overwrite, clear errors) and ``demo`` (table and figure)."""

import json

from swalp.cli import main
from swalp.methods import METHODS

LINREG = ["--task", "linreg", "--epochs", "3", "--swa-start", "1", "--batch-size", "64"]


def test_train_writes_a_record_with_per_role_formats(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["train", *LINREG, "--method", "swalp", "--formats", "W=bfp8,G=fixed(8,6),M=bfp(8,axis=0)",
                   "--rounding", "W=nearest", "--out", str(out)])
    assert status == 0
    record = json.loads((out / "record.json").read_text())
    assert record["formats"] == {"W": "bfp8", "A": "fp32", "E": "fp32",  # linreg has no activations
                                 "G": "fixed(8,6)", "M": "bfp(8,axis=0)"}
    assert record["rounding"]["W"] == "nearest" and record["rounding"]["G"] == "stochastic"
    assert record["status"] == "finished" and len(record["epochs"]) == 3
    assert (out / "checkpoint.pt").is_file()
    assert "swalp" in capsys.readouterr().out


def test_train_refuses_a_finished_run_without_force_and_resume_of_another_config(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["train", *LINREG, "--method", "sgd-lp", "--out", out]) == 0
    capsys.readouterr()
    assert main(["train", *LINREG, "--method", "sgd-lp", "--out", out]) == 2
    refusal = capsys.readouterr().err
    assert "holds a finished run: --force overwrites it, --resume prints its record" in refusal
    assert main(["train", *LINREG, "--method", "sgd-lp", "--out", out, "--resume"]) == 0
    printed = capsys.readouterr()
    assert "this run is finished, nothing to resume" in printed.err and "sgd-lp" in printed.out
    other = ["train", *LINREG, "--method", "sgd-lp", "--lr", "0.5", "--out", out]
    assert main([*other, "--resume", "--force"]) == 2
    assert "different config (differs in lr)" in capsys.readouterr().err
    assert main(["train", *LINREG, "--method", "sgd-lp", "--out", out, "--force"]) == 0


def test_bad_input_exits_2_naming_the_valid_choices(tmp_path, capsys):
    cases = [
        (["--method", "adam"], "methods are " + ", ".join(METHODS)),
        (["--formats", "W=bfp99"], "format of role W: unknown format 'bfp99': expected a preset"),
        (["--formats", "X=bfp8"], "role must be one of W, A, E, G, M"),
        (["--swa-start", "3"], r"swa_start must be in [1, epochs - 1] = [1, 2]"),
        (["--protocol", "paper"], "task linreg has no paper protocol"),
    ]
    for extra, message in cases:
        assert main(["train", *LINREG, *extra, "--out", str(tmp_path / "bad")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # nothing trained, nothing written
    cifar = ["train", "--task", "cifar10-vgg16", "--data-dir", str(tmp_path), "--out", str(tmp_path / "c")]
    assert main(cifar) == 2
    assert "cifar-10-batches-py/test_batch" in capsys.readouterr().err


def test_demo_prints_the_table_and_saves_the_figure(tmp_path, capsys):
    status = main(["demo", "--epochs", "2", "--swa-start", "1", "--methods", "sgd-fp,swalp", "--jobs", "1",
                   "--out", str(tmp_path)])
    assert status == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "compiling kernels" in captured.err and "training: 100%" in captured.err  # the progress bar
    assert "energy/step uJ" in out and "speedup vs fp32" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:2] in (["sgd-fp", "fp32"],
                                                                               ["swalp", "bfp(6)"])]
    assert [row[0] for row in rows] == ["sgd-fp", "swalp"]
    assert rows[0][-2] == "1.00x" and float(rows[1][-2].rstrip("x")) > 1  # speedup of 6-bit vs fp32
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    recorded = (tmp_path / "swalp" / "record.json").read_text()
    assert main(["demo", "--epochs", "2", "--swa-start", "1", "--methods", "sgd-fp,swalp", "--jobs", "1",
                 "--out", str(tmp_path)]) == 0
    again = capsys.readouterr()
    assert "holds this demo's finished sgd-fp, swalp run(s): shown as recorded" in again.out
    assert "training" not in again.err and (tmp_path / "swalp" / "record.json").read_text() == recorded
    assert [line.split() for line in again.out.splitlines() if line.startswith("swalp  ")] == [rows[1]]


def test_demo_refuses_to_overwrite_a_finished_run_of_another_configuration(tmp_path, capsys):
    (tmp_path / "swalp").mkdir()
    record = tmp_path / "swalp" / "record.json"
    record.write_text(json.dumps({"status": "finished", "config": {"epochs": 3}}))
    assert main(["demo", "--methods", "sgd-fp,swalp", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{record} holds a finished run of another configuration: --force overwrites it" in err
    assert not (tmp_path / "sgd-fp").exists()  # refused before training
