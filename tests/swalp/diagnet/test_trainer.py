"""Training: the float64 run reproduces the alpha-vs-eps transition of Moroshko et al. (2020)
on a fixed small instance; low-precision runs stop where the format says they must."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swalp.diagnet import DiagonalNetwork, TrainConfig, make_separable, train
from swalp.diagnet.maxmargin import MaxMargins
from swalp.diagnet.numerics import Numerics
from swalp.diagnet.study import DataConfig, run_alphas, value_at

SMALL = DataConfig(n=20, d=50, k=3, seed=0)
EPS_1E300 = 300 * math.log(10)


@pytest.fixture(scope="module")
def small():
    data = SMALL.dataset()
    return data, MaxMargins.of(data.Z)


@pytest.fixture(scope="module")
def transition():
    """alpha = 0.01 and alpha = 10 trained in float64 to eps = e^-700 (below 1e-300)."""
    small_alpha, large_alpha = run_alphas(SMALL, (0.01, 10.0), target_log_inv_eps=700)
    return small_alpha, large_alpha


def test_small_alpha_approaches_the_l1_max_margin_as_eps_falls(transition):
    run = transition[0]
    r1 = [r["r1"] for r in run.records]
    assert run.stop == "target" and run.final["log_inv_eps"] >= 700
    assert np.all(np.diff(r1) > -1e-9)                                 # monotone in eps
    assert value_at(run, 2.0, "r1") < 0.75 < 0.9 < value_at(run, 50.0, "r1")
    assert value_at(run, EPS_1E300, "r1") > 0.97
    assert max(r["r2"] for r in run.records) < 0.72                    # never near l2


def test_large_alpha_stays_near_l2_until_eps_is_astronomically_small(transition):
    run = transition[1]
    for log_inv_eps in (10.0, 100.0, EPS_1E300):                       # eps = e^-10 ... 1e-300
        assert value_at(run, log_inv_eps, "r2") > 0.95
    assert value_at(run, EPS_1E300, "r2") > 0.99
    assert max(r["r1"] for r in run.records) < 0.76                    # never near l1


def test_halving_the_steps_leaves_the_trajectory_unchanged(small):
    data, margins = small
    coarse = train(data, TrainConfig(alpha=1.0, target_log_inv_eps=60), margins)
    fine = train(data, TrainConfig(alpha=1.0, target_log_inv_eps=60, loss_step=0.05,
                                   max_relative_change=0.01), margins)
    assert fine.steps > 1.8 * coarse.steps
    for log_inv_eps in (2.0, 10.0, 30.0, 59.0):
        for key in ("r1", "r2"):
            coarse_value = value_at(coarse, log_inv_eps, key)
            assert value_at(fine, log_inv_eps, key) == pytest.approx(coarse_value, abs=1e-3)


def test_depth_three_is_trained_and_its_weights_are_cubes():
    net = DiagonalNetwork.initial(4, 0.5, depth=3)
    assert np.all(net.weights() == 0)
    s = np.array([1.0, -2.0, 0.0, 3.0])
    assert net.gradient(s)[0] == pytest.approx(-3 * 0.25 * s)
    assert net.gradient(s)[1] == pytest.approx(3 * 0.25 * s)
    data = make_separable(20, 50, 3, seed=0)
    run = train(data, TrainConfig(alpha=0.5, depth=3, target_log_inv_eps=30))
    assert run.stop == "target" and run.final["gamma1"] > 0


def test_fp32_stops_when_the_loss_underflows_at_its_smallest_subnormal(small):
    data, margins = small
    run = train(data, TrainConfig(alpha=1.0, fmt="fp32"), margins)
    assert run.stop == "loss underflow"
    # every per-sample loss below 2**-150 rounds to 0: the sum L stops at about 2**-149
    assert 98 < run.final["log_inv_eps"] <= 149 * math.log(2) + 1
    assert run.final["loss_underflow"] == 1.0


def test_fp16_stops_at_a_loss_of_about_6e_8(small):
    data, margins = small
    run = train(data, TrainConfig(alpha=1.0, fmt="fp16"), margins)
    assert run.stop == "loss underflow" and run.final["log_inv_eps"] <= 24 * math.log(2) + 1


def test_keeping_the_loss_in_log_space_removes_the_loss_floor(small):
    data, margins = small
    run = train(data, TrainConfig(alpha=1.0, fmt="fp32", loss_in="log", target_log_inv_eps=150), margins)
    assert run.stop == "target" and run.final["log_inv_eps"] >= 150


def test_e5m2_with_nearest_rounding_swamps_every_small_step(small):
    data, margins = small
    nearest = train(data, TrainConfig(alpha=1.0, fmt="fp8_e5m2"), margins)
    assert nearest.stop == "swamped" and nearest.steps == 1 and nearest.swamped_total == 1.0
    stochastic = train(data, TrainConfig(alpha=1.0, fmt="fp8_e5m2", rounding="stochastic",
                                         target_log_inv_eps=3), margins)
    assert stochastic.stop == "target" and stochastic.final["gamma1"] > 0    # moves in expectation


def test_a_tiny_depth_three_gradient_underflows_in_fp16(small):
    data, margins = small
    run = train(data, TrainConfig(alpha=1e-5, depth=3, fmt="fp16"), margins)
    assert run.stop == "gradient underflow" and run.steps == 0 and run.final["grad_underflow"] == 1.0


def test_stochastic_runs_are_functions_of_their_seed(small):
    data, margins = small
    config = TrainConfig(alpha=0.1, fmt="bf16", rounding="stochastic", target_log_inv_eps=5)
    first, again = train(data, config, margins), train(data, config, margins)
    other = train(data, TrainConfig(alpha=0.1, fmt="bf16", rounding="stochastic", target_log_inv_eps=5,
                                    seed=1), margins)
    assert first.records == again.records and first.records != other.records


def test_whole_tensor_block_formats_give_each_parameter_vector_its_own_exponent():
    u = np.array([[1.0, 1e-3], [1e-3, 1e-3]])
    rounded = Numerics("bfp8").round(u)
    assert rounded[0, 1] == 0.0                      # beside 1.0, 1e-3 is below the 8-bit step
    assert rounded[1] == pytest.approx([1e-3, 1e-3], rel=0.01)   # alone, it keeps its own exponent


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha": 0.0}, "alpha .* positive finite number, got 0.0"),
    ({"alpha": math.nan}, "alpha .* positive finite number"),
    ({"alpha": 1.0, "depth": 1}, "depth must be an integer >= 2, got 1"),
    ({"alpha": 1.0, "target_log_inv_eps": -1.0}, "target_log_inv_eps must be a positive"),
    ({"alpha": 1.0, "max_relative_change": 1.0}, r"max_relative_change must be in \(0, 1\)"),
    ({"alpha": 1.0, "records": 0}, "records must be a positive integer"),
    ({"alpha": 1.0, "loss_in": "linear"}, "loss_in must be one of format, log"),
    ({"alpha": 1.0, "fmt": "fp9"}, "unknown format"),
    ({"alpha": 1.0, "fmt": "fp16", "rounding": "round"}, "rounding must be one of nearest"),
])
def test_bad_configurations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_an_alpha_whose_weights_overflow_the_format_is_refused():
    with pytest.raises(ValueError, match="alpha\\*\\*depth = 90000 overflows fp16"):
        TrainConfig(alpha=300.0, fmt="fp16")
