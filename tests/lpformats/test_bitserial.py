"""bitserial_matmul: bit-plane AND/XOR + popcount products equal np.matmul on the integer codes,
for every bit width and code mode; pack_bitplanes' layout; int_matmul (the int16 baseline)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lpformats import bitserial_matmul, int_matmul, pack_bitplanes

MODES = ("unsigned", "signed", "binary")


def code_range(bits: int, mode: str) -> tuple[int, int]:
    """Smallest and largest code of a mode (binary: -1 and +1)."""
    if mode == "unsigned":
        return 0, 2**bits - 1
    if mode == "signed":
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return -1, 1


def random_codes(rng, shape, bits: int, mode: str, dtype=np.int8) -> np.ndarray:
    if mode == "binary":
        return rng.choice(np.array([-1, 1], dtype=dtype), size=shape)
    lo, hi = code_range(bits, mode)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def exact(a, b) -> np.ndarray:
    return np.matmul(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))


def widths(mode: str) -> list[int]:
    return [1] if mode == "binary" else [1, 2, 3, 4]


# ---------------------------------------------------------------- equality with np.matmul


@pytest.mark.parametrize("mode", MODES)
def test_equals_matmul_for_every_pair_of_widths(mode):
    rng = np.random.default_rng(1)
    for a_bits in widths(mode):
        for b_bits in widths(mode):
            a = random_codes(rng, (37, 130), a_bits, mode)  # K = 130: two full words and 2 bits
            b = random_codes(rng, (130, 45), b_bits, mode)
            got = bitserial_matmul(a, b, a_bits, b_bits, signed=mode)
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, exact(a, b), err_msg=f"{mode} a_bits={a_bits} b_bits={b_bits}")


@pytest.mark.parametrize("a_mode", MODES)
@pytest.mark.parametrize("b_mode", MODES)
def test_operands_may_use_different_modes(a_mode, b_mode):
    rng = np.random.default_rng(2)
    for a_bits in widths(a_mode):
        b_bits = widths(b_mode)[-1]
        a = random_codes(rng, (9, 77), a_bits, a_mode)
        b = random_codes(rng, (77, 11), b_bits, b_mode)
        got = bitserial_matmul(a, b, a_bits, b_bits, signed=(a_mode, b_mode))
        np.testing.assert_array_equal(got, exact(a, b), err_msg=f"{a_mode}{a_bits} x {b_mode}{b_bits}")


def test_bool_spelling_of_signed():
    rng = np.random.default_rng(3)
    a, b = random_codes(rng, (5, 70), 3, "signed"), random_codes(rng, (70, 6), 2, "signed")
    np.testing.assert_array_equal(bitserial_matmul(a, b, 3, 2, signed=True), exact(a, b))
    a, b = random_codes(rng, (5, 70), 3, "unsigned"), random_codes(rng, (70, 6), 2, "unsigned")
    np.testing.assert_array_equal(bitserial_matmul(a, b, 3, 2, signed=False), exact(a, b))
    np.testing.assert_array_equal(bitserial_matmul(a, b, 3, 2), exact(a, b))  # default: unsigned


@pytest.mark.parametrize("mode", MODES)
def test_extreme_codes_sum_without_overflow(mode):
    """Every code at its extreme: the MSB plane of signed codes weighs -2**(bits-1)."""
    bits = widths(mode)[-1]
    lo, hi = code_range(bits, mode)
    k = 1000
    for x, y in ((lo, lo), (lo, hi), (hi, hi)):
        a = np.full((3, k), x, dtype=np.int8)
        b = np.full((k, 2), y, dtype=np.int8)
        got = bitserial_matmul(a, b, bits, bits, signed=mode)
        np.testing.assert_array_equal(got, np.full((3, 2), k * x * y))


@pytest.mark.parametrize("k", [0, 1, 5, 63, 64, 65, 127, 128, 129, 300])
def test_any_inner_length(k):
    """K below one word, at word boundaries, past them, and K = 0 (a zero matrix)."""
    rng = np.random.default_rng(k)
    for mode, bits in (("unsigned", 2), ("signed", 3), ("binary", 1)):
        a = random_codes(rng, (6, k), bits, mode)
        b = random_codes(rng, (k, 7), bits, mode)
        got = bitserial_matmul(a, b, bits, bits, signed=mode)
        np.testing.assert_array_equal(got, exact(a, b), err_msg=f"{mode} K={k}")


@pytest.mark.parametrize(("a_shape", "b_shape"), [((0, 10), (10, 4)), ((4, 10), (10, 0)), ((0, 0), (0, 0))])
def test_empty_outputs(a_shape, b_shape):
    a, b = np.zeros(a_shape, np.int8), np.zeros(b_shape, np.int8)
    got = bitserial_matmul(a, b, 2, 2)
    assert got.shape == exact(a, b).shape and got.dtype == np.int64


def test_tiles_larger_than_one_block():
    """Shapes spanning several output tiles (64 x 256) and K blocks (2048 codes for 4-bit
    right operands), with ragged edges."""
    rng = np.random.default_rng(4)
    a = random_codes(rng, (70, 2100), 2, "signed")
    b = random_codes(rng, (2100, 300), 4, "signed")
    np.testing.assert_array_equal(bitserial_matmul(a, b, 2, 4, signed=True), exact(a, b))


def test_batch_dimensions_broadcast_like_matmul():
    rng = np.random.default_rng(5)
    a = random_codes(rng, (2, 1, 5, 70), 3, "signed")
    b = random_codes(rng, (3, 70, 4), 2, "signed")
    got = bitserial_matmul(a, b, 3, 2, signed=True)
    assert got.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(got, exact(a, b))
    empty = bitserial_matmul(np.zeros((0, 5, 70), np.int8), b[:1], 3, 2, signed=True)
    assert empty.shape == (0, 5, 4)


def test_batched_binary_against_integers_uses_each_batch_s_sums():
    """The row/column-sum correction of a binary operand is taken per batch element."""
    rng = np.random.default_rng(10)
    a = random_codes(rng, (3, 1, 6, 90), 1, "binary")
    b = random_codes(rng, (2, 90, 5), 3, "unsigned")
    np.testing.assert_array_equal(bitserial_matmul(a, b, 1, 3, signed=("binary", "unsigned")), exact(a, b))
    bt, at = b.transpose(0, 2, 1), a.transpose(0, 1, 3, 2)  # the binary operand on the right
    got = bitserial_matmul(bt, at, 3, 1, signed=("unsigned", "binary"))
    np.testing.assert_array_equal(got, exact(bt, at))


def test_any_integer_dtype_and_layout():
    rng = np.random.default_rng(6)
    a = random_codes(rng, (20, 90), 4, "unsigned", dtype=np.uint8)
    b = random_codes(rng, (90, 30), 4, "signed", dtype=np.int64)
    expected = exact(a, b)
    np.testing.assert_array_equal(bitserial_matmul(a, b, 4, 4, signed=("unsigned", "signed")), expected)
    a_f = np.asfortranarray(a).astype(np.int16)  # non-C-contiguous input
    np.testing.assert_array_equal(bitserial_matmul(a_f, b[:, ::1], 4, 4, signed=(False, True)), expected)


def test_torch_tensors_in_and_out():
    rng = np.random.default_rng(7)
    a, b = random_codes(rng, (8, 100), 2, "signed"), random_codes(rng, (100, 9), 2, "signed")
    got = bitserial_matmul(torch.from_numpy(a), torch.from_numpy(b), 2, 2, signed=True)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), exact(a, b))


#: (a batch shape, b batch shape) pairs that broadcast.
BATCHES = [((), ()), ((2,), ()), ((), (3,)), ((2, 1), (3,)), ((1,), (2,)), ((0,), ())]


@given(
    m=st.integers(0, 9),
    k=st.integers(0, 200),
    n=st.integers(0, 9),
    batches=st.sampled_from(BATCHES),
    a_mode=st.sampled_from(MODES),
    b_mode=st.sampled_from(MODES),
    a_bits=st.integers(1, 4),
    b_bits=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_equals_matmul(m, k, n, batches, a_mode, b_mode, a_bits, b_bits, seed):
    a_bits = 1 if a_mode == "binary" else a_bits
    b_bits = 1 if b_mode == "binary" else b_bits
    rng = np.random.default_rng(seed)
    a = random_codes(rng, (*batches[0], m, k), a_bits, a_mode)
    b = random_codes(rng, (*batches[1], k, n), b_bits, b_mode)
    got = bitserial_matmul(a, b, a_bits, b_bits, signed=(a_mode, b_mode))
    np.testing.assert_array_equal(got, exact(a, b))


# ---------------------------------------------------------------- pack_bitplanes layout


def test_pack_along_last_axis_layout():
    """Bit k % 64 of word k // 64 of plane p is bit p of code k."""
    codes = np.zeros((1, 70), np.int8)
    codes[0, [0, 2, 65]] = [1, 3, 2]  # 0b01, 0b11, 0b10
    planes = pack_bitplanes(codes, 2)
    assert planes.shape == (2, 1, 2) and planes.dtype == np.uint64
    assert planes[0, 0].tolist() == [0b101, 0]
    assert planes[1, 0].tolist() == [0b100, 0b10]


