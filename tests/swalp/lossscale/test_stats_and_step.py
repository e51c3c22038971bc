"""Per-layer error statistics against a direct count; a loss-scaled step, skipped on overflow."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lpformats
from swalp.insert import insert_quantizers
from swalp.lossscale import ErrorStatistics, LossScaleFloorError, ScaledStep, StaticScaler
from swalp.optim import LowPrecisionSGD
from swalp.quantizer import RandomStream
from swalp.roles import RoleSpec, role_specs


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.relu, self.out = nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)

    def forward(self, x):
        return self.out(self.relu(self.hidden(x)))


def fp8_model(seed=0, error_format="fp8_e5m2"):
    torch.manual_seed(seed)
    model = TwoLayers()
    stream = RandomStream(seed)
    insert_quantizers(model, RoleSpec("A", "fp8_e5m2", "nearest"), RoleSpec("E", error_format, "nearest"),
                      stream)
    specs = role_specs({"W": "fp8_e5m2", "A": "fp8_e5m2", "E": error_format, "G": "fp8_e5m2", "M": "fp16"},
                       {"W": "nearest", "A": "nearest", "E": "nearest", "G": "nearest", "M": "stochastic"})
    optimizer = LowPrecisionSGD(model.parameters(), specs, stream, lr=0.1, momentum=0.9, accumulator="fp16")
    return model, optimizer, stream


def batch(seed=1, n=32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def direct_counts(x, q, fmt):
    """Flushed and saturated elements counted element by element."""
    fmt = lpformats.parse(fmt)
    flushed = saturated = 0
    for a, b in zip(x.ravel().tolist(), q.ravel().tolist(), strict=True):
        flushed += a != 0 and b == 0
        saturated += (not np.isfinite(b)) or (abs(a) > fmt.max_value and abs(b) == fmt.max_value)
    return flushed, saturated


@pytest.mark.parametrize("scale", [1.0, 2.0**-12, 2.0**24])
def test_statistics_match_a_direct_count_of_the_rounded_errors(scale):
    model, _, _ = fp8_model()
    stats = ErrorStatistics(model, every=1)
    seen = {}
    quantizer = model.relu.output_quantizer
    observe = quantizer.error_observer

    def spy(error, rounded):
        seen["x"], seen["q"] = error.clone(), rounded.clone()
        observe(error, rounded)

    quantizer.error_observer = spy
    x, y = batch()
    stats.begin_step(0)
    (nn.functional.cross_entropy(model(x), y) * scale).backward()
    row = stats.row()
    assert list(row) == ["relu"] == stats.layers
    flushed, saturated = direct_counts(seen["x"].numpy(), seen["q"].numpy(), "fp8_e5m2")
    n = seen["x"].numel()
    assert row["relu"]["underflow"] == flushed / n
    assert row["relu"]["overflow"] == saturated / n
    assert row["relu"]["underflow_of_nonzero"] == flushed / int((seen["x"] != 0).sum())
    if scale == 2.0**-12:
        assert flushed > 0  # small errors underflow in E5M2
    if scale == 2.0**24:
        assert stats.first_nonfinite == "relu" and saturated > 0


def test_statistics_are_taken_every_k_steps_only():
    model, _, _ = fp8_model()
    stats = ErrorStatistics(model, every=3)
    x, y = batch()
    rows = []
    for step in range(7):
        stats.begin_step(step)
        nn.functional.cross_entropy(model(x), y).backward()
        rows.append(stats.row() is not None)
    assert rows == [True, False, False, True, False, False, True]


def test_statistics_refuse_a_model_whose_errors_are_not_rounded():
    model, _, _ = fp8_model(error_format="fp32")
    with pytest.raises(ValueError, match="no quantizer that rounds errors"):
        ErrorStatistics(model, every=1)
    with pytest.raises(ValueError, match="positive integer"):
        ErrorStatistics(fp8_model()[0], every=0)


def momentum_and_masters(optimizer):
    return [(s["momentum_buffer"].clone(), s["accumulator"].clone()) for s in optimizer.state.values()]


def test_an_overflowing_step_is_skipped_weights_momentum_and_masters_unchanged():
    model, optimizer, stream = fp8_model()
    scaler = StaticScaler(2.0**40, patience=3)  # errors overflow E5M2 (max 57344) at once
    step = ScaledStep(model, StaticScaler(1.0), ErrorStatistics(model, every=1), every=1)
    x, y = batch()
    optimizer.zero_grad()
    step.backward_step(nn.functional.cross_entropy(model(x), y), optimizer, 0)  # a clean step: state exists
    weights = [p.detach().clone() for p in model.parameters()]
    state = momentum_and_masters(optimizer)
    scaled = ScaledStep(model, scaler, step.statistics, every=1)
    counter = stream.counter
    optimizer.zero_grad()
    assert scaled.backward_step(nn.functional.cross_entropy(model(x), y), optimizer, 1) is True
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))
    for (m0, a0), (m1, a1) in zip(state, momentum_and_masters(optimizer), strict=True):
        assert torch.equal(m0, m1) and torch.equal(a0, a1)
    # draws of a skipped step: the activation (forward), the error (backward), the gradients (one
    # stacked rounding); none of the update's (accumulators, weights, momentum)
    assert stream.counter - counter == 3
    row = scaled.history[-1]
    assert row["skipped"] and row["scale"] == 2.0**40 and row["skipped_total"] == 1
    assert row["overflow_at"] == "layer relu" and row["layers"]["relu"]["overflow"] > 0


def test_a_clean_scaled_step_equals_the_unscaled_step_when_nothing_underflows():
    # Power-of-two scaling commutes with float rounding while nothing under- or overflows: with
    # fp16 errors and gradients, a scale of 2^4 gives the same update as no scaling.
    results = []
    for scaler in (None, StaticScaler(16.0)):
        model, optimizer, _ = fp8_model()
        optimizer.specs["G"] = RoleSpec("G", "fp16", "nearest")
        for q in (model.relu.output_quantizer,):
            q.errors = RoleSpec("E", "fp16", "nearest")
        step = ScaledStep(model, scaler, None, every=1)
        x, y = batch()
        optimizer.zero_grad()
        assert step.backward_step(nn.functional.cross_entropy(model(x), y), optimizer, 0) is False
        results.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))


def test_overflow_beyond_patience_at_the_floor_stops_naming_step_and_layer():
    model, optimizer, _ = fp8_model()
    step = ScaledStep(model, StaticScaler(2.0**40, patience=1), ErrorStatistics(model, every=5), every=5)
    x, y = batch()
    optimizer.zero_grad()
    assert step.backward_step(nn.functional.cross_entropy(model(x), y), optimizer, 0)  # skipped, patience 1
    optimizer.zero_grad()
    with pytest.raises(LossScaleFloorError, match=r"step 2 \(layer relu\): the step overflowed .* 2 times"):
        step.backward_step(nn.functional.cross_entropy(model(x), y), optimizer, 1)
