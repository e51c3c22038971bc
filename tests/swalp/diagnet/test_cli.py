"""``swalp diagnet study`` and ``swalp diagnet formats``: tables, files, reuse of run records,
refusal of bad input, and the README's worked example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from swalp.cli import main
from swalp.sweep.store import read_csv

SMALL = ["--n", "20", "--d", "50", "--seed", "0"]
README = Path(__file__).resolve().parents[3] / "README.md"


def test_study_prints_the_ratio_table_writes_records_and_figures_and_reuses_runs(tmp_path, capsys):
    args = ["diagnet", "study", *SMALL, "--alphas", "0.01,10", "--target", "80", "--out", str(tmp_path)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "max margins: l1 0.3264, l2 1.3604" in text and "eps=1e-30" in text and "eps=1e-100" not in text
    assert re.search(r"^ *0\.01 .* target", text, re.M) and re.search(r"^ *10 .* target", text, re.M)
    rows = read_csv(tmp_path / "study.csv")
    assert {row["alpha"] for row in rows} == {0.01, 10.0}
    assert {"log_inv_eps", "r1", "r2", "gamma1", "gamma2", "swamped"} <= set(rows[0])
    for ext in ("png", "pdf"):
        assert (tmp_path / f"margins.{ext}").stat().st_size > 1000
    records = sorted((tmp_path / "runs").glob("*.json"))
    assert [p.name for p in records] == ["float64-alpha0.01.json", "float64-alpha10.json"]
    stamps = [p.stat().st_mtime_ns for p in records]
    assert main(args) == 0                                   # same runs: records reused, same table
    assert capsys.readouterr().out == text
    assert [p.stat().st_mtime_ns for p in records] == stamps
    assert main([*args[:-2], "--loss-step", "0.05", "--out", str(tmp_path)]) == 0   # another config
    assert [p.stat().st_mtime_ns for p in records] != stamps


def test_formats_prints_the_markdown_table_and_writes_it(tmp_path, capsys):
    assert main(["diagnet", "formats", *SMALL, "--alphas", "1", "--formats", "fp16,fp8_e5m2",
                 "--roundings", "nearest", "--target", "50", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "| 1 | fp16 | nearest | 1e-6 | loss underflow |" in text
    assert "| 1 | fp8_e5m2 | nearest | 20 | swamped | 1 | 0.000 / 0.000 | - | not separating |" in text
    assert (tmp_path / "formats.md").read_text().splitlines()[0].startswith("| alpha | format |")
    assert [row["format"] for row in read_csv(tmp_path / "formats.csv")] == ["fp16", "fp8_e5m2"]
    assert (tmp_path / "formats.png").stat().st_size > 1000


@pytest.mark.parametrize(("args", "match"), [
    (["study", "--alphas", "0.1,x"], "--alphas must be comma-separated numbers, got '0.1,x'"),
    (["study", "--alphas", "-1"], "alpha .* must be a positive finite number, got -1.0"),
    (["study", "--n", "1"], "n must be at least 2 samples, got 1"),
    (["study", "--k", "200"], r"k \(teacher nonzeros\) must be at most d = 100"),
    (["study", "--depth", "1"], "depth must be an integer >= 2, got 1"),
    (["study", "--target", "0"], "target_log_inv_eps must be a positive finite number"),
    (["formats", "--formats", "fp9"], "unknown format"),
    (["formats", "--roundings", "round"], "rounding must be one of nearest"),
    (["formats", "--formats", ","], "--formats must name at least one entry"),
    (["formats", "--max-steps", "0"], "--max-steps must be a positive integer, got 0"),
    (["formats", "--alphas", "300", "--formats", "fp16"], r"alpha\*\*depth = 90000 overflows fp16"),
])
def test_bad_input_exits_2_naming_the_problem(tmp_path, capsys, args, match):
    assert main(["diagnet", *args, "--out", str(tmp_path)]) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


def test_the_readme_worked_example_is_what_the_code_prints(tmp_path, capsys):
    block = re.search(r"```console\n\$ (swalp diagnet study [^\n]*)\n(.*?)```", README.read_text(), re.S)
    command, shown = block.group(1), block.group(2)
    args = shlex.split(command)[1:]
    out = args[args.index("--out") + 1]
    args[args.index("--out") + 1] = str(tmp_path / out)
    assert main(args) == 0
    printed = capsys.readouterr().out.replace(str(tmp_path / out), out)
    assert printed == shown
