"""``--loss-scale adaptive`` in runs: the low-precision methods and ``fp8`` take it, the record
keeps each layer's scales next to the error statistics and counts the scaling work in the step
cost, a resumed run is bit-identical (the scaler's reused statistics included), and formats it
cannot scale are refused before training."""

from types import SimpleNamespace

import pytest
import torch

from swalp.experiments import RunConfig, run_experiment
from swalp.methods.loss_scaling import scaled_step
from swalp.models_1d import MNIST1DMLP
from swalp.runio.checkpoint import load_checkpoint

E5M2_ERRORS = dict(task="mnist1d-mlp", method="sgd-lp", formats={"W": "fp32", "A": "fp32", "E": "fp8_e5m2",
                                                                  "G": "fp32", "M": "fp32"},
                   rounding="nearest", epochs=3, train_size=400, batch_size=50)


def test_resume_after_a_kill_is_bit_identical_with_statistics_reused_across_the_cut(tmp_path, run_killed):
    # 8 steps per epoch, statistics every 3 steps: the cut after epoch 1 falls between two recomputations
    config = RunConfig(**dict(E5M2_ERRORS, epochs=2),
                       method_options={"loss_scale": "adaptive:every=3", "stats_every": 2})
    whole = run_experiment(config, tmp_path / "whole")
    run_killed(config, tmp_path / "killed", 1)
    resumed = run_experiment(config, tmp_path / "killed", resume=True)
    a = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert a["loss_scaling"] == b["loss_scaling"] and resumed["loss_scaling"] == whole["loss_scaling"]
    scales = [row["layer_scales"] for row in whole["loss_scaling"]["history"]]
    assert {"linear1", "linear2", "classifier", "branch"} <= set(scales[0])
    assert any(layer["scale"] > 1 for row in scales for layer in row.values())


def test_fp8_takes_adaptive_scaling_and_its_cost_counts_the_scaling_work(tmp_path):
    base = dict(task="mnist1d-cnn", method="fp8", formats="fp8_e5m2", rounding="nearest", epochs=1,
                train_size=200, batch_size=50)
    adaptive = run_experiment(RunConfig(**base, method_options={"loss_scale": "adaptive:every=4"}),
                              tmp_path / "a")
    static = run_experiment(RunConfig(**base, method_options={"loss_scale": "static:2^8"}), tmp_path / "s")
    assert adaptive["loss_scaling"]["scaler"]["kind"] == "adaptive"
    row = adaptive["loss_scaling"]["history"][0]
    assert set(row["layer_scales"]) == {"features.0", "features.2", "features.4", "classifier"}
    assert row["layers"]  # the per-layer error statistics of the same step
    assert adaptive["cost"]["cycles_per_step"] > static["cost"]["cycles_per_step"]


@pytest.mark.parametrize(("errors", "message"), [("bfp8", "block format"), ("fp32", "nothing underflows")])
def test_error_formats_without_a_fixed_range_are_refused_before_training(errors, message):
    formats = dict(E5M2_ERRORS["formats"], E=errors)
    with pytest.raises(ValueError, match=message):
        RunConfig(**dict(E5M2_ERRORS, formats=formats), method_options={"loss_scale": "adaptive"}).resolved()


def test_data_parallel_runs_are_refused_since_ranks_would_mix_scales():
    config = RunConfig(**E5M2_ERRORS, method_options={"loss_scale": "adaptive", "stats_every": 10}).resolved()
    run = SimpleNamespace(config=config, specs=config.specs(), group=SimpleNamespace(world=2),
                          model=MNIST1DMLP())
    with pytest.raises(ValueError, match=r"all-reduce would sum gradients carrying different scales.*not 2"):
        scaled_step(run)
