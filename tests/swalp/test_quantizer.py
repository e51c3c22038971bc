"""Quantizer semantics: activations quantized forward, errors quantized backward, the
gradient otherwise passes straight through; layouts of the paper's code."""

import pytest
import torch
from torch import nn

import lpformats
from swalp.insert import insert_quantizers
from swalp.quantizer import NonFiniteError, Quantizer, RandomStream, quantize_tensor, quantize_tensors
from swalp.roles import RoleSpec, parse_role_assignments, role_specs


def specs(fmt="bfp8", rounding="nearest"):
    return role_specs(fmt, rounding)


def test_auto_layout_is_per_output_channel_for_weights_and_per_tensor_otherwise():
    s = specs()
    assert s["W"].format_for((16, 3, 3, 3)) == lpformats.BlockFloat(8, block_axis=0)
    assert s["W"].format_for((16,)) == lpformats.BlockFloat(8)
    assert s["M"].format_for((10, 64)) == lpformats.BlockFloat(8, block_axis=0)
    assert s["A"].format_for((32, 16, 8, 8)) == lpformats.BlockFloat(8)
    assert s["E"].format_for((32, 16, 8, 8)) == lpformats.BlockFloat(8)


def test_layout_choices_and_explicit_blocks():
    assert RoleSpec("A", "bfp8", layout="dim0").format_for((4, 5)) == lpformats.BlockFloat(8, block_axis=0)
    assert RoleSpec("W", "bfp8", layout="tensor").format_for((4, 5)) == lpformats.BlockFloat(8)
    blocked = RoleSpec("W", "bfp8", layout="block:16")
    assert blocked.format_for((4, 5)) == lpformats.BlockFloat(8, block_size=16)
    # a format that names its blocks is used as written
    assert RoleSpec("W", "bfp(6,block=4)").format_for((4, 5)) == lpformats.BlockFloat(6, block_size=4)
    assert RoleSpec("W", "fp8_e4m3").format_for((4, 5)) == lpformats.parse("fp8_e4m3")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "X"}, "role must be one of"),
        ({"role": "W", "fmt": "bfp99"}, "format of role W"),
        ({"role": "W", "rounding": "random"}, "rounding of role W"),
        ({"role": "W", "layout": "block:0"}, "layout must be one of"),
    ],
)
def test_bad_specs_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RoleSpec(**kwargs)


def test_role_assignments_parse_per_role_and_keep_commas_inside_formats():
    assert parse_role_assignments("bfp8") == "bfp8"
    assert parse_role_assignments("W=bfp(8,axis=0),A=fp32") == {"W": "bfp(8,axis=0)", "A": "fp32"}
    with pytest.raises(ValueError, match="role must be one of"):
        parse_role_assignments("Q=bfp8")
    with pytest.raises(ValueError, match="unknown role"):
        role_specs({"Z": "bfp8"})


def test_forward_quantizes_activations_and_backward_quantizes_errors():
    stream = RandomStream(0)
    s = role_specs({"A": "bfp(4)", "E": "fixed(8,2)"}, "nearest")
    q = Quantizer(s["A"], s["E"], stream)
    x = torch.randn(5, 7, requires_grad=True)
    y = q(x)
    assert torch.equal(y, lpformats.quantize(x.detach(), "bfp(4)"))
    g = torch.randn(5, 7)
    y.backward(g)
    # straight-through: d y / d x = identity, and the error is rounded to E's format
    assert torch.equal(x.grad, lpformats.quantize(g, "fixed(8,2)"))
    assert not torch.equal(x.grad, g)


def test_fp32_roles_are_the_identity_and_disabled_quantizer_too():
    s = role_specs("fp32")
    x = torch.randn(3, 4)
    assert quantize_tensor(x, s["W"], RandomStream(0)) is x
    s8 = specs()
    q = Quantizer(s8["A"], s8["E"], RandomStream(0))
    q.enabled = False
    assert q(x) is x


def test_stochastic_rounding_is_a_function_of_seed_and_call_count():
    s = role_specs("bfp(4)", "stochastic")["A"]
    x = torch.randn(1000)
    a = [quantize_tensor(x, s, RandomStream(3)) for _ in range(2)]
    assert torch.equal(a[0], a[1])
    stream = RandomStream(3)
    first, second = quantize_tensor(x, s, stream), quantize_tensor(x, s, stream)
    assert not torch.equal(first, second)
    assert stream.counter == 2


