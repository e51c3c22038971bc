"""LowPrecisionSGD: after every step every weight and momentum element is representable in
its format; with full-precision roles it is exactly torch SGD."""

import math

import pytest
import torch
from torch import nn

import lpformats
from swalp.optim import LowPrecisionSGD
from swalp.quantizer import RandomStream
from swalp.roles import role_specs


def model_and_data(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 36, 3))
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    return model, x, y


def train(model, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def blocks(t, fmt):
    """The blocks of ``t`` that share one exponent in BlockFloat ``fmt``."""
    if fmt.block_size is not None:
        rows = t.reshape(-1, t.shape[-1])
        return [row[i:i + fmt.block_size] for row in rows for i in range(0, len(row), fmt.block_size)]
    if fmt.block_axis is not None:
        return list(t.reshape(t.shape[0], -1))
    return [t.reshape(-1)]


def bfp_block_representable(block, wl):
    """Some shared exponent E gives every element as k * 2**(E+2-wl), k in [-2**(wl-1), 2**(wl-1)-1].
    (Re-quantizing is not the test: a block whose largest magnitude rounded to -2**(E+1) is
    representable at E, but its re-quantization would pick E+1.)"""
    amax = block.abs().max().item()
    if amax == 0:
        return True
    top = math.floor(math.log2(amax))
    for e in (top, top - 1):
        k = block.double() / 2.0 ** (e + 2 - wl)
        if torch.equal(k, k.round()) and k.min() >= -(2 ** (wl - 1)) and k.max() <= 2 ** (wl - 1) - 1:
            return True
    return False


def representable(t, spec):
    fmt = spec.format_for(tuple(t.shape))
    if isinstance(fmt, lpformats.BlockFloat):
        return all(bfp_block_representable(b, fmt.wl) for b in blocks(t, fmt))
    return torch.equal(lpformats.quantize(t, fmt, "nearest"), t)


@pytest.mark.parametrize("fmt", ["bfp8", "fixed(8,6)", "fp8_e5m2", "bfp(6,block=4)"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_weights_and_momentum_are_representable_after_every_step(fmt, nesterov):
    model, x, y = model_and_data()
    specs = role_specs(fmt, "stochastic")
    opt = LowPrecisionSGD(model.parameters(), specs, RandomStream(1), lr=0.05, momentum=0.9,
                          weight_decay=5e-4, nesterov=nesterov)
    for _ in range(4):
        train(model, opt, x, y, 1)
        for p in model.parameters():
            assert representable(p.detach(), specs["W"])
            assert representable(opt.state[p]["momentum_buffer"], specs["M"])


def test_accumulator_holds_the_update_and_weights_are_its_quantization():
    model, x, y = model_and_data()
    specs = role_specs({"W": "bfp(4)", "G": "fp32", "M": "fp32"}, "nearest")
    opt = LowPrecisionSGD(model.parameters(), specs, RandomStream(1), lr=0.05, accumulator="fp32")
    before = [p.detach().clone() for p in model.parameters()]
    train(model, opt, x, y, 1)
    for p, w0 in zip(model.parameters(), before, strict=True):
        acc = opt.state[p]["accumulator"]
        torch.testing.assert_close(acc, w0 - 0.05 * p.grad, rtol=0, atol=1e-7)
        assert torch.equal(p.detach(), lpformats.quantize(acc, specs["W"].format_for(tuple(acc.shape))))
    # without an accumulator the small updates would be lost in the 4-bit grid; with it they add up
    train(model, opt, x, y, 3)
    assert not torch.equal(opt.state[model[4].weight]["accumulator"], model[4].weight.detach())


def test_full_precision_roles_equal_torch_sgd_bit_for_bit():
    model_a, x, y = model_and_data()
    model_b, _, _ = model_and_data()
    opt_a = LowPrecisionSGD(model_a.parameters(), role_specs("fp32"), RandomStream(0), lr=0.1,
                            momentum=0.9, weight_decay=1e-3)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, foreach=False)
    train(model_a, opt_a, x, y, 3)
    train(model_b, opt_b, x, y, 3)
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b)


def test_specs_must_cover_the_optimizer_roles():
    model, _, _ = model_and_data()
    specs = role_specs("bfp8")
    del specs["M"]
    with pytest.raises(ValueError, match="role M"):
        LowPrecisionSGD(model.parameters(), specs, RandomStream(0))