def test_pack_along_rows_layout_and_modes():
    codes = np.array([[-1], [1], [-1]] + [[1]] * 61 + [[-1]], dtype=np.int8)  # K = 65, one column
    binary = pack_bitplanes(codes, 1, signed="binary", axis=-2)
    assert binary.shape == (1, 2, 1)
    assert binary[0, :, 0].tolist() == [(2**64 - 1) ^ 0b101, 0]  # +1 -> 1, -1 -> 0
    signed = pack_bitplanes(np.array([[-1, -4, 3]], np.int8), 3, signed=True)
    # two's complement in 3 bits: -1 = 0b111, -4 = 0b100, 3 = 0b011
    assert [int(signed[p, 0, 0]) for p in range(3)] == [0b101, 0b101, 0b011]


def test_pack_keeps_batch_dimensions():
    codes = np.ones((2, 3, 4, 130), np.int8)
    assert pack_bitplanes(codes, 3).shape == (2, 3, 3, 4, 3)
    assert pack_bitplanes(codes, 3, axis=-2).shape == (2, 3, 3, 1, 130)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("bits", "mode", "bad_value"),
    [(2, "unsigned", 4), (2, "unsigned", -1), (3, "signed", 4), (3, "signed", -5),
     (1, "binary", 0), (1, "binary", 2)],
)
def test_codes_out_of_range_name_count_and_first_index(bits, mode, bad_value):
    a = np.zeros((4, 10), np.int8) + (1 if mode == "binary" else 0)
    a[1, 7] = a[3, 2] = a[3, 9] = bad_value
    b = np.ones((10, 2), np.int8)
    with pytest.raises(ValueError, match=re.escape("a_codes has 3 code(s) outside")) as info:
        bitserial_matmul(a, b, bits, 1, signed=(mode, "unsigned"))
    assert f"the first is a_codes[1, 7] = {bad_value}" in str(info.value)
    with pytest.raises(ValueError, match=re.escape("b_codes has 3 code(s) outside")) as info:
        bitserial_matmul(np.ones((2, 4), np.int8), a, 1, bits, signed=("unsigned", mode))
    assert f"the first is b_codes[1, 7] = {bad_value}" in str(info.value)