def test_nan_raises_non_finite_error():
    with pytest.raises(NonFiniteError, match="role W"):
        quantize_tensor(torch.tensor([1.0, float("nan")]), specs()["W"], RandomStream(0))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.relu, self.out = nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.relu(self.hidden(x)))


def test_insert_quantizers_on_the_input_and_after_activations_keeps_state_dict_keys():
    torch.manual_seed(0)
    model = Net()
    keys = list(model.state_dict())
    s = role_specs({"A": "fixed(8,4)", "E": "fp32"}, "nearest")
    inserted = insert_quantizers(model, s["A"], s["E"], RandomStream(0), quantize_input=True)
    assert len(inserted) == 2  # the input and the ReLU's output (the paper's placement)
    assert list(model.state_dict()) == keys
    x = torch.randn(2, 4)
    xq = lpformats.quantize(x, "fixed(8,4)")
    h = lpformats.quantize(torch.relu(model.hidden(xq)).detach(), "fixed(8,4)")
    assert torch.equal(model(x), model.out(h))  # the logits stay in full precision
    with pytest.raises(ValueError, match="already has quantizers"):
        insert_quantizers(model, s["A"], s["E"], RandomStream(0))
    with pytest.raises(ValueError, match=r"quantize_input needs .* got a Sequential"):
        insert_quantizers(nn.Sequential(nn.Linear(2, 2)), s["A"], s["E"], RandomStream(1),
                          quantize_input=True)


def test_insert_quantizers_after_chosen_layer_types_except_excluded_modules():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    s = role_specs({"A": "fixed(8,4)", "E": "fp32"}, "nearest")
    inserted = insert_quantizers(model, s["A"], s["E"], RandomStream(0), layer_types=(nn.Linear,),
                                 exclude=(model[2],), quantize_input=False)
    assert len(inserted) == 1 and model[0].output_quantizer is inserted[0]
    x = torch.randn(2, 4)
    h = lpformats.quantize(model[0](x).detach(), "fixed(8,4)")
    assert torch.equal(model(x), model[2](torch.relu(h)))
    with pytest.raises(ValueError, match="layer_types must be a non-empty tuple"):
        insert_quantizers(nn.Linear(2, 2), s["A"], s["E"], RandomStream(0), layer_types=())


@pytest.mark.parametrize(("fmt", "calls"), [
    ("bfp(6)", 2),  # rows of 27, 32 and 1-D of 8, 8, 10 padded to 64 together; rows of 100
    ("bfp(6,axis=0)", 5),  # rows of 27 and 32 padded; rows of 100; each 1-D alone (a block per element)
    ("fixed(8,5)", 1),  # element-wise: one call
    ("bfp(5,block=4)", 8), ("mxfp8_e4m3", 8),  # blocks along the last axis: one by one
])
def test_quantize_tensors_rounds_each_tensor_as_one_by_one_in_fewer_calls(fmt, calls):
    torch.manual_seed(0)
    shapes = [(8, 3, 3, 3), (16, 3, 3, 3), (8,), (8,), (10,), (4, 32), (2, 100), (5, 100)]
    tensors = [torch.randn(shape) * 4 ** i for i, shape in enumerate(shapes)]
    w, m = role_specs({"W": fmt, "M": fmt}, "nearest")["W"], role_specs({"M": fmt}, "nearest")["M"]
    expected = [quantize_tensor(t, w if i % 2 else m, RandomStream(0)) for i, t in enumerate(tensors)]
    stream = RandomStream(0)
    quantize_tensors([(t, w if i % 2 else m) for i, t in enumerate(tensors)], stream)
    for got, want in zip(tensors, expected, strict=True):
        assert torch.equal(got, want)
    assert stream.counter == calls


def test_an_activation_followed_by_a_max_pool_is_quantized_before_the_pool_and_after_it_only_on_request():
    torch.manual_seed(0)
    s = role_specs({"A": "bfp(4)", "E": "fp32"}, "nearest")
    x = torch.randn(3, 1, 6, 6)
    for pool_first in (False, True):
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.ReLU())
        insert_quantizers(model, s["A"], s["E"], RandomStream(0), pool_first=pool_first)
        assert hasattr(model[2 if pool_first else 1], "output_quantizer")
        assert not hasattr(model[1 if pool_first else 2], "output_quantizer")
        relu = lpformats.quantize(torch.relu(model[0](x)).detach(), "bfp(4)")  # Q before the pool
        hidden = torch.relu(nn.functional.max_pool2d(relu, 2).flatten(1))
        assert torch.equal(model(x), lpformats.quantize(hidden, "bfp(4)"))  # same values either way
