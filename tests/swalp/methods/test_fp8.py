"""The ``fp8`` method and the ``--loss-scale`` option: refusals before training, the record's
loss-scaling history and cost, bit-identical resume, a run stopped at the floor, the sweep."""

from __future__ import annotations

import json

import pytest
import torch

from swalp.cli import main
from swalp.experiments import RunConfig, run_experiment
from swalp.quantizer import NonFiniteError
from swalp.runio.checkpoint import load_checkpoint

FP8 = dict(task="mnist1d-cnn", method="fp8", formats="fp8_e5m2", rounding="nearest", epochs=3, train_size=400,
           batch_size=50)


def fp8(**options):
    return RunConfig(**FP8, method_options=options)


@pytest.mark.parametrize("changes, message", [
    (dict(formats="bfp8"), "role W's format bfp8 is not a float format"),
    (dict(formats={"W": "fp8_e5m2", "A": "fixed(8,4)", "E": "fp8_e5m2", "G": "fp8_e5m2"}),
     "role A's format fixed\\(8,4\\) is not a float format"),
    (dict(rounding="stochastic"), "rounds weights and activations to nearest .* role W has stochastic"),
    (dict(task="linreg", train_size=None), "task linreg has none"),
    (dict(method_options={"loss_scale": "dynamic:init=0"}), r"loss_scale \(--loss-scale\): loss scale"),
    (dict(method_options={"loss_scale": "enhanced"}), "enhanced needs its floor schedule"),
    (dict(method_options={"master_rounding": "up"}), "master_rounding .* must be one of stochastic, nearest"),
    (dict(method_options={"master_format": "fp7"}), "master_format .* unknown format 'fp7'"),
    (dict(method_options={"stats_every": 0}), "stats_every .* must be a positive integer"),
    (dict(formats={"W": "fp8_e5m2", "A": "fp8_e5m2", "E": "fp32", "G": "fp8_e5m2"},
          method_options={"loss_scale": "static:8"}), "E=fp32 nothing underflows"),
    (dict(method="sgd-lp", formats="bfp8", rounding="stochastic", method_options={"loss_scale": "dynamic"}),
     "nothing to do with errors in a block format"),
    (dict(method="sgd-lp", formats="fixed(8,6)", method_options={"loss_scale": "dynamic"}),
     "role E's format fixed\\(8,6\\) saturates"),
    (dict(method="sgd-fp", method_options={"loss_scale": "dynamic"}), "does not apply to method sgd-fp"),
])
def test_bad_method_and_format_pairs_are_refused_before_training(changes, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{**FP8, **changes}).resolved()


def test_record_holds_master_weights_in_role_m_the_loss_scaling_history_and_its_cost(tmp_path):
    config = fp8(loss_scale="dynamic:init=2^20,interval=4", stats_every=5)
    record = run_experiment(config, tmp_path / "scaled")
    assert record["formats"] == dict.fromkeys("WAEG", "fp8_e5m2") | {"M": "fp16"}
    assert record["rounding"] == {"W": "nearest", "A": "nearest", "E": "nearest", "G": "nearest",
                                  "M": "stochastic"}
    scaling = record["loss_scaling"]
    assert scaling["scaler"]["kind"] == "dynamic" and scaling["scaler"]["steps"] == 3 * 8
    assert scaling["statistics"]["layers"] == ["features.1", "features.3", "features.5", "output"]
    rows = scaling["history"]
    every_5 = [r for r in rows if r["layers"] is not None]
    assert [r["step"] for r in every_5] == list(range(0, 24, 5))
    skipped = [r for r in rows if r["skipped"]]
    assert skipped and len(skipped) == scaling["scaler"]["skipped"]  # every skipped step has a row
    assert skipped[0]["scale"] == 2.0**20 and skipped[0]["overflow_at"].startswith(("layer ", "gradient of "))
    for row in every_5:
        for layer in row["layers"].values():
            assert 0 <= layer["underflow"] <= layer["underflow_of_nonzero"] <= 1
            assert 0 <= layer["overflow"] <= 1
    plain = run_experiment(fp8(loss_scale="none"), tmp_path / "plain")
    assert "scaler" in plain["loss_scaling"] and plain["loss_scaling"]["scaler"] is None
    assert all("scale" not in r for r in plain["loss_scaling"]["history"])
    # the unscaling of every weight gradient is element-wise work the step pays for
    assert record["cost"]["energy_pj_per_step"] > plain["cost"]["energy_pj_per_step"]
    assert record["cost"]["cycles_per_step"] > plain["cost"]["cycles_per_step"]


