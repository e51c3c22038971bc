"""run_experiment: record schema, determinism, bit-identical resume, divergence handling and
bad input rejected before any training."""

import json

import pytest
import torch

from swalp import experiments
from swalp.experiments import RunConfig, RunExistsError, run_experiment
from swalp.quantizer import NonFiniteError
from swalp.runio.checkpoint import load_checkpoint
from swalp.tasks import Task

CNN = dict(task="digits-vgg", method="swalp", epochs=3, swa_start=1, batch_size=256)
LINREG = dict(task="linreg", epochs=3, swa_start=1, batch_size=64)


def test_record_has_config_per_epoch_metrics_final_and_cost(tmp_path):
    record = run_experiment(RunConfig(**CNN), tmp_path)
    assert record["task"] == "digits-vgg" and record["method"] == "swalp" and record["seed"] == 0
    assert record["formats"] == dict.fromkeys("WAEGM", "bfp8")
    assert record["rounding"] == dict.fromkeys("WAEGM", "stochastic")
    assert record["config"]["epochs"] == 3 and record["config"]["swa_start"] == 1
    assert [row["epoch"] for row in record["epochs"]] == [1, 2, 3]
    # swa_start 1: the first average is the iterate at the end of epoch 0 (both reference codes)
    assert record["epochs"][0]["swa_test_error"] is not None
    final = record["final"]
    assert final["test_error"] == record["epochs"][-1]["test_error"]  # the low-precision iterate
    assert final["swa_test_error"] == record["epochs"][-1]["swa_test_error"]
    assert 0 <= final["test_error"] <= 100 and 0 <= final["swa_test_error"] <= 100
    assert 0 <= final["swa_lp_test_error"] <= 100
    assert final["dist_to_opt"] is None  # classification: no optimum
    cost = record["cost"]
    assert cost["accelerator"] == "tpu_v1" and cost["cycles_per_step"] > 0 and cost["energy_pj_per_step"] > 0
    assert cost["speedup_vs_fp32"] > 1 and cost["energy_ratio_vs_fp32"] > 1  # 8-bit beats fp32
    assert 8 < record["bits_per_element"]["W"] < 8.1
    assert record["wall_time_s"] > 0
    assert json.loads((tmp_path / "record.json").read_text())["status"] == "finished"


def test_full_precision_methods_record_fp32_and_cost_ratio_one():
    record = run_experiment(RunConfig(method="sgd-fp", **LINREG))
    assert record["formats"] == dict.fromkeys("WAEGM", "fp32")
    assert record["cost"]["speedup_vs_fp32"] == 1.0 and record["cost"]["energy_ratio_vs_fp32"] == 1.0
    final = record["final"]
    assert final["swa_test_error"] is None and final["dist_to_opt"] == final["iterate_dist_to_opt"] > 0


def test_regression_distance_is_of_the_returned_model_the_average_when_averaging():
    record = run_experiment(RunConfig(method="swalp", **LINREG))
    final, last = record["final"], record["epochs"][-1]
    assert final["dist_to_opt"] == last["swa_dist_to_opt"]
    assert final["iterate_dist_to_opt"] == last["dist_to_opt"]
    assert record["formats"] == {"W": "bfp8", "A": "fp32", "E": "fp32", "G": "bfp8", "M": "bfp8"}


