"""The CIFAR models as the authors' code builds them, and where it quantizes.

Expected values are computed from the published facts, not from the authors' code:
VGG16 (``stevenygd/SWALP`` ``models/vgg_low.py``, ``timgaripov/swa`` ``models/vgg.py``): 13
conv3x3 layers with bias and no BatchNorm, max pools after conv 2, 4, 7, 10, 13, classifier
Dropout - Linear(512, 512) - ReLU - Dropout - Linear(512, 512) - ReLU - Linear(512, classes),
conv weights N(0, sqrt(2 / (9 * out))) and zero biases; quantized after every ReLU (before
the pool) and both hidden classifier ReLUs. PreResNet-164 (``models/preresnet_low.py``,
``timgaripov/swa`` ``models/preresnet.py``): 3 stages of 18 bottleneck blocks (BN-ReLU-conv
1x1, 3x3, 1x1, widths 16/32/64, expansion 4), projection shortcut a 1x1 conv of the block
input, quantized after the stem conv and after every ReLU and conv of each residual branch.
"""

import math

import pytest
import torch
from torch import nn

import lpformats
from swalp.cost import quantized_shapes
from swalp.dropout import keep_mask
from swalp.insert import insert_quantizers, quantization_points
from swalp.lossscale.branch import Branch
from swalp.models import VGG, PreResNet, preresnet164, vgg16
from swalp.optim import LowPrecisionSGD
from swalp.quantizer import RandomStream, share_stream
from swalp.roles import role_specs

WIDTHS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]


def vgg16_layers(classes):
    """(name, description) of every layer of the reference VGG16, built from the facts."""
    layers, index, channels = [], 0, 3
    for i, width in enumerate(WIDTHS):
        layers += [(f"features.{index}", ("Conv2d", channels, width, 3, 1, True)),
                   (f"features.{index + 1}", ("ReLU",))]
        index, channels = index + 2, width
        if i + 1 in (2, 4, 7, 10, 13):
            layers.append((f"features.{index}", ("MaxPool2d", 2, 2)))
            index += 1
    layers += [("classifier.0", ("Dropout", 0.5)), ("classifier.1", ("Linear", 512, 512)),
               ("classifier.2", ("ReLU",)), ("classifier.3", ("Dropout", 0.5)),
               ("classifier.4", ("Linear", 512, 512)), ("classifier.5", ("ReLU",)),
               ("classifier.6", ("Linear", 512, classes))]
    return layers


def describe(module):
    kind = type(module).__name__
    if isinstance(module, nn.Conv2d):
        return (kind, module.in_channels, module.out_channels, module.kernel_size[0], module.stride[0],
                module.bias is not None)
    if isinstance(module, nn.Linear):
        return (kind, module.in_features, module.out_features)
    if isinstance(module, nn.MaxPool2d):
        return (kind, module.kernel_size, module.stride)
    if kind == "Dropout":
        return (kind, module.p)
    if isinstance(module, nn.BatchNorm2d):
        return (kind, module.num_features)
    return (kind,)


def leaves(model):
    """Leaf layers, without the parameter-free Branch markers of the residual blocks (a no-op
    unless adaptive loss scaling is attached)."""
    return [(name, describe(m)) for name, m in model.named_modules()
            if not list(m.children()) and not isinstance(m, Branch)]


@pytest.mark.parametrize("classes", [10, 100])
def test_vgg16_layers_and_parameter_count_are_the_references(classes):
    model = vgg16(classes)
    assert leaves(model) == vgg16_layers(classes)
    convs = sum(9 * cin * cout + cout for cin, cout in zip([3, *WIDTHS[:-1]], WIDTHS, strict=True))
    expected = convs + 2 * (512 * 512 + 512) + 512 * classes + classes
    assert sum(p.numel() for p in model.parameters()) == expected
    if classes == 10:
        assert expected == 15_245_130


