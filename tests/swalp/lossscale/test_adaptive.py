"""Adaptive layer-wise loss scaling (Zhao et al. 2019) as the authors' code
``kumasento/gradient-scaling`` computes it: ``ada_loss/chainer_impl/ada_loss_chainer.py``
(``get_loss_scale_by_approx_range``, ``bound_loss_scale_by_heuristics``, ``rescaling``),
``ada_loss/core.py`` (``get_power_of_two_scale``, ``update_per_n_iteration``),
``ada_loss/chainer_impl/functions/ada_loss_linear.py`` (weight gradients unscaled by the
previous scale) and ``functions/ada_loss_branch.py`` (merges). Hand values use torch's
``erfinv`` as the oracle of the implementation's scipy one."""

import copy
import math

import pytest
import torch
from torch import nn

import lpformats
from swalp.lossscale import ScaledStep, build_scaler, canonical_loss_scale, parse_loss_scale
from swalp.lossscale.adaptive import (
    AdaptiveScaler,
    BranchOverflowError,
    common_scale,
    error_range,
    layer_scale,
    overflow_bound,
    power_of_two_floor,
    statistical_scale,
    unbound_scale,
)
from swalp.lossscale.branch import Branch
from swalp.models import PreResNet
from swalp.models_1d import MNIST1DMLP, MNIST1DDeepMLP

E5M2_MIN, E5M2_MAX = 2.0**-16, 57344.0
#: sqrt(2) erfinv(1e-3): the number of standard deviations below which 1e-3 of a normal lies.
THRESHOLD = math.sqrt(2) * float(torch.special.erfinv(torch.tensor(1e-3, dtype=torch.float64)))


def test_error_range_is_the_formats_smallest_positive_and_largest_value():
    assert error_range("fp8_e5m2") == (E5M2_MIN, E5M2_MAX)
    assert error_range("fp16") == (2.0**-24, 65504.0)
    assert error_range(lpformats.FloatFormat(5, 2, subnormals=False)) == (2.0**-14, E5M2_MAX)
    assert error_range("fixed(8,4)") == (1 / 16, 127 / 16)


@pytest.mark.parametrize(("fmt", "reason"), [("fp32", "float32, nothing underflows"),
                                             ("bfp8", "no underflow threshold"),
                                             ("mxfp8_e5m2", "no underflow threshold")])
def test_formats_without_a_fixed_range_are_refused(fmt, reason):
    with pytest.raises(ValueError, match=reason):
        AdaptiveScaler(fmt)


def test_statistical_scale_is_u_min_over_threshold_times_product_spread():
    # g: 4x2 values +-a (mean 0, sigma a); W: 2 outputs x 3 inputs, values b and 3b (mean 2b,
    # sigma b: sigma^2 + mu^2 = 5 b^2); K = 2 output features. sigma_o = a * sqrt(5) b * sqrt(K/2).
    a, b = 1e-4, 0.05
    g = torch.tensor([[a, -a], [-a, a], [a, a], [-a, -a]])
    w = torch.tensor([[b, 3 * b, b], [3 * b, b, 3 * b]])
    sigma_o = a * math.sqrt(5) * b * math.sqrt(2 / 2)
    expected = E5M2_MIN / (THRESHOLD * sigma_o)
    assert statistical_scale(g, w, E5M2_MIN, reduction=2) == pytest.approx(expected, rel=1e-6)
    # the factor sqrt(K/2) of their newest code: K = 32 gives 4x the spread, a quarter of the scale
    assert statistical_scale(g, w, E5M2_MIN, reduction=32) == pytest.approx(expected / 4, rel=1e-6)
    assert statistical_scale(torch.zeros(4, 2), w, E5M2_MIN, reduction=2) == 1.0


def test_scale_is_at_least_one_then_bounded_against_overflow():
    g, w = torch.full((8, 4), 0.1), torch.full((4, 16), 0.5)  # large errors: statistics ask for < 1
    assert statistical_scale(g, w, E5M2_MIN, 4) < 1
    assert unbound_scale(g, w, E5M2_MIN, E5M2_MAX, 4) == 1.0
    big = torch.full((8, 4), 1e5)  # sums of 4 products 1e5 * 0.5 reach 2e5: the bound is below 1
    bound = overflow_bound(big, w, E5M2_MAX, 4)
    assert bound == pytest.approx(E5M2_MAX / 4 / (1e5 * 0.5))
    assert unbound_scale(big, w, E5M2_MIN, E5M2_MAX, 4) == bound < 1
    assert float(((big * bound) @ w).abs().max()) <= E5M2_MAX * (1 + 1e-6)
    assert overflow_bound(torch.zeros(2, 2), w, E5M2_MAX, 4) == math.inf


@pytest.mark.parametrize(("value", "floor"), [(1.0, 1.0), (1.5, 1.0), (2.0, 2.0), (12.5, 8.0), (0.3, 0.25),
                                              (2.0**-20 * 1.99, 2.0**-20), (3e5, 2.0**18)])
