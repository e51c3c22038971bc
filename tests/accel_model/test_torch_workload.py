"""Workload.from_torch: traced GEMMs equal the hand-written SCALE-Sim topology; training-step work."""

import math

import pytest
import torch
from torch import nn

from accel_model import Accelerator, Workload, estimate


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 1)
        self.fc = nn.Linear(32 * 16 * 16, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        x = self.conv3(x)
        return self.fc(torch.flatten(x, 1))


# The same network as a SCALE-Sim topology: padding is written into the ifmap size (32 + 2 = 34).
# For the stride-2 layer PyTorch uses floor((34 - 3) / 2) + 1 = 16 output rows and never reads the
# last padded row, while SCALE-Sim would take ceil((34 - 3 + 2) / 2) = 17: the topology gives the
# 33 rows actually read. The linear layer is a 1x1 convolution of a 1x1 map.
HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
TOPOLOGY = (
    HEADER
    + """
conv1, 34, 34, 3, 3, 3, 16, 1,
conv2, 33, 33, 3, 3, 16, 32, 2,
conv3, 16, 16, 1, 1, 32, 32, 1,
fc, 1, 1, 1, 1, 8192, 10, 1,
"""
)


def test_traced_small_cnn_equals_hand_written_topology(tmp_path):
    path = tmp_path / "small_cnn.csv"
    path.write_text(TOPOLOGY)
    by_hand = Workload.from_scalesim_topology(path)
    traced = Workload.from_torch(SmallCNN(), torch.randn(1, 3, 32, 32))
    assert [(x.name, x.M, x.N, x.K, x.repeat) for x in traced] == [
        (x.name, x.M, x.N, x.K, x.repeat) for x in by_hand
    ]
    acc = Accelerator(rows=16, cols=16)
    assert [c.compute_cycles for c in estimate(traced, acc).layers] == [
        c.compute_cycles for c in estimate(by_hand, acc).layers
    ]


class DepthwiseSeparable(nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)

    def forward(self, x):
        return self.pw(torch.relu(self.dw(x)))


# SCALE-Sim writes a depthwise layer with "DP" in its name and runs it as one layer per channel.
DEPTHWISE_TOPOLOGY = HEADER + "\nDP_dw, 12, 12, 3, 3, 8, 1, 1,\npw, 10, 10, 1, 1, 8, 16, 1,\n"


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_traced_depthwise_separable_block_costs_what_its_topology_does(tmp_path, dataflow):
    path = tmp_path / "dws.csv"
    path.write_text(DEPTHWISE_TOPOLOGY)
    by_hand = Workload.from_scalesim_topology(path)
    traced = Workload.from_torch(DepthwiseSeparable(), torch.randn(1, 8, 10, 10))
    assert [(x.M, x.N, x.K, x.repeat) for x in traced] == [(100, 1, 9, 8), (100, 16, 8, 1)]
    assert [(x.M, x.N, x.K) for x in by_hand] == [(100, 1, 9)] * 8 + [(100, 16, 8)]
    acc = Accelerator(rows=8, cols=16, dataflow=dataflow)
    hand = [c.compute_cycles for c in estimate(by_hand, acc).layers]
    ours = [c.compute_cycles for c in estimate(traced, acc).layers]
    assert ours == [sum(hand[:8]), hand[8]]
    assert traced.macs == by_hand.macs


def test_batch_multiplies_the_streamed_rows():
    one = Workload.from_torch(SmallCNN(), torch.randn(1, 3, 32, 32))
    four = Workload.from_torch(SmallCNN(), torch.randn(4, 3, 32, 32))
    assert [x.M * 4 for x in one] == [x.M for x in four]
    assert four.layers[0].ifmap_elements == 4 * 3 * 32 * 32  # unpadded input


def test_depthwise_conv_is_one_gemm_per_channel():
    dw = nn.Conv2d(8, 8, 3, groups=8)
    (layer,) = Workload.from_torch(dw, torch.randn(2, 8, 10, 10)).layers
    assert (layer.M, layer.N, layer.K, layer.repeat) == (2 * 8 * 8, 1, 9, 8)
    assert layer.ifmap_elements == 2 * 10 * 10


def test_matmul_and_bmm_between_activations():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(16, 16)

        def forward(self, x):
            q = self.q(x)
            return torch.bmm(q, q.transpose(1, 2)) @ x

    layers = Workload.from_torch(Attn(), torch.randn(3, 5, 16)).layers
    assert [(x.name, x.M, x.N, x.K, x.repeat, x.filter_role) for x in layers] == [
        ("q", 15, 16, 16, 1, "weights"),
        ("Attn", 5, 5, 16, 3, "activations"),
        ("Attn.1", 5, 16, 5, 3, "activations"),
    ]


class WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y)


def test_unsupported_layers_are_listed_by_name_or_skipped_and_reported():
    with pytest.raises(ValueError, match=r"rnn \(LSTM\)"):
        Workload.from_torch(WithLSTM(), torch.randn(3, 1, 4))
    workload = Workload.from_torch(WithLSTM(), torch.randn(3, 1, 4), skip_unsupported=True)
    assert [x.name for x in workload] == ["head"] and workload.skipped == ["rnn (LSTM)"]
    assert "skipped (unsupported, not estimated): rnn (LSTM)" in str(estimate(workload, Accelerator(8, 8)))