def test_vgg16_initialization_is_the_authors():
    torch.manual_seed(0)
    model = vgg16(10)
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
        assert torch.count_nonzero(conv.bias) == 0
        std = math.sqrt(2 / (9 * conv.out_channels))
        n = conv.weight.numel()
        assert abs(conv.weight.mean().item()) < 5 * std / math.sqrt(n)
        assert conv.weight.std().item() == pytest.approx(std, rel=6 / math.sqrt(n) + 1e-3)
    # linear layers keep torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for linear in (m for m in model.modules() if isinstance(m, nn.Linear)):
        assert linear.weight.abs().max() <= 1 / math.sqrt(linear.in_features)


def preresnet164_layers(classes):
    """(name, description) of the reference PreResNet-164's layers, from the facts."""
    layers, inplanes = [("conv1", ("Conv2d", 3, 16, 3, 1, False))], 16
    for stage, planes in enumerate((16, 32, 64)):
        for i in range(18):
            stride = 2 if stage > 0 and i == 0 else 1
            p = f"layer{stage + 1}.{i}"
            layers += [(f"{p}.bn1", ("BatchNorm2d", inplanes)), (f"{p}.relu1", ("ReLU",)),
                       (f"{p}.conv1", ("Conv2d", inplanes, planes, 1, 1, False)),
                       (f"{p}.bn2", ("BatchNorm2d", planes)), (f"{p}.relu2", ("ReLU",)),
                       (f"{p}.conv2", ("Conv2d", planes, planes, 3, stride, False)),
                       (f"{p}.bn3", ("BatchNorm2d", planes)), (f"{p}.relu3", ("ReLU",)),
                       (f"{p}.conv3", ("Conv2d", planes, 4 * planes, 1, 1, False))]
            if i == 0:
                layers.append((f"{p}.downsample.0", ("Conv2d", inplanes, 4 * planes, 1, stride, False)))
            inplanes = 4 * planes
    return [*layers, ("bn", ("BatchNorm2d", 256)), ("relu", ("ReLU",)), ("avgpool", ("AdaptiveAvgPool2d",)),
            ("fc", ("Linear", 256, classes))]


def test_preresnet164_layers_and_parameter_count_are_the_references():
    model = preresnet164(10)
    assert leaves(model) == preresnet164_layers(10)
    expected = 3 * 16 * 9 + 2 * 256 + 256 * 10 + 10
    inplanes = 16
    for planes in (16, 32, 64):
        for i in range(18):
            expected += 2 * inplanes + inplanes * planes  # bn1, conv1
            expected += 2 * planes + 9 * planes**2 + 2 * planes + 4 * planes**2  # bn2, conv2, bn3, conv3
            expected += inplanes * 4 * planes if i == 0 else 0
            inplanes = 4 * planes
    assert sum(p.numel() for p in model.parameters()) == expected == 1_703_258


def test_preresnet_initialization_and_shortcut_of_the_block_input():
    torch.manual_seed(0)
    model = preresnet164(10)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    big = model.layer3[5].conv2  # 64 x 64 x 3 x 3
    assert big.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.03)
    block = model.layer2[0].eval()
    x = torch.randn(2, 64, 8, 8)
    branch = block.conv3(block.relu3(block.bn3(block.conv2(block.relu2(block.bn2(
        block.conv1(block.relu1(block.bn1(x)))))))))
    with torch.no_grad():
        assert torch.equal(block(x), branch + block.downsample(x))  # the shortcut takes x, not relu(bn1(x))


def quantized_names(model):
    return [name for name, m in model.named_modules() if hasattr(m, "output_quantizer")]


def insert(model, specs, **kwargs):
    return insert_quantizers(model, specs["A"], specs["E"], RandomStream(0),
                             targets=quantization_points(model), **kwargs)


def test_vgg16_quantizes_after_every_relu_before_the_pool_not_the_input():
    model = vgg16(10)
    insert(model, role_specs("bfp8"))
    relus = [name for name, (kind, *_) in vgg16_layers(10) if kind == "ReLU"]
    assert quantized_names(model) == relus and len(relus) == 15
    assert not hasattr(model, "input_quantizer")
    shapes = quantized_shapes(model, torch.zeros(2, 3, 32, 32))
    side = {64: 32, 128: 16, 256: 8, 512: 4}
    expected = [(2, w, side[w] >> (i >= 10), side[w] >> (i >= 10)) for i, w in enumerate(WIDTHS)]
    assert shapes == [*expected, (2, 512), (2, 512)]


