"""accel-model command line: SCALE-Sim-style reports, energy report, torch models, bad input."""

import csv
import json

from accel_model.cli import main
from tests.accel_model.golden import DATA, golden

SCALE_CFG = """[general]
run_name = cli_test

[architecture_presets]
ArrayHeight: 16
ArrayWidth: 8
IfmapSramSzkB: 64
FilterSramSzkB: 64
OfmapSramSzkB: 64
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 10
Dataflow : os

[run_presets]
InterfaceBandwidth: CALC
"""


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_topology_run_writes_scalesim_columns_equal_to_scalesim(tmp_path, capsys):
    cfg = tmp_path / "a.cfg"
    cfg.write_text(SCALE_CFG)
    out = tmp_path / "out"
    assert (
        main(["--config", str(cfg), "--topology", str(DATA / "topologies/tiny_conv.csv"), "--out", str(out)])
        == 0
    )
    assert "total" in capsys.readouterr().out
    ours = read(out / "COMPUTE_REPORT.csv")
    theirs = [
        c
        for c, _, _ in golden()
        if (c["topology"], c["rows"], c["cols"], c["dataflow"], c["mode"])
        == ("tiny_conv", "16", "8", "os", "CALC")
    ]
    assert [r["Total Cycles"] for r in ours] == [r["Total Cycles"] for r in theirs]
    access = read(out / "DETAILED_ACCESS_REPORT.csv")
    assert [a["DRAM IFMAP Reads"] for a in access] == [
        str(int(float(a["DRAM IFMAP Reads"])))
        for c, _, a in golden()
        if (c["topology"], c["rows"], c["cols"], c["dataflow"], c["mode"])
        == ("tiny_conv", "16", "8", "os", "CALC")
    ]
    energy = read(out / "ENERGY_REPORT.csv")
    assert len(energy) == len(ours) and float(energy[0]["Total Energy (pJ)"]) > 0
    assert json.loads((out / "report.json").read_text())["accelerator"]["dataflow"] == "os"


def test_dataflow_override_formats_and_compare(tmp_path):
    cfg = tmp_path / "a.cfg"
    cfg.write_text(SCALE_CFG)
    out = tmp_path / "out"
    argv = [
        "--config",
        str(cfg),
        "--topology",
        str(DATA / "topologies/tiny_gemm.csv"),
        "--dataflow",
        "ws",
        "--formats",
        "weights=bfp8",
        "activations=fp8_e4m3",
        "--compare",
        "fp32",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accelerator"]["dataflow"] == "ws"
    assert report["formats"]["weights"] == "bfp8" and report["formats"]["activations"] == "fp8_e4m3"
    total = read(out / "comparison.csv")[-1]
    # the default fp32 baseline has native fp32 MACs: as fast with ideal bandwidth, 4x the bytes
    assert total["Layer"] == "total" and float(total["Speedup"]) == 1 and float(total["Energy Ratio"]) > 1
    assert main([*argv[:-3], "fp32-emulated", "--out", str(out)]) == 0  # 16 passes of the int8 array
    assert float(read(out / "comparison.csv")[-1]["Speedup"]) > 10


def test_torch_training_run(tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "--torch",
        "tests.accel_model.models:small_cnn",
        "--input",
        "1,3,8,8",
        "--training",
        "--swa-cycle",
        "2",
        "--preset",
        "edge32",
        "--formats",
        "bfp8",
        "--rounding",
        "stochastic",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    names = [r["Layer"] for r in read(out / "COMPUTE_REPORT.csv")]
    assert names[:3] == ["0", "2", "4"] and "4.bwd_weight" in names and "4.swa" in names
    assert "0.bwd_data" not in names


def test_bad_input_exits_2_with_a_message(tmp_path, capsys):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(SCALE_CFG.replace("Dataflow : os", "Dataflow : rs"))
    assert main(["--config", str(cfg), "--topology", str(DATA / "topologies/tiny_gemm.csv")]) == 2
    assert "Dataflow must be one of" in capsys.readouterr().err
    assert main(["--torch", "tests.accel_model.models:small_cnn"]) == 2
    assert "--input is required" in capsys.readouterr().err
    assert main(["--topology", str(DATA / "topologies/tiny_gemm.csv"), "--formats", "weights=nope"]) == 2
    assert "role 'weights'" in capsys.readouterr().err


def test_unsupported_torch_layers_fail_by_name_or_are_skipped_and_reported(tmp_path, capsys):
    argv = ["--torch", "tests.accel_model.models:lstm_model", "--input", "3,1,4", "--preset", "edge32"]
    assert main(argv) == 2
    assert "unsupported layers" in (err := capsys.readouterr().err) and "rnn (LSTM)" in err
    out = tmp_path / "out"
    assert main([*argv, "--skip-unsupported", "--out", str(out)]) == 0
    assert "skipped (unsupported, not estimated): rnn (LSTM)" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["skipped"] == ["rnn (LSTM)"]
    assert [r["Layer"] for r in read(out / "COMPUTE_REPORT.csv")] == ["head"]