def test_training_step_adds_backward_gemms_and_elementwise_work():
    step = Workload.from_torch(SmallCNN(), torch.randn(2, 3, 32, 32), training=True, swa_cycle=5)
    fwd = {x.name: x for x in step if x.kind == "forward"}
    names = [x.name for x in step]
    assert "conv1.bwd_data" not in names  # the input needs no gradient
    for x in step:
        if x.kind == "backward_data":
            f = fwd[x.name.split(".")[0]]
            assert (x.M, x.N, x.K, x.ifmap_role, x.ofmap_role) == (f.M, f.K, f.N, "errors", "errors")
        if x.kind == "backward_weight":
            f = fwd[x.name.split(".")[0]]
            assert (x.M, x.N, x.K, x.ofmap_role) == (f.K, f.N, f.M, "gradients")
    fc = fwd["fc"]
    updates = {x.name: x for x in step if x.kind == "elementwise" and x.name.startswith("fc.")}
    assert sorted(updates) == ["fc.quantize_m", "fc.quantize_w", "fc.swa", "fc.update"]
    assert {x.elements for x in updates.values()} == {fc.K * fc.N}
    assert updates["fc.swa"].per_step == 1 / 5
    forward_macs = sum(x.macs for x in fwd.values())
    assert step.macs == 3 * forward_macs - fwd["conv1"].macs


def test_loss_scaling_adds_an_unscale_of_each_weight_gradient_charged_as_elementwise_work():
    example = torch.randn(8, 3, 32, 32)
    plain = Workload.from_torch(SmallCNN(), example, training=True)
    scaled = Workload.from_torch(SmallCNN(), example, training=True, loss_scaling=True)
    unscale = [x for x in scaled if x.op == "unscale"]
    weights = [x for x in plain if x.kind == "elementwise" and x.op == "update"]
    assert [x.name for x in unscale] == [x.name.replace(".update", ".unscale") for x in weights]
    assert [x.elements for x in unscale] == [x.elements for x in weights]
    assert all(x.reads == ("gradients",) and x.writes == ("gradients",) for x in unscale)
    formats = {r: "fp8_e5m2" for r in ("weights", "activations", "errors", "gradients")} | {"state": "fp16"}
    costs = [estimate(w, Accelerator.preset("tpu_v1"), formats).total for w in (plain, scaled)]
    assert costs[1].energy_pj > costs[0].energy_pj
    lanes = Accelerator.preset("tpu_v1").cols  # 2 vector operations per element
    assert costs[1].compute_cycles - costs[0].compute_cycles == sum(math.ceil(x.elements * 2 / lanes)
                                                                    for x in unscale)
    with pytest.raises(ValueError, match="loss_scaling need training=True"):
        Workload.from_torch(SmallCNN(), example, loss_scaling=True)


def test_swalp_style_call_costs_less_than_fp32():
    workload = Workload.from_torch(SmallCNN(), torch.randn(8, 3, 32, 32), training=True, swa_cycle=4)
    formats = {r: "bfp8" for r in ("weights", "activations", "errors", "gradients", "state")}
    report = estimate(workload, Accelerator.preset("tpu_v1"), formats, rounding="stochastic")
    cmp = report.compare("fp32")
    assert cmp.total_speedup > 1 and cmp.total_energy_ratio > 1
    assert (
        report.total.energy_by_part["quantization"] > 0 == cmp.baseline.total.energy_by_part["quantization"]
    )


def test_bad_torch_inputs():
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module"):
        Workload.from_torch(lambda x: x, torch.randn(1))
    with pytest.raises(ValueError, match="swa_cycle and loss_scaling need training=True"):
        Workload.from_torch(nn.Linear(2, 2), torch.randn(1, 2), swa_cycle=3)
    with pytest.raises(ValueError, match="swa_cycle must be an int >= 1"):
        Workload.from_torch(nn.Linear(2, 2), torch.randn(1, 2), training=True, swa_cycle=0)


def test_adaptive_loss_scaling_adds_error_scaling_each_step_and_statistics_every_n_steps():
    example = torch.randn(8, 3, 32, 32)
    plain = Workload.from_torch(SmallCNN(), example, training=True, loss_scaling=True)
    adaptive = Workload.from_torch(SmallCNN(), example, training=True, adaptive_every=4)
    forward = {x.name: x for x in plain if x.kind == "forward"}
    scale = [x for x in adaptive if x.op == "scale"]
    moments = [x for x in adaptive if x.op == "moments"]
    assert [x.name for x in scale] == [f"{name}.scale_errors" for name in reversed(forward)]
    assert all(x.elements == forward[x.name.rsplit(".", 1)[0]].ofmap_elements and x.per_step == 1
               for x in scale)
    assert sorted(x.elements for x in moments) == sorted(
        [f.ofmap_elements for f in forward.values()] + [f.filter_elements for f in forward.values()])
    assert all(x.per_step == 0.25 and x.writes == () for x in moments)
    assert [x.name for x in adaptive if x.op == "unscale"] == [x.name for x in plain if x.op == "unscale"]
    formats = {r: "fp8_e5m2" for r in ("weights", "activations", "errors", "gradients")} | {"state": "fp16"}
    costs = [estimate(w, Accelerator.preset("tpu_v1"), formats).total for w in (plain, adaptive)]
    lanes = Accelerator.preset("tpu_v1").cols  # 1 vector operation per scaled element, 3 per moment
    assert costs[1].compute_cycles - costs[0].compute_cycles == (
        sum(math.ceil(x.elements / lanes) for x in scale) + sum(math.ceil(x.elements * 3 * 0.25 / lanes)
                                                                 for x in moments))
    with pytest.raises(ValueError, match="adaptive_every must be an int >= 1"):
        Workload.from_torch(SmallCNN(), example, training=True, adaptive_every=0)