def test_same_seed_same_bits_other_seed_other_bits(tmp_path):
    runs = [run_experiment(RunConfig(**LINREG, seed=s), tmp_path / str(i)) for i, s in enumerate((1, 1, 2))]
    weights = [load_checkpoint(tmp_path / str(i) / "checkpoint.pt")["model"]["weight"] for i in range(3)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    assert runs[0]["epochs"] == [dict(r, time_s=r2["time_s"]) for r, r2 in
                                 zip(runs[1]["epochs"], runs[0]["epochs"], strict=True)]


def test_resume_after_a_kill_ends_bit_identical_to_an_uninterrupted_run(tmp_path, run_killed):
    config = RunConfig(**CNN)
    run_experiment(config, tmp_path / "whole")
    run_killed(config, tmp_path / "killed", 2)
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["epoch"] == 2
    record = run_experiment(config, tmp_path / "killed", resume=True)
    whole = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    resumed = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    for key in ("model", "averager"):
        for name, tensor in whole[key].items():
            assert torch.equal(tensor, resumed[key][name]), (key, name)
    assert resumed["stream"] == whole["stream"]
    assert record["final"]["swa_lp_test_error"] == json.loads(
        (tmp_path / "whole" / "record.json").read_text())["final"]["swa_lp_test_error"]


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = Task.loss
    steps_per_epoch = 1024 // 64

    def poisoned(self, output, target):
        calls["n"] += 1
        loss = original(self, output, target)
        return loss * float("nan") if calls["n"] > steps_per_epoch + 3 else loss

    monkeypatch.setattr(Task, "loss", poisoned)
    with pytest.raises(NonFiniteError, match=r"loss is nan at epoch 2, step 19; last good checkpoint"):
        run_experiment(RunConfig(method="sgd-lp", **LINREG), tmp_path)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1
    assert json.loads((tmp_path / "record.json").read_text())["status"] == "running"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "mnist"}, "unknown task 'mnist'; tasks are .*digits-vgg"),
        ({"method": "adam"}, "unknown method 'adam'; methods are " + ", ".join(experiments.METHODS)),
        ({"formats": {"W": "bfp99"}}, "format of role W"),
        ({"formats": {"Q": "bfp8"}}, "unknown role 'Q'"),
        ({"swa_start": 3}, r"swa_start must be in \[1, epochs - 1\]"),
        ({"task": "cifar10-vgg16"}, "needs data_dir"),
        ({"rounding": "randomly"}, "rounding of role W"),
    ],
)
def test_bad_input_is_rejected_before_training(changes, message, monkeypatch):
    monkeypatch.setattr(experiments.runner, "Run", None)  # any training attempt would fail differently
    with pytest.raises(ValueError, match=message):
        run_experiment(RunConfig(**{**LINREG, "method": "swalp", **changes}))


def test_missing_cifar_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/data_batch_1"):
        run_experiment(RunConfig(task="cifar10-vgg16", data_dir=str(tmp_path)))


def test_finished_run_is_not_overwritten_without_force_and_resume_checks_the_config(tmp_path):
    config = RunConfig(method="sgd-lp", **LINREG)
    record = run_experiment(config, tmp_path)
    with pytest.raises(RunExistsError, match="pass force=True to overwrite it or resume=True"):
        run_experiment(config, tmp_path)
    assert run_experiment(config, tmp_path, resume=True) == json.loads((tmp_path / "record.json").read_text())
    assert run_experiment(config, tmp_path, resume=True)["final"] == record["final"]
    with pytest.raises(ValueError, match=r"record.json is from a different config.*lr"):
        run_experiment(RunConfig(method="sgd-lp", lr=0.5, **LINREG), tmp_path, resume=True)
    with pytest.raises(ValueError, match=r"different config.*lr"):
        run_experiment(RunConfig(method="sgd-lp", lr=0.5, **LINREG), tmp_path, resume=True, force=True)
    assert run_experiment(config, tmp_path, force=True)["status"] == "finished"


def test_config_round_trips_through_json():
    config = RunConfig(task="logreg", method="swalp", formats={"W": "bfp(8,axis=0)", "A": "fp32"}, seed=3)
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again.to_dict() == config.to_dict()
    with pytest.raises(ValueError, match="unknown RunConfig fields"):
        RunConfig.from_dict({"tsk": "linreg"})


def test_run_many_gives_the_same_records_in_worker_processes():
    configs = [RunConfig(method=m, **LINREG) for m in ("sgd-lp", "swalp")]
    here, pool = experiments.run_many(configs, jobs=1), experiments.run_many(configs, jobs=2)
    for a, b in zip(here, pool, strict=True):
        assert [dict(r, time_s=0) for r in a["epochs"]] == [dict(r, time_s=0) for r in b["epochs"]]
        assert a["final"] == b["final"]
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        experiments.run_many(configs, jobs=0)
