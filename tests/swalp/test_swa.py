"""SWALP averaging: the average is the mean of the iterates; BatchNorm statistics of the
average are recomputed over the training data; low-precision evaluation of the average."""

import torch
from torch import nn

import lpformats
from swalp.insert import insert_quantizers
from swalp.quantizer import Quantizer, RandomStream
from swalp.roles import role_specs
from swalp.swa import Averager


def test_average_equals_the_hand_computed_mean_of_the_iterates():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    averager = Averager(model, RandomStream(0))
    iterates = []
    for _ in range(4):
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p))
        iterates.append([p.detach().clone() for p in model.parameters()])
        averager.update(model)
    assert averager.count == 4
    for i, p in enumerate(averager.model.parameters()):
        torch.testing.assert_close(p, sum(it[i] for it in iterates) / 4, rtol=0, atol=1e-6)


def test_batchnorm_statistics_are_recomputed_as_a_cumulative_average_over_the_training_data():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    averager = Averager(model, RandomStream(0))
    averager.update(model)
    batches = [(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), None), (torch.tensor([[5.0, 6.0], [7.0, 8.0]]), None)]
    average = averager.full_precision(batches)
    bn = average[1]
    # cumulative moving average of the two batch means: (2 + 6) / 2 and (3 + 7) / 2
    torch.testing.assert_close(bn.running_mean, torch.tensor([4.0, 5.0]))
    torch.testing.assert_close(bn.running_var, torch.tensor([2.0, 2.0]))  # unbiased var of each batch: 2


def test_average_of_a_quantized_model_is_evaluated_with_quantizers_off_or_on():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    specs = role_specs({"A": "fixed(6,2)", "E": "fp32", "W": "bfp(4)"}, "nearest")
    stream = RandomStream(0)
    insert_quantizers(model, specs["A"], specs["E"], stream)
    averager = Averager(model, stream)
    averager.update(model)
    x = torch.randn(3, 4)
    full = averager.full_precision([(x, None)])
    assert not any(q.enabled for q in full.modules() if isinstance(q, Quantizer))
    # the copy's quantizers are its own modules (hooks rebound), sharing the run's stream
    assert all(q.stream is stream for q in full.modules() if isinstance(q, Quantizer))
    assert torch.equal(full(x), nn.functional.linear(torch.relu(full[0](x)), full[2].weight, full[2].bias))
    low = averager.low_precision([(x, None)], specs["W"], RandomStream(1))
    for p, q in zip(low.parameters(), full.parameters(), strict=True):
        assert torch.equal(p, lpformats.quantize(q.detach(), specs["W"].format_for(tuple(q.shape))))
    hidden = lpformats.quantize(torch.relu(low[0](x)).detach(), "fixed(6,2)")  # the ReLU's quantizer is on
    assert torch.equal(low(x), low[2](hidden))
