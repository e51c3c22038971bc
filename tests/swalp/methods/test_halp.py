"""SVRG and HALP (swalp.methods.svrg, swalp.methods.halp), against the algorithm of
HazyResearch/torchhalp (torchhalp/optim/halp.py, torchhalp/optim/svrg.py, torchhalp/quantize.py;
their own check is test/test_halp.py's numpy ``baseline_halp``): a hand-written float32 reference
reproduces a run bit for bit; the scale, the clamp, the re-centring; linear convergence where
low-precision SGD stalls; refusals; resume; sweeps."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from swalp import tasks
from swalp.cli import build_parser, main
from swalp.commands.sweep import spec_from_args
from swalp.data import Batches, Dataset
from swalp.experiments import RunConfig, run_experiment
from swalp.methods.halp import offset_scale
from swalp.runio.checkpoint import load_checkpoint
from swalp.sweep.grid import expand_grid

# one nonzero feature per example (every dot product is one rounded product) and 4 examples (the
# mean's 1/4 is exact): numpy and torch compute the same float32 numbers whatever their order
X = np.array([[1.0, 0.0], [0.0, 2.0], [-1.5, 0.0], [0.0, -0.5]], dtype=np.float32)
Y = np.array([3.0, -5.0, 0.5, 1.25], dtype=np.float32)
TINY = "tiny-halp-test"
README = Path(__file__).resolve().parents[3] / "README.md"
LP = {"W": "fixed(4,2)", "G": "fp32", "M": "fp32"}  # b = 4: codes in [-8, 7]


@pytest.fixture
def tiny(monkeypatch):
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    task = tasks.Task(TINY, "4 examples, 2 features", tasks.REGRESSION, lambda d: Dataset(x, y, x, y),
                      lambda: nn.Linear(2, 1, bias=False),
                      dict(epochs=4, batch_size=1, lr=0.125, swa_lr=0.125, swa_start=1, momentum=0.0,
                           weight_decay=0.25, schedule="constant"), convex=True)
    monkeypatch.setitem(tasks.TASKS, TINY, task)


def tiny_config(method, **changes):
    options = {"svrg_period": 2} | ({"halp_mu": 8.0} if method == "halp" else {})
    return RunConfig(**{"task": TINY, "method": method, "formats": LP, "rounding": "nearest",
                        "method_options": options, "log_every": 1, **changes})


WD, LR = np.float32(0.25), np.float32(0.125)


def gradient(w, x, y):
    """Gradient of mean 0.5 (x.w - y)^2 + WD/2 |w|^2 over the rows of x, in float32."""
    residual = (x @ w - y) / np.float32(len(y))
    return residual @ x + WD * w


def reference(method, epochs=4, lr=LR, period=2, mu=8.0, bits=4):
    """torchhalp's SVRG / HALP with nearest rounding, written out in numpy float32."""
    torch.manual_seed(0)
    w = nn.Linear(2, 1, bias=False).weight.detach().numpy()[0].copy()
    anchor, z, full, s = w.copy(), np.zeros(2, np.float32), None, None
    batches = Batches(torch.from_numpy(X), torch.from_numpy(Y), 1, seed=0)
    trace, saturated = [], 0
    t = 0
    for epoch in range(epochs):
        for xb, yb in batches.epoch(epoch):
            xb, yb = xb.numpy(), yb.numpy()
            if t % period == 0:  # outer loop: re-centre, full gradient, rescale, z = 0
                anchor = anchor + z if method == "halp" else w.copy()
                full = gradient(anchor, X, Y)
                norm = float(np.linalg.norm(full.astype(np.float64)))
                s = np.float32(norm / (mu * (2.0 ** (bits - 1) - 1)))
                z = np.zeros(2, np.float32)
            current = anchor + z if method == "halp" else w
            u = (gradient(current, xb, yb) - gradient(anchor, xb, yb)) + full
            if method == "halp":
                codes = np.rint((z - lr * u) / s)
                saturated += int(np.sum((codes < -(2 ** (bits - 1))) | (codes > 2 ** (bits - 1) - 1)))
                z = np.clip(codes, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(np.float32) * s
                w = anchor + z
            else:
                w = w - lr * u
            trace.append(w.copy())
            t += 1
    return trace, saturated


def test_halp_is_the_hand_written_algorithm_bit_for_bit(tiny):
    record = run_experiment(tiny_config("halp"))
    trace, saturated = reference("halp")
    assert saturated > 0  # the clamp was exercised
    steps = record["steps"]
    assert len(steps) == len(trace) == 16
    optimum = tasks.optimum(TINY, 0.25).numpy()
    for row, w in zip(steps, trace, strict=True):
        assert row["dist_to_opt"] == float(np.sum((w.astype(np.float64) - optimum) ** 2))
    state = record["variance_reduced"]
    assert state["full_gradient_passes"] == 8 and state["offset_bits"] == 4


def test_svrg_fp_is_the_hand_written_algorithm_bit_for_bit(tiny):
    record = run_experiment(tiny_config("svrg-fp"))
    trace, _ = reference("svrg-fp")
    optimum = tasks.optimum(TINY, 0.25).numpy()
    assert [row["dist_to_opt"] for row in record["steps"]] == [
        float(np.sum((w.astype(np.float64) - optimum) ** 2)) for w in trace]


def test_scale_is_the_full_gradients_norm_over_mu_times_the_largest_code():
    g = torch.tensor([3.0, -4.0])
    assert float(offset_scale(g, 4.0, 8)) == pytest.approx(5.0 / (4.0 * 127))
    assert float(offset_scale(g, 0.5, 2)) == pytest.approx(5.0 / 0.5)
    assert float(offset_scale(torch.zeros(3), 1.0, 8)) == 0.0


def test_halp_offset_is_reset_and_the_anchor_recentred_every_period(tiny):
    record = run_experiment(tiny_config("halp", epochs=2, log_every=None))
    assert record["variance_reduced"]["full_gradient_passes"] == 4  # before steps 1, 3, 5, 7 of 8
    scales = run_experiment(tiny_config("halp", epochs=2))["steps"]
    # the scale changes only where an outer loop starts
    changes = [i + 1 for i in range(1, len(scales)) if scales[i]["scale"] != scales[i - 1]["scale"]]
    assert set(changes) <= {3, 5, 7} and changes


def test_halp_converges_linearly_where_low_precision_sgd_and_svrg_stall():
    common = dict(task="linreg", formats={"W": "fixed(8,6)", "G": "fp32", "M": "fp32"}, epochs=8,
                  batch_size=32, lr=0.1, log_every=32)
    halp = run_experiment(RunConfig(method="halp", method_options={"halp_mu": 1.0}, **common))
    floors = {m: run_experiment(RunConfig(method=m, **common))["final"]["dist_to_opt"]
              for m in ("sgd-lp", "svrg-lp")}
    distances = [row["dist_to_opt"] for row in halp["steps"]]  # one per outer loop (T = one epoch)
    assert all(b < a / 5 for a, b in itertools.pairwise(distances))  # at least a constant factor per loop
    assert distances[-1] < 1e-7 and min(floors.values()) > 1e-3


@pytest.mark.parametrize(("method", "changes", "message"), [
    ("halp", {"formats": "bfp8"}, "W's format must be signed fixed point"),
    ("halp", {"formats": "fp8_e4m3"}, "W's format must be signed fixed point"),
    ("halp", {"formats": "fp32"}, "W's format must be signed fixed point"),
    ("halp", {"method_options": {"halp_mu": 0.0}}, r"halp_mu \(--halp-mu\) must be a finite number > 0"),
    ("halp", {"method_options": {"halp_mu": -1.0}}, r"halp_mu \(--halp-mu\) must be a finite number > 0"),
    ("svrg-lp", {"method_options": {"svrg_period": 0}}, r"svrg_period \(--svrg-period\) must be a positive"),
    ("svrg-fp", {"method_options": {"halp_mu": 1.0}}, "does not apply to method svrg-fp"),
    ("svrg-fp", {"momentum": 0.9}, "momentum must be unset"),
    ("halp", {"task": "digits-vgg"}, "runs on the convex tasks only"),
])
def test_bad_options_are_refused_before_training(method, changes, message):
    config = dict(task="linreg", method=method, formats="fixed(8,6)") | changes
    with pytest.raises(ValueError, match=message):
        RunConfig(**config).resolved()


def test_halp_resumes_bit_identical(tmp_path, run_killed):
    config = RunConfig(task="linreg", method="halp", formats={"W": "fixed(6,4)", "G": "fp32", "M": "fp32"},
                       epochs=3, method_options={"svrg_period": 50, "halp_mu": 1.0}, log_every=10)
    whole = run_experiment(config, tmp_path / "whole")
    run_killed(config, tmp_path / "killed", 1)
    resumed = run_experiment(config, tmp_path / "killed", resume=True)
    assert resumed["steps"] == whole["steps"] and resumed["final"] == whole["final"]
    a, b = (load_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("whole", "killed"))
    assert a["stream"] == b["stream"]
    for name in ("anchor", "offset", "scale", "full_gradient"):
        assert all(torch.equal(x, y) for x, y in zip(a["variance_reduced"][name], b["variance_reduced"][name],
                                                      strict=True)), name


def test_cost_amortises_the_full_gradient_pass_over_the_period():
    record = run_experiment(RunConfig(task="linreg", method="halp", formats="fixed(8,6)", epochs=1,
                                      method_options={"svrg_period": 64}))
    cost = record["cost"]
    assert cost["period"] == 64 and cost["gradients_per_step"] == 2
    assert cost["cycles_per_step"] == pytest.approx(cost["inner_cycles"] + cost["outer_cycles"] / 64)
    fp = run_experiment(RunConfig(task="linreg", method="svrg-fp", epochs=1,
                                  method_options={"svrg_period": 64}))
    assert fp["cost"]["speedup_vs_fp32"] == 1.0 and "full-precision SVRG" in fp["cost"]["baseline"]
    assert math.isclose(cost["speedup_vs_fp32"], fp["cost"]["cycles_per_step"] / cost["cycles_per_step"])


def test_sweep_accepts_the_methods_and_gives_each_its_options(tmp_path):
    args = build_parser().parse_args(["sweep", "--task", "linreg", "--methods", "sgd-lp,svrg-fp,svrg-lp,halp",
                                      "--formats", "fixed:6..8", "--roles", "W", "--svrg-period", "64",
                                      "--halp-mu", "2", "--out", str(tmp_path)])
    points = expand_grid(spec_from_args(args))
    by_method = {}
    for point in points:
        by_method.setdefault(point["config"]["method"], []).append(point["config"])
    assert len(by_method["svrg-fp"]) == 1 and len(by_method["halp"]) == 3
    assert by_method["halp"][0]["method_options"] == {"svrg_period": 64, "halp_mu": 2.0}
    assert by_method["svrg-lp"][0]["method_options"] == {"svrg_period": 64}
    assert "method_options" not in by_method["sgd-lp"][0]


def test_readme_halp_example_is_what_the_code_gives(tmp_path):
    assert main(["train", "--task", "linreg", "--method", "halp", "--formats", "W=fixed(8,6)", "--halp-mu",
                 "1", "--epochs", "8", "--batch-size", "32", "--lr", "0.1", "--log-every", "32", "--out",
                 str(tmp_path)]) == 0
    record = json.loads((tmp_path / "record.json").read_text())
    distances = ", ".join(str(round(math.log10(s["dist_to_opt"]) / 2, 2)) for s in record["steps"])
    readme = README.read_text()
    assert distances in " ".join(readme.split())
    assert f'"full_gradient_passes": {record["variance_reduced"]["full_gradient_passes"]}' in readme
