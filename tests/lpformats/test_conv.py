"""lpformats.conv2d: torch's conv2d (no bias) computed through matmul's rounded arithmetic."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given

from lpformats import conv2d, matmul, quantize


def representable(rng, shape, fmt="fixed(8,4)", scale=2.0):
    return quantize(rng.standard_normal(shape) * scale, fmt)


@given(
    batch=st.integers(1, 2), groups=st.sampled_from([1, 2]), per_group_in=st.integers(1, 3),
    per_group_out=st.integers(1, 3), size=st.integers(3, 7), kernel=st.integers(1, 3),
    stride=st.integers(1, 2), padding=st.integers(0, 2), dilation=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_with_a_wide_accumulator_equals_torch_conv2d(batch, groups, per_group_in, per_group_out, size, kernel,
                                                      stride, padding, dilation, seed):
    if dilation * (kernel - 1) + 1 > size + 2 * padding:
        return
    rng = np.random.default_rng(seed)
    x = representable(rng, (batch, groups * per_group_in, size, size + 1))
    w = representable(rng, (groups * per_group_out, per_group_in, kernel, kernel))
    got, stats = conv2d(x, w, stride, padding, dilation, groups, acc="fixed(32,8)")
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, stride, padding,
                                      dilation, groups).numpy()
    np.testing.assert_array_equal(got, want)
    assert stats.saturated == 0


def test_each_output_pixel_accumulates_its_patch_channel_major():
    """A narrow accumulator makes the order visible: the conv equals matmul of the unfolded
    patches in (channel, row, column) order."""
    rng = np.random.default_rng(1)
    x = representable(rng, (1, 3, 5, 5), scale=6.0)
    w = representable(rng, (4, 3, 3, 3), scale=6.0)
    got, stats = conv2d(x, w, padding=1, acc="fixed(8,2)", rounding="nearest")
    cols = torch.nn.functional.unfold(torch.from_numpy(x), 3, padding=1)[0].T.numpy()  # (25, 27), c-major
    want, want_stats = matmul(cols, w.reshape(4, 27).T, acc="fixed(8,2)")
    np.testing.assert_array_equal(got[0], want.T.reshape(4, 5, 5))
    assert stats == want_stats and stats.saturated > 0


def test_stochastic_rounding_is_seeded_and_torch_in_gives_torch_out():
    rng = np.random.default_rng(2)
    x = torch.from_numpy(representable(rng, (2, 2, 6, 6)))
    w = torch.from_numpy(representable(rng, (3, 2, 3, 3)))
    one, _ = conv2d(x, w, acc="fixed(10,2)", rounding="stochastic", seed=5)
    two, _ = conv2d(x, w, acc="fixed(10,2)", rounding="stochastic", seed=5)
    assert isinstance(one, torch.Tensor) and torch.equal(one, two) and one.shape == (2, 3, 4, 4)


def test_operand_formats_quantize_on_entry():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 6, 6))
    w = rng.standard_normal((5, 4, 3, 3))
    got, _ = conv2d(x, w, acc="fp32", x_fmt="fp8_e4m3", w_fmt="fp8_e5m2", mul="fp32")
    want = torch.nn.functional.conv2d(torch.from_numpy(quantize(x, "fp8_e4m3")),
                                      torch.from_numpy(quantize(w, "fp8_e5m2"))).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    per_channel, _ = conv2d(x, w, acc="fixed(32,0)", x_fmt="bfp8", w_fmt="bfp(8,axis=0)")
    want = torch.nn.functional.conv2d(torch.from_numpy(quantize(x, "bfp8")),
                                      torch.from_numpy(quantize(w, "bfp(8,axis=0)"))).numpy()
    np.testing.assert_array_equal(per_channel, want)
    mx, _ = conv2d(x, w, acc="fp32", x_fmt="mxfp8_e4m3", w_fmt="mxfp8_e4m3")
    assert mx.shape == (2, 5, 4, 4) and np.isfinite(mx).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.ones((1, 3, 5)), np.ones((2, 3, 3, 3))), {}, "x must be (N, C, H, W)"),
        ((np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3))), {}, "w.shape[1] must be C/groups = 3"),
        ((np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3))), dict(groups=2), "multiples of groups"),
        ((np.ones((1, 3, 5, 5)), np.ones((2, 3, 3, 3))), dict(stride=0), "stride must be an integer >= 1"),
        ((np.ones((1, 3, 5, 5)), np.ones((2, 3, 3, 3))), dict(padding=(1,)), "padding must be"),
        ((np.ones((1, 3, 2, 2)), np.ones((2, 3, 3, 3))), {}, "does not fit the padded input"),
        ((np.ones((1, 3, 5, 5)), np.ones((2, 3, 3, 3))), dict(w_fmt="bfp(8,block=4)"), "w_fmt bfp"),
    ],
)
def test_bad_input_names_the_argument(args, kwargs, message):
    with pytest.raises(ValueError) as info:
        conv2d(*args, acc="fp32", **kwargs)
    assert message in str(info.value)