def test_preresnet164_has_325_quantization_points_at_the_authors_positions():
    model = preresnet164(10)
    insert(model, role_specs("bfp8"))
    expected = ["conv1"] + [f"layer{s}.{i}.{m}" for s in (1, 2, 3) for i in range(18)
                            for m in ("relu1", "conv1", "relu2", "conv2", "relu3", "conv3")]
    assert sorted(quantized_names(model)) == sorted(expected) and len(expected) == 325
    assert not hasattr(model, "input_quantizer")


def test_pool_first_is_refused_for_stochastic_rounding_and_blocks_a_pool_would_change():
    model = VGG((4, "M"), 1, 4, 2)
    with pytest.raises(ValueError, match="biased upward"):
        insert(model, role_specs("bfp8", "stochastic"), pool_first=True)
    with pytest.raises(ValueError, match="blocks a pool would change"):
        insert(model, role_specs("bfp8", "nearest", "block:4"), pool_first=True)


def test_stochastic_rounding_before_a_max_pool_is_biased_upward_so_the_placements_differ():
    # a, b halfway between 0 and 1 on the grid of fixed(4,0): each rounds to 0 or 1 with p = 1/2
    x = torch.full((200_000, 2), 0.5, dtype=torch.float32)
    q = lpformats.quantize(x, "fixed(4,0)", "stochastic", seed=0)
    assert q.max(dim=1).values.mean().item() == pytest.approx(0.75, abs=0.01)  # pool(Q(x)): 3/4
    assert lpformats.quantize(x.max(dim=1).values, "fixed(4,0)", "stochastic", seed=1).mean().item() == \
        pytest.approx(0.5, abs=0.01)  # Q(pool(x)): unbiased


@pytest.mark.parametrize("fmt", ["bfp(5)", "fixed(6,3)", "fp8_e4m3"])
def test_pool_first_gives_the_same_forward_values_for_deterministic_rounding(fmt):
    torch.manual_seed(0)
    specs = role_specs({"A": fmt, "E": fmt}, "nearest")
    reference, pooled = VGG((4, "M", 6, "M"), 1, 8, 3), VGG((4, "M", 6, "M"), 1, 8, 3)
    pooled.load_state_dict(reference.state_dict())
    insert(reference, specs)
    insert(pooled, specs, pool_first=True)
    assert quantized_names(pooled) == ["features.3", "features.7"]  # the pools
    x = torch.randn(5, 1, 8, 8)
    assert torch.equal(reference(x), pooled(x))
    with pytest.raises(ValueError, match="leaves the edge"):
        pooled(torch.randn(5, 1, 10, 10))  # 10 -> 5 -> 2 drops a row and a column


def bfp8(x, rows=False):
    fmt = "bfp(8,axis=0)" if rows and x.dim() > 1 else "bfp(8)"
    return lpformats.quantize(x.detach().contiguous(), fmt, "nearest")


class RefQ(torch.autograd.Function):
    """The authors' BlockRounding: A forward, E backward, one exponent per tensor."""

    @staticmethod
    def forward(ctx, x):
        return bfp8(x)

    @staticmethod
    def backward(ctx, grad):
        return bfp8(grad)


def reference_step(model, forward, x, y, lr, momentum, wd):
    """One step in the order of ``stevenygd/SWALP`` ``utils.train_batch`` (8-bit accumulator,
    so weight = accumulator): gradients quantized (G, per output channel, per tensor for 1-D),
    SGD with weight decay and momentum, weights quantized (W), momentum quantized (M)."""
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    loss = nn.functional.cross_entropy(forward(params, x), y)
    grads = torch.autograd.grad(loss, params)
    new_w, new_m = [], []
    for w, g in zip(params, grads, strict=True):
        d = bfp8(g, rows=True).add(w.detach(), alpha=wd)  # weight decay on the quantized gradient
        buf = d.clone()  # first step: torch SGD's momentum buffer is d
        new_w.append(bfp8(w.detach().add(buf, alpha=-lr), rows=True))
        new_m.append(bfp8(buf, rows=True))
    return new_w, new_m