def test_power_of_two_rounding_is_down(value, floor):
    assert power_of_two_floor(value) == floor


@pytest.mark.parametrize("value", [0.0, -1.0, math.inf, math.nan])
def test_power_of_two_rounding_refuses_non_positive_or_non_finite(value):
    with pytest.raises(ValueError, match="positive and finite"):
        power_of_two_floor(value)


def test_layer_scale_caps_at_16_and_keeps_the_carried_scale_at_most_1024():
    assert layer_scale(100.0, carried=1.0) == 16.0  # scale_upper_bound
    assert layer_scale(12.5, carried=1.0) == 8.0  # rounded down
    assert layer_scale(100.0, carried=128.0) == 8.0  # 1024 / 128
    assert layer_scale(100.0, carried=1024.0) == 1.0
    assert layer_scale(100.0, carried=4096.0) == 0.25  # a carried scale above the cap is brought back
    assert layer_scale(0.7, carried=1.0) == 0.5  # the overflow bound's result below 1 stays


def test_branch_scale_is_the_largest_safe_one_as_in_their_rescaling_test():
    assert common_scale(3.0, [1.0, 2.0], 65504.0) == 2.0  # no overflow: the larger
    assert common_scale(3.0, [65536.0, 2.0], 65504.0) == 2.0  # 3 * 65536 overflows
    assert common_scale(1e5, [4.0, 2.0], 65504.0) == 0.5  # neither: halve the smaller
    with pytest.raises(BranchOverflowError, match=r"down to 0\.0625"):
        common_scale(1e7, [4.0, 2.0], 65504.0)


def gradients(model, x, y, scaler=None):
    """Parameter gradients of the cross entropy, divided by their scales when a scaler is attached."""
    loss = nn.functional.cross_entropy(model(x), y)
    (loss if scaler is None else loss * scaler.init).backward()
    if scaler is None:
        return [p.grad for p in model.parameters()]
    return [p.grad / scaler.gradient_scale(p) for p in model.parameters()]


@pytest.mark.parametrize(("build", "shape"), [(MNIST1DDeepMLP, (100, 40)), (MNIST1DMLP, (100, 40)),
                                              (lambda: PreResNet(8, 1, 10), (16, 1, 8, 8))])
def test_unscaled_gradients_equal_the_fp32_gradients_bit_for_bit(build, shape):
    # Errors are not rounded (role E exact), the scales are sized for E5M2: every weight and
    # bias gradient, divided by the scale it carries, is the unscaled float32 gradient.
    torch.manual_seed(0)
    model = build()
    scaled = copy.deepcopy(model)
    scaler = AdaptiveScaler("fp8_e5m2")
    scaler.attach(scaled)
    x, y = torch.randn(*shape), torch.randint(0, 10, (shape[0],))
    for plain, unscaled in zip(gradients(model, x, y), gradients(scaled, x, y, scaler), strict=True):
        assert torch.equal(plain, unscaled)
    assert max(s["scale"] for s in scaler.layer_scales().values()) > 1  # scaling did happen


def test_scales_multiply_along_the_chain_and_start_at_init():
    torch.manual_seed(1)
    model = MNIST1DDeepMLP()
    scaler = AdaptiveScaler("fp8_e5m2", init=4.0)
    scaler.attach(model)
    gradients(model, torch.randn(50, 40), torch.randint(0, 10, (50,)), scaler)
    scales = scaler.layer_scales()
    order = [f"features.{i}" for i in range(0, 18, 2)] + ["classifier"]
    carried = 4.0
    for name in reversed(order):  # backward order
        carried *= scales[name]["scale"]
        assert scales[name]["carried"] == carried <= 1024
    assert scaler.gradient_scale(model.classifier.weight) == scales["classifier"]["carried"]


def test_branch_merges_at_the_largest_scale_of_its_branches():
    torch.manual_seed(0)
    model = MNIST1DMLP()
    scaler = AdaptiveScaler("fp8_e5m2")
    scaler.attach(model)
    gradients(model, torch.randn(100, 40), torch.randint(0, 10, (100,)), scaler)
    scales = scaler.layer_scales()
    shortcut, branch = scales["classifier"]["carried"], scales["linear2"]["carried"]
    assert shortcut != branch  # the two errors do arrive at different scales
    assert scales["branch"]["carried"] == max(shortcut, branch)
    assert scales["linear1"]["carried"] == scales["branch"]["carried"] * scales["linear1"]["scale"]