def test_codes_out_of_range_for_pack_bitplanes():
    with pytest.raises(ValueError, match=r"codes has 1 code\(s\) outside \[0, 7\] \(3-bit unsigned\)"):
        pack_bitplanes(np.array([[0, 8]], np.int16), 3)


@pytest.mark.parametrize("bits", [0, 5, -1, 8])
def test_bit_widths_outside_1_to_4(bits):
    a = np.zeros((2, 3), np.int8)
    with pytest.raises(ValueError, match=r"a_bits must be in 1\.\.4"):
        bitserial_matmul(a, a.T, bits, 2)
    with pytest.raises(ValueError, match=r"b_bits must be in 1\.\.4"):
        bitserial_matmul(a, a.T, 2, bits)


def test_bit_widths_must_be_ints():
    a = np.zeros((2, 3), np.int8)
    with pytest.raises(TypeError, match="a_bits must be an int"):
        bitserial_matmul(a, a.T, 2.0, 2)
    with pytest.raises(TypeError, match="b_bits must be an int"):
        bitserial_matmul(a, a.T, 2, True)


def test_binary_codes_are_one_bit():
    a = np.ones((2, 3), np.int8)
    with pytest.raises(ValueError, match=r"b_bits must be 1 for binary"):
        bitserial_matmul(a, a.T, 1, 2, signed="binary")