def our_step(model, x, y, lr, momentum, wd, stream):
    specs = role_specs("bfp8", "nearest")
    insert_quantizers(model, specs["A"], specs["E"], stream, targets=quantization_points(model))
    optimizer = LowPrecisionSGD(model.parameters(), specs, stream, lr=lr, momentum=momentum, weight_decay=wd)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    params = list(model.parameters())
    return [p.detach() for p in params], [optimizer.state[p]["momentum_buffer"] for p in params]


def test_one_vgg_step_equals_the_authors_update_order():
    torch.manual_seed(0)
    model = VGG((8, "M", 16, "M"), 3, 8, 10, batch_norm=False, bias=True, hidden=16, authors_init=True)
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 10, (6,))
    seed = 3

    def forward(p, x):
        counter = iter(range(100))  # the stream: one draw per quantizer and per dropout call, in order

        def q(t):
            next(counter)
            return RefQ.apply(t)

        def drop(t):
            return t * keep_mask(tuple(t.shape), 0.5, seed, next(counter)) / (1 - 0.5)

        h = nn.functional.max_pool2d(q(torch.relu(nn.functional.conv2d(x, p[0], p[1], padding=1))), 2)
        h = nn.functional.max_pool2d(q(torch.relu(nn.functional.conv2d(h, p[2], p[3], padding=1))), 2)
        h = q(torch.relu(nn.functional.linear(drop(h.flatten(1)), p[4], p[5])))
        h = q(torch.relu(nn.functional.linear(drop(h), p[6], p[7])))
        return nn.functional.linear(h, p[8], p[9])

    want_w, want_m = reference_step(model, forward, x, y, 0.05, 0.9, 5e-4)
    stream = RandomStream(seed)
    share_stream(model, stream)
    got_w, got_m = our_step(model, x, y, 0.05, 0.9, 5e-4, stream)
    for a, b in zip(got_w + got_m, want_w + want_m, strict=True):
        assert torch.equal(a, b)


def test_one_preresnet_step_equals_the_authors_update_order():
    torch.manual_seed(0)
    model = PreResNet(11, 3, 10, bottleneck=True)  # one bottleneck block per stage, each with a projection
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    names = [n for n, _ in model.named_parameters()]

    def forward(p, x):
        w = dict(zip(names, p, strict=True))

        def bn(name, t):
            running = torch.zeros(t.shape[1]), torch.ones(t.shape[1])
            weight, bias = w[f"{name}.weight"], w[f"{name}.bias"]
            return nn.functional.batch_norm(t, *running, weight, bias, training=True)

        def conv(name, t, stride=1, padding=0):
            return nn.functional.conv2d(t, w[f"{name}.weight"], stride=stride, padding=padding)

        h = RefQ.apply(conv("conv1", x, padding=1))
        for stage, stride in ((1, 1), (2, 2), (3, 2)):
            b = f"layer{stage}.0"
            out = RefQ.apply(conv(f"{b}.conv1", RefQ.apply(torch.relu(bn(f"{b}.bn1", h)))))
            out = RefQ.apply(conv(f"{b}.conv2", RefQ.apply(torch.relu(bn(f"{b}.bn2", out))), stride, 1))
            out = RefQ.apply(conv(f"{b}.conv3", RefQ.apply(torch.relu(bn(f"{b}.bn3", out)))))
            h = out + conv(f"{b}.downsample.0", h, stride)
        h = torch.relu(bn("bn", h))
        pooled = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1)
        return nn.functional.linear(pooled, w["fc.weight"], w["fc.bias"])

    want_w, want_m = reference_step(model, forward, x, y, 0.1, 0.9, 3e-4)
    got_w, got_m = our_step(model, x, y, 0.1, 0.9, 3e-4, RandomStream(0))
    for name, a, b in zip(names + names, got_w + got_m, want_w + want_m, strict=True):
        assert torch.equal(a, b), name