class _TwoUses(nn.Module):
    """Uses its hidden tensor twice without a Branch."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.c(h + torch.relu(self.b(h)))


def test_a_tensor_used_twice_without_a_branch_is_refused_when_its_scales_differ():
    torch.manual_seed(0)
    model = _TwoUses()
    scaler = AdaptiveScaler("fp8_e5m2")
    scaler.attach(model)
    with pytest.raises(ValueError, match=r"meet at the output of a, which several layers use: mark the point "
                                         r"with swalp.lossscale.branch.Branch"):
        gradients(model, torch.randn(8, 4) * 1e-3, torch.randint(0, 3, (8,)), scaler)


def test_statistics_are_recomputed_every_n_steps_and_reused_in_between():
    torch.manual_seed(0)
    model = MNIST1DDeepMLP(depth=3)
    scaler = AdaptiveScaler("fp8_e5m2", every=3)
    scaler.attach(model)
    raws = []
    for step in range(4):
        model.zero_grad()
        scaler.steps = step
        gradients(model, torch.randn(20, 40) * (10.0 ** -step), torch.randint(0, 10, (20,)), scaler)
        raws.append(scaler.state_dict()["sites"]["features.0"]["raw"])
    assert raws[0] == raws[1] == raws[2] != raws[3]


@pytest.mark.parametrize(("options", "message"), [
    (dict(every=0), "every"), (dict(every=1.5), "every"), (dict(t_uf=0.0), "t_uf"), (dict(t_uf=1.0), "t_uf"),
    (dict(init=3.0), "init must be a power of two"), (dict(init=0.0), "init"),
    (dict(layer_cap=0.5), "layer_cap must be a finite number >= 1"), (dict(total_cap=math.inf), "total_cap")])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveScaler("fp8_e5m2", **options)


def test_attaching_twice_or_to_a_model_without_gemms_is_refused():
    scaler = AdaptiveScaler("fp16")
    scaler.attach(MNIST1DDeepMLP(depth=2))
    with pytest.raises(ValueError, match="already attached"):
        scaler.attach(MNIST1DDeepMLP(depth=2))
    with pytest.raises(ValueError, match="no Linear or Conv layer"):
        AdaptiveScaler("fp16").attach(nn.Sequential(nn.BatchNorm1d(3)))
    with pytest.raises(ValueError, match="transposed convolution"):
        AdaptiveScaler("fp16").attach(nn.Sequential(nn.ConvTranspose1d(2, 2, 3)))
    with pytest.raises(ValueError, match=r"count .* must be an integer >= 2"):
        Branch(1)


def test_state_round_trips_and_refuses_another_model():
    torch.manual_seed(0)
    model = MNIST1DDeepMLP(depth=3)
    scaler = AdaptiveScaler("fp8_e5m2", every=5)
    scaler.attach(model)
    gradients(model, torch.randn(20, 40), torch.randint(0, 10, (20,)), scaler)
    scaler.steps = 2
    restored = AdaptiveScaler("fp8_e5m2", every=5)
    restored.attach(copy.deepcopy(model))
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict()
    other = AdaptiveScaler("fp8_e5m2")
    other.attach(MNIST1DDeepMLP(depth=4))
    with pytest.raises(ValueError, match="other layers"):
        other.load_state_dict(scaler.state_dict())


def test_spelling_adaptive_with_its_keys_and_refusals():
    assert canonical_loss_scale("adaptive") == ("adaptive:init=2^0,every=1,t_uf=0.001,layer_cap=2^4,"
                                                "total_cap=2^10,patience=8")
    assert canonical_loss_scale("adaptive:every=10,init=2^4").startswith("adaptive:init=2^4,every=10,")
    for bad, message in (("adaptive:every=0", "every"), ("adaptive:init=3", "power of two"),
                         ("adaptive:t_uf=2", "t_uf"), ("adaptive:floor=2", "adaptive takes keys")):
        with pytest.raises(ValueError, match=message):
            parse_loss_scale(bad)
    with pytest.raises(ValueError, match="needs the error format"):
        build_scaler(parse_loss_scale("adaptive"))
    with pytest.raises(ValueError, match="no underflow threshold"):
        build_scaler(parse_loss_scale("adaptive"), errors="bfp8")
    assert build_scaler(parse_loss_scale("adaptive:every=4"), errors="fp8_e5m2").every == 4


def test_a_scaled_step_unscales_steps_and_records_this_steps_scales():
    torch.manual_seed(0)
    model = MNIST1DDeepMLP(depth=4)
    reference = copy.deepcopy(model)
    scaler = build_scaler(parse_loss_scale("adaptive"), errors="fp8_e5m2")
    step = ScaledStep(model, scaler, None, every=1)
    x, y = torch.randn(30, 40) * 1e-3, torch.randint(0, 10, (30,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert not step.backward_step(nn.functional.cross_entropy(model(x), y), optimizer, 0)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    nn.functional.cross_entropy(reference(x), y).backward()
    reference_optimizer.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)
    row = step.history[0]
    assert row["layer_scales"] == scaler.layer_scales() and row["scale"] == 1.0
    assert row["layer_scales"]["classifier"]["scale"] > 1 and scaler.steps == 1
