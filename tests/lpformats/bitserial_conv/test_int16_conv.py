"""int16_conv2d equals the int64 convolution of the codes bit for bit, for every shape, stride,
padding, layout and register tile (odd channel counts, output channels and pixels that do not
fill a tile), up to the range boundary of int32 accumulation; beyond it the call is refused.
Its multiply-add pairs compile to ``vpmaddwd`` / ``vpdpwssd``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from lpformats import PackedInt16Weights, int16_conv2d, pack_int16_weights
from lpformats._int16_pairs import pair_tile
from lpformats._numba_target import fuses_pair_accumulation, numba_vector_isa
from lpformats.bitserial_conv.int16_conv import (
    _NARROW_TILE,
    TILES,
    _int16_conv2d,
    _pack_weights,
    register_tile,
)
from tests.lpformats.bitserial_conv.oracle import conv2d_int64, conv_cases, nhwc

INT32_MAX = 2**31 - 1


def codes(rng: np.random.Generator, shape: tuple[int, ...], largest: int) -> np.ndarray:
    """int16 codes in ``[-largest, largest]`` (clipped to int16: -32768 when largest is 32768),
    with the extremes present."""
    values = rng.integers(-largest, largest + 1, size=shape)
    flat = values.reshape(-1)
    flat[: min(2, flat.size)] = (-largest, largest)[: min(2, flat.size)]
    return np.clip(values, -(2**15), 2**15 - 1).astype(np.int16)


@given(case=conv_cases(max_channels=40, max_outputs=70),
       x_largest=st.integers(0, 2**15), seed=st.integers(0, 2**16))
def test_property_equals_integer_convolution(case, x_largest, seed):
    """Any codes whose ``C kh kw max|x| max|w|`` fits int32: the largest weights allowed."""
    w_largest = min(2**15, INT32_MAX // (case.c * case.kh * case.kw * max(x_largest, 1)))
    rng = np.random.default_rng(seed)
    x = codes(rng, (case.n, case.c, case.h, case.w), x_largest)
    wt = codes(rng, (case.o, case.c, case.kh, case.kw), w_largest)
    expected = conv2d_int64(x, wt, case.stride, case.padding)
    if case.layout == "NHWC":
        x, wt = nhwc(x, wt)
        expected = expected.transpose(0, 2, 3, 1)
    got = int16_conv2d(x, wt, case.stride, case.padding, layout=case.layout)
    assert got.dtype == np.int32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("tile", sorted({(1, 1), (3, 1), (2, 2), (5, 3), *TILES.values()}))
def test_every_register_tile_gives_the_same_integers(tile):
    """Odd C (the last pair half-filled), O not a multiple of the tile's lanes, pixels of two
    images not a multiple of its rows, a reduction of many pairs per tap."""
    rng = np.random.default_rng(tile[0] * 10 + tile[1])
    for c, o, size, kernel, stride in ((3, 5, 7, 3, 1), (37, 70, 9, 3, 2), (130, 17, 5, 1, 1)):
        x = codes(rng, (2, c, size, size), 1000)
        w = codes(rng, (o, c, kernel, kernel), 100)
        got = _int16_conv2d(x, w, stride, kernel // 2, "NCHW", tile)
        np.testing.assert_array_equal(got, conv2d_int64(x, w, (stride,) * 2, (kernel // 2,) * 2))


@pytest.mark.parametrize("weights_layout", ["NCHW", "NHWC"])
def test_weights_packed_once_serve_every_call(weights_layout):
    """Packed weights give the integers of the unpacked ones, for inputs of other sizes,
    strides, paddings and activation layouts than any one call (weights are packed once, as
    for the bit-serial operator)."""
    rng = np.random.default_rng(5)
    w = codes(rng, (21, 7, 3, 3), 200)
    packed = pack_int16_weights(w if weights_layout == "NCHW" else nhwc(w[:1], w)[1], layout=weights_layout)
    assert isinstance(packed, PackedInt16Weights)
    assert (packed.kernel, packed.channels, packed.out_channels, packed.magnitude) == ((3, 3), 7, 21, 200)
    for size, stride, padding in ((5, 1, 1), (11, 2, 0), (8, (2, 1), (0, 1))):
        x = codes(rng, (2, 7, size, size), 900)
        expected = conv2d_int64(x, w, stride if isinstance(stride, tuple) else (stride,) * 2,
                                padding if isinstance(padding, tuple) else (padding,) * 2)
        np.testing.assert_array_equal(int16_conv2d(x, packed, stride, padding), expected)
        np.testing.assert_array_equal(int16_conv2d(x, w, stride, padding), expected)
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        np.testing.assert_array_equal(int16_conv2d(xh, packed, stride, padding, layout="NHWC"),
                                      expected.transpose(0, 2, 3, 1))


def test_packed_weights_are_checked_like_unpacked_ones():
    """The range bound uses the packed weights' largest magnitude; channel counts and the
    register tile they were packed for must match the call."""
    x = np.full((1, 64, 3, 3), 2**15 - 1, np.int16)
    fits = pack_int16_weights(np.full((2, 64, 3, 3), 113, np.int16))
    assert int16_conv2d(x, fits)[0, 0, 0, 0] == 576 * 32767 * 113
    with pytest.raises(ValueError, match="= 2151612288 does not fit int32 accumulation"):
        int16_conv2d(x, pack_int16_weights(np.full((2, 64, 3, 3), -114, np.int16)))
    with pytest.raises(ValueError, match="shape mismatch: x has C=64 input channels, w 3"):
        int16_conv2d(x, pack_int16_weights(np.zeros((4, 3, 3, 3), np.int16)))
    with pytest.raises(TypeError, match="w must be int16; got int8"):
        pack_int16_weights(np.zeros((4, 3, 3, 3), np.int8))
    with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC'"):
        pack_int16_weights(np.zeros((4, 3, 3, 3), np.int16), layout="OIHW")
    other = _pack_weights(np.zeros((4, 64, 3, 3), np.int16), "NCHW", 8 * register_tile()[1] * 16)
    with pytest.raises(ValueError, match=r"packed for \d+ output channels per panel; this call's register"):
        int16_conv2d(x, other)


def test_unpadded_nhwc_input_is_read_in_place():
    """Contiguous NHWC, even C, no padding: the kernel reads the caller's array itself (1x1,
    stride 2, as ResNet's down-sampling shortcuts), which it leaves unchanged."""
    rng = np.random.default_rng(9)
    x, w = codes(rng, (2, 64, 7, 9), 3000), codes(rng, (40, 64, 1, 1), 3000)
    xh, wh = nhwc(x, w)
    before = xh.copy()
    got = int16_conv2d(xh, wh, 2, 0, layout="NHWC")
    np.testing.assert_array_equal(got, conv2d_int64(x, w, (2, 2), (0, 0)).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(xh, before)


@pytest.mark.parametrize(
    ("x_value", "w_value", "c"),
    [(2**15 - 1, 2**15 - 1, 2), (-(2**15), 2**15 - 1, 2), (-(2**15), -(2**15), 1), (-(2**15), 2**15 - 1, 1)],
)
def test_the_range_boundary_is_exact(x_value, w_value, c):
    """Outputs up to the int32 limit: 2 * 32767^2 = 2147352578 and -2 * 32768 * 32767 in one
    pair lane; (-32768)^2 = 2^30 with a zero partner (odd C)."""
    x = np.full((1, c, 2, 2), x_value, np.int16)
    w = np.full((3, c, 1, 1), w_value, np.int16)
    got = int16_conv2d(x, w)
    assert abs(int(got[0, 0, 0, 0])) <= INT32_MAX
    np.testing.assert_array_equal(got, np.full((1, 3, 2, 2), c * x_value * w_value))


def test_a_possible_int32_overflow_is_refused():
    """2 * (-32768)^2 = 2^31 does not fit int32: refused, although it is one pair lane that
    vpmaddwd would wrap. A long reduction: 576 * 32767 * 113 fits (exact), * 114 does not."""
    message = re.escape("C * kh * kw * max|x| * max|w| = 2147483648 does not fit int32")
    with pytest.raises(ValueError, match=message):
        int16_conv2d(np.full((1, 2, 1, 1), -(2**15), np.int16), np.full((1, 2, 1, 1), -(2**15), np.int16))
    x = np.full((1, 64, 3, 3), 2**15 - 1, np.int16)
    assert int16_conv2d(x, np.full((2, 64, 3, 3), 113, np.int16))[0, 0, 0, 0] == 576 * 32767 * 113
    with pytest.raises(ValueError, match="= 2151612288 does not fit int32 accumulation"):
        int16_conv2d(x, np.full((2, 64, 3, 3), 114, np.int16))


def test_bad_input_names_the_argument():
    x, w = np.zeros((1, 2, 3, 3), np.int16), np.zeros((4, 2, 3, 3), np.int16)
    with pytest.raises(TypeError, match="x must be int16; got int32"):
        int16_conv2d(x.astype(np.int32), w)
    with pytest.raises(ValueError, match=re.escape("w must be 4-D; got shape (4, 2, 3)")):
        int16_conv2d(x, w[..., 0])
    with pytest.raises(ValueError, match="shape mismatch: x has C=2 input channels, w 3"):
        int16_conv2d(x, np.zeros((4, 3, 3, 3), np.int16))
    with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC'"):
        int16_conv2d(x, w, layout="CHWN")
    with pytest.raises(ValueError, match="does not fit the padded input"):
        int16_conv2d(x, np.zeros((4, 2, 5, 5), np.int16))


def test_the_tile_follows_the_vector_isa_numba_compiles_for():
    assert numba_vector_isa() in ("AVX-512 VNNI", "AVX-512", "AVX2", "AVX", "SSE")
    assert register_tile() == TILES.get(numba_vector_isa(), _NARROW_TILE)


@pytest.mark.parametrize(
    ("cpu", "fused"),
    [("znver4", True), ("icelake-server", True), ("skylake-avx512", False), ("haswell", False)],
)
def test_vnni_is_found_by_what_llvm_emits(cpu, fused):
    """``vpdpwssd`` for AVX-512 VNNI targets; Skylake-X's AVX-512 and Haswell's AVX2 get
    ``vpmaddwd`` and an add (and so a register tile with room for the product)."""
    assert fuses_pair_accumulation(cpu, "") is fused


@pytest.mark.skipif(not numba_vector_isa().startswith(("AVX-512", "AVX2")), reason="x86 with AVX2 only")
def test_pairs_compile_to_multiply_add_pair_instructions():
    """One ``vpdpwssd`` (AVX-512 VNNI) or ``vpmaddwd`` per 16 lanes and row, no ``vpmulld``."""

    @njit
    def tile(out, out_rows, x_pairs, x_rows, taps, pairs, panel):
        pair_tile(out, out_rows, x_pairs, x_rows, taps, pairs, panel, 0, 3, 2)

    out, x_pairs, panel = np.zeros(96, np.int32), np.ones(16, np.int16).view(np.int32), np.ones(256, np.int16)
    rows, taps = np.array([0, 32, 64]), np.array([0, 1])
    tile(out, rows, x_pairs, np.zeros(3, np.intp), taps, 2, panel)
    np.testing.assert_array_equal(out, np.full(96, 8))  # 2 taps x 2 pairs x (1 + 1)
    asm = tile.inspect_asm(tile.signatures[0])
    pair_instructions = len(re.findall(r"\b(vpdpwssd|vpmaddwd)\b", asm))
    assert pair_instructions >= 6 and "vpmulld" not in asm


def test_avx2_code_is_exact_too():
    """A child process compiling for Haswell (``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=""``)
    takes the AVX2 tile and gives the oracle's integers."""
    script = textwrap.dedent(
        """
        import numpy as np
        from lpformats import PackedInt16Weights, int16_conv2d, pack_int16_weights
        from lpformats.bitserial_conv.int16_conv import TILES, register_tile
        from tests.lpformats.bitserial_conv.oracle import conv2d_int64, conv_cases, nhwc
        assert register_tile() == TILES["AVX2"], register_tile()
        rng = np.random.default_rng(1)
        x = rng.integers(-2000, 2000, (2, 37, 8, 9)).astype(np.int16)
        w = rng.integers(-2000, 2000, (45, 37, 3, 3)).astype(np.int16)
        got = int16_conv2d(x, w, (2, 1), 1)
        assert np.array_equal(got, conv2d_int64(x, w, (2, 1), (1, 1)))
        print("ok")
        """
    )
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