@pytest.mark.parametrize("signed", ["twos", None, 1, ("signed",), ("signed", "ternary")])
def test_unknown_mode(signed):
    a = np.ones((2, 3), np.int8)
    with pytest.raises(ValueError, match="signed"):
        bitserial_matmul(a, a.T, 1, 1, signed=signed)


def test_shape_mismatch_names_both_operands():
    a = np.zeros((2, 3), np.int8)
    with pytest.raises(ValueError, match=r"a_codes is \(2, 3\) and b_codes is \(4, 2\)"):
        bitserial_matmul(a, np.zeros((4, 2), np.int8), 2, 2)
    with pytest.raises(ValueError, match="batch dimensions of a_codes"):
        bitserial_matmul(np.zeros((2, 2, 3), np.int8), np.zeros((3, 3, 2), np.int8), 2, 2)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        bitserial_matmul(np.zeros(3, np.int8), np.zeros((3, 2), np.int8), 2, 2)


NON_INTEGER = [np.zeros((2, 3), np.float32), np.zeros((2, 3), bool), [[0, 1, 0], [1, 1, 0]]]


@pytest.mark.parametrize("bad", NON_INTEGER)
def test_non_integer_codes(bad):
    good = np.zeros((3, 2), np.int8)
    with pytest.raises(TypeError, match="a_codes"):
        bitserial_matmul(bad, good, 2, 2)
    with pytest.raises(TypeError, match="b_codes"):
        bitserial_matmul(good.T.copy(), np.asarray(bad).T if isinstance(bad, np.ndarray) else bad, 2, 2)


# ---------------------------------------------------------------- int_matmul (the baseline)


def test_int_matmul_is_exact_for_extreme_int16():
    rng = np.random.default_rng(8)
    a = rng.integers(-(2**15), 2**15, size=(70, 301)).astype(np.int16)  # K = 301: not a multiple of 4
    b = rng.integers(-(2**15), 2**15, size=(301, 260)).astype(np.int16)  # N: spills past one tile
    a[0, :] = b[:, 0] = -(2**15)
    got = int_matmul(a, b)
    np.testing.assert_array_equal(got, exact(a, b))
    assert got[0, 0] == 301 * 2**30


def test_int_matmul_mixed_dtypes_and_batches():
    rng = np.random.default_rng(9)
    a = rng.integers(-128, 128, size=(3, 1, 6, 40)).astype(np.int8)
    b = rng.integers(0, 256, size=(2, 40, 5)).astype(np.uint8)
    np.testing.assert_array_equal(int_matmul(a, b), exact(a, b))


def test_int_matmul_rejects_wide_or_float_operands():
    with pytest.raises(TypeError, match="a must have an 8- or 16-bit integer dtype"):
        int_matmul(np.zeros((2, 3), np.int32), np.zeros((3, 2), np.int16))
    with pytest.raises(TypeError, match="b must have an integer dtype"):
        int_matmul(np.zeros((2, 3), np.int16), np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"a is \(2, 3\) and b is \(2, 2\)"):
        int_matmul(np.zeros((2, 3), np.int16), np.zeros((2, 2), np.int16))