def test_sgd_lp_takes_the_loss_scale_too_and_without_it_its_record_is_unchanged(tmp_path):
    base = dict(FP8, method="sgd-lp", formats={"W": "fp8_e5m2", "A": "fp8_e5m2", "E": "fp8_e5m2",
                                               "G": "fp8_e5m2", "M": "fp16"}, epochs=1)
    record = run_experiment(RunConfig(**base, method_options={"loss_scale": "static:2^8"}), tmp_path / "a")
    scaler = record["loss_scaling"]["scaler"]
    assert scaler == {"kind": "static", "steps": 8, "skipped": 0, "floor_overflows": 0}
    assert "loss_scaling" not in run_experiment(RunConfig(**base), tmp_path / "b")


def test_resume_after_a_kill_is_bit_identical_scaler_and_history_included(tmp_path, run_killed):
    config = fp8(loss_scale="enhanced:floors=0:2^10/12:2^14,init=2^22,interval=3", stats_every=3)
    whole = run_experiment(config, tmp_path / "whole")
    assert whole["loss_scaling"]["scaler"]["skipped"] > 0  # the sequence skips and grows
    run_killed(config, tmp_path / "killed", 1)
    resumed = run_experiment(config, tmp_path / "killed", resume=True)
    a = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for key, state in a["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"]["state"][key][name]), (key, name)
    assert a["stream"] == b["stream"] and a["loss_scaling"] == b["loss_scaling"]
    assert resumed["loss_scaling"] == whole["loss_scaling"]
    assert resumed["final"]["test_error"] == whole["final"]["test_error"]


def test_errors_overflowing_at_the_floor_stop_the_run_naming_step_and_layer_keeping_the_checkpoint(tmp_path):
    config = fp8(loss_scale="enhanced:floors=0:1/16:2^30,init=1,patience=0")  # epoch 3: the floor jumps
    with pytest.raises(NonFiniteError, match=r"step 17 \(layer output\): the step overflowed \(inf/NaN "
                                             r"gradients\) 1 times in a row with the loss scale at its floor "
                                             r"1\.07374e\+09.*last good checkpoint: .*checkpoint\.pt "
                                             r"\(epoch 2\)"):
        run_experiment(config, tmp_path)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 2
    assert json.loads((tmp_path / "record.json").read_text())["status"] == "running"


def test_a_sweep_runs_the_fp8_method_with_its_options(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--task", "mnist1d-cnn", "--methods", "sgd-fp,fp8", "--formats", "fp8_e5m2",
            "--rounding", "nearest", "--loss-scale", "dynamic", "--master-rounding", "nearest",
            "--epochs", "1", "--train-size", "200", "--workers", "1", "--no-plot", "--out", str(out)]
    assert main(args) == 0
    assert "2 points: 0 already finished, 2 finished and 0 failed now" in capsys.readouterr().out
    points = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    point = next(p for p in points if p["config"]["method"] == "fp8")
    assert point["status"] == "ok" and point["config"]["method_options"]["loss_scale"] == "dynamic"
    assert point["result"]["rounding"]["M"] == "nearest"
    assert point["result"]["loss_scaling"]["scaler"]["kind"] == "dynamic"


def test_loss_scaling_options_at_their_defaults_stay_out_of_the_config_dict():
    base = dict(FP8, method="sgd-lp", formats="fp8_e5m2")
    assert "method_options" not in RunConfig(**base).resolved().to_dict()  # old sgd-lp keys unchanged
    scaled = RunConfig(**base, method_options={"loss_scale": "static:8"}).resolved().to_dict()
    assert scaled["method_options"] == {"loss_scale": "static:8"}
    assert fp8().resolved().to_dict()["method_options"] == {"master_format": "fp16",
                                                            "master_rounding": "stochastic"}
