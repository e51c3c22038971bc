"""bitserial_conv2d equals the int64 convolution of the codes, bit for bit, for every bit width,
code mode (per operand), stride, padding and layout, under every schedule; bad input is
refused naming the argument."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lpformats import PackedConvWeights, Schedule, bitserial_conv2d, int16_conv2d, pack_conv_weights
from lpformats.bitserial_conv.schedule import LAYOUTS, ORDERS, PARALLEL, UNROLLS
from tests.lpformats.bitserial_conv.oracle import MODES, conv2d_int64, conv_cases, nhwc, random_codes, widths


@given(
    case=conv_cases(max_channels=140, max_outputs=10),
    x_mode=st.sampled_from(MODES),
    w_mode=st.sampled_from(MODES),
    bits=st.data(),
    seed=st.integers(0, 2**16),
)
def test_property_equals_integer_convolution(case, x_mode, w_mode, bits, seed):
    x_bits = bits.draw(st.sampled_from(widths(x_mode)))
    w_bits = bits.draw(st.sampled_from(widths(w_mode)))
    rng = np.random.default_rng(seed)
    x = random_codes(rng, (case.n, case.c, case.h, case.w), x_bits, x_mode)
    wt = random_codes(rng, (case.o, case.c, case.kh, case.kw), w_bits, w_mode)
    expected = conv2d_int64(x, wt, case.stride, case.padding)
    if case.layout == "NHWC":
        x, wt = nhwc(x, wt)
        expected = expected.transpose(0, 2, 3, 1)
    got = bitserial_conv2d(x, wt, x_bits, w_bits, case.stride, case.padding, signed=(x_mode, w_mode),
                           layout=case.layout, schedule="default")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("unroll", UNROLLS)
def test_every_schedule_gives_the_same_integers(order, unroll):
    """Each generated kernel variant, with both packing layouts, both parallel axes and tiles
    that do not divide the output (C = 130: three words, the last one partly filled)."""
    rng = np.random.default_rng(unroll)
    x = random_codes(rng, (2, 130, 11, 10), 2, "unsigned")
    w = random_codes(rng, (37, 130, 3, 3), 2, "bipolar")
    expected = conv2d_int64(x, w, (1, 2), (1, 1))
    packed = pack_conv_weights(w, 2, signed="bipolar")
    for layout in LAYOUTS:
        for parallel in PARALLEL:
            for tiles in ((1, 1, 1), (3, 5, 16), (4, 7, 37), (16, 32, 64)):
                schedule = Schedule(*tiles, parallel=parallel, order=order, unroll=unroll, layout=layout)
                got = bitserial_conv2d(
                    x, packed, 2, 2, (1, 2), 1, signed=("unsigned", "bipolar"), schedule=schedule
                )
                np.testing.assert_array_equal(got, expected, err_msg=str(schedule))


def test_the_papers_settings_on_a_resnet_block_shape():
    """Unipolar activations, bipolar weights (A1W1, A2W1, A2W2), 3x3 and 1x1, strides 1 and 2."""
    rng = np.random.default_rng(7)
    for a_bits, w_bits in ((1, 1), (2, 1), (2, 2)):
        x = random_codes(rng, (1, 64, 14, 14), a_bits, "unsigned")
        for kernel, stride, padding in ((3, 1, 1), (3, 2, 1), (1, 2, 0)):
            w = random_codes(rng, (128, 64, kernel, kernel), w_bits, "bipolar")
            got = bitserial_conv2d(x, w, a_bits, w_bits, stride, padding, signed=("unsigned", "bipolar"))
            np.testing.assert_array_equal(got, conv2d_int64(x, w, (stride,) * 2, (padding,) * 2))


def test_extreme_codes_are_exact_in_int32():
    """All-maximal 4-bit codes over a long reduction: 4-bit bipolar x bipolar reaches
    K * 15 * 15 with K = 512 * 9."""
    x = np.full((1, 512, 3, 3), 15, np.int8)
    w = np.full((2, 512, 3, 3), -15, np.int8)
    got = bitserial_conv2d(x, w, 4, 4, signed="bipolar")
    assert got[0, 0, 0, 0] == -512 * 9 * 225
    np.testing.assert_array_equal(got, conv2d_int64(x, w, (1, 1), (0, 0)))


def test_torch_tensors_and_other_integer_dtypes():
    rng = np.random.default_rng(3)
    x = random_codes(rng, (1, 5, 6, 6), 3, "signed", dtype=np.int16)
    w = random_codes(rng, (4, 5, 3, 3), 2, "unsigned", dtype=np.int64)
    got = bitserial_conv2d(torch.from_numpy(x), w, 3, 2, padding=1, signed=(True, False))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.int32
    np.testing.assert_array_equal(got.numpy(), conv2d_int64(x, w, (1, 1), (1, 1)))


def test_packed_weights_are_reused_and_must_match_the_call():
    rng = np.random.default_rng(4)
    x = random_codes(rng, (1, 8, 5, 5), 2, "unsigned")
    w = random_codes(rng, (3, 8, 3, 3), 1, "binary")
    packed = pack_conv_weights(w, 1, signed="binary")
    assert isinstance(packed, PackedConvWeights) and packed.planes.shape == (1, 3, 3, 1, 3)
    np.testing.assert_array_equal(
        bitserial_conv2d(x, packed, 2, 1, signed=(False, "binary")), conv2d_int64(x, w, (1, 1), (0, 0))
    )
    with pytest.raises(ValueError, match="packed as 1-bit binary NCHW; this call asks for 1-bit binary NHWC"):
        bitserial_conv2d(x.transpose(0, 2, 3, 1), packed, 2, 1, signed=(False, "binary"), layout="NHWC")


def test_int16_baseline_equals_the_oracle():
    rng = np.random.default_rng(5)
    x = rng.integers(-300, 300, (2, 7, 9, 9)).astype(np.int16)
    w = rng.integers(-300, 300, (5, 7, 3, 3)).astype(np.int16)
    expected = conv2d_int64(x, w, (2, 1), (1, 0))
    np.testing.assert_array_equal(int16_conv2d(x, w, (2, 1), (1, 0)), expected)
    xh, wh = nhwc(x, w)
    np.testing.assert_array_equal(
        int16_conv2d(xh, wh, (2, 1), (1, 0), layout="NHWC"), expected.transpose(0, 2, 3, 1)
    )
    with pytest.raises(
        ValueError, match=re.escape("C * kh * kw * max|x| * max|w| = 9663086601 does not fit int32")
    ):
        int16_conv2d(np.full((1, 9, 3, 3), 2**15 - 1, np.int16), np.full((1, 9, 1, 1), 2**15 - 1, np.int16))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"x": np.full((1, 2, 3, 3), 4)},
            ValueError,
            r"x_codes has 18 code\(s\) outside \[0, 3\] \(2-bit unsigned\); "
            r"the first is x_codes\[0, 0, 0, 0\] = 4",
        ),
        (
            {"w": np.zeros((2, 2, 1, 1), np.int8), "signed": (False, "bipolar")},
            ValueError,
            r"w_codes has 4 code\(s\) outside the odd numbers in \[-3, 3\]",
        ),
        (
            {"w": np.zeros((2, 3, 1, 1), np.int8)},
            ValueError,
            "shape mismatch: x_codes has C=2 input channels, w_codes 3",
        ),
        ({"x": np.zeros((2, 3, 3), np.int8)}, ValueError, r"x_codes must be 4-D \(N, C, H, W\)"),
        ({"w": np.zeros((2, 2, 1), np.int8)}, ValueError, r"w_codes must be 4-D \(O, C, kh, kw\)"),
        ({"stride": 0}, ValueError, "stride must be an integer >= 1"),
        ({"padding": -1}, ValueError, "padding must be an integer >= 0"),
        ({"padding": (1, 2, 3)}, ValueError, "padding must be an integer >= 0 or a pair"),
        ({"layout": "CHWN"}, ValueError, "layout must be 'NCHW' or 'NHWC'; got 'CHWN'"),
        ({"w": np.zeros((2, 2, 5, 5), np.int8)}, ValueError, "the 5x5 kernel does not fit the padded input"),
        ({"x_bits": 5}, ValueError, "x_bits must be in 1..4; got 5"),
        ({"signed": (False, "binary"), "w_bits": 2}, ValueError, "w_bits must be 1 for binary"),
        ({"signed": "ternary"}, ValueError, "signed must be False/'unsigned'"),
        ({"x": np.zeros((1, 2, 3, 3), np.float32)}, TypeError, "x_codes must have an integer dtype"),
        ({"schedule": "fastest"}, ValueError, "schedule must be a Schedule, 'auto' or 'default'"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, message):
    args = {
        "x": np.zeros((1, 2, 3, 3), np.int8),
        "w": np.zeros((2, 2, 1, 1), np.int8),
        "x_bits": 2,
        "w_bits": 2,
        "stride": 1,
        "padding": 0,
        "signed": False,
        "layout": "NCHW",
        "schedule": "default",
        **kwargs,
    }
    with pytest.raises(error, match=message):
        bitserial_conv2d(
            args["x"],
            args["w"],
            args["x_bits"],
            args["w_bits"],
            args["stride"],
            args["padding"],
            signed=args["signed"],
            layout=args["layout"],
            schedule=args["schedule"],
        )


def test_a_reduction_too_long_for_int32_is_refused():
    """4-bit bipolar codes: |partial sums| up to K * 2025 with K = C = 2**21 (B in the proof)."""
    x = np.ones((1, 2**21, 1, 1), np.int8)
    with pytest.raises(ValueError, match=r"C \* kh \* kw = 2097152 is too long a reduction for int32"):
        bitserial_conv2d(x, x, 4, 4, signed="bipolar")


def test_schedules_refuse_bad_parameters():
    with pytest.raises(ValueError, match=r"Schedule\.tile_co must be an integer >= 1; got 0"):
        Schedule(tile_co=0)
    with pytest.raises(ValueError, match=r"Schedule.unroll must be one of \(1, 2, 4\); got 3"):
        Schedule(unroll=3)
