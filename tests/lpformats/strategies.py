"""Hypothesis strategies: formats of every family and inputs inside their range."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat


@st.composite
def fixed_formats(draw, overflow=("saturate", "wrap")) -> FixedPoint:
    return FixedPoint(draw(st.integers(2, 16)), draw(st.integers(-4, 12)), signed=draw(st.booleans()),
                      overflow=draw(st.sampled_from(overflow)))


@st.composite
def float_formats(draw) -> FloatFormat:
    """Floats of every style with at most 12 bits (so that ``values()`` is small)."""
    style = draw(st.sampled_from(["ieee", "fn", "fnuz", "finite"]))
    exp = draw(st.integers(2, 6))
    man = draw(st.integers(1 if style == "ieee" else 0, 11 - exp))
    default_bias = (1 << (exp - 1)) - 1
    bias = draw(st.sampled_from([None, default_bias + 1, default_bias - 1]))
    return FloatFormat(exp, man, bias=bias, subnormals=draw(st.booleans()), style=style,
                       overflow=draw(st.sampled_from([None, "saturate"])))


def scalar_formats() -> st.SearchStrategy:
    return st.one_of(fixed_formats(), float_formats())


@st.composite
def block_float_formats(draw) -> BlockFloat:
    wl = draw(st.integers(2, 10))
    exp_bits = draw(st.integers(3, 8))
    layout = draw(st.sampled_from(["whole", "axis", "size"]))
    if layout == "axis":
        return BlockFloat(wl, block_axis=draw(st.sampled_from([0, 1, -1])), exp_bits=exp_bits)
    if layout == "size":
        return BlockFloat(wl, block_size=draw(st.integers(1, 9)), exp_bits=exp_bits)
    return BlockFloat(wl, exp_bits=exp_bits)


MX_ELEMENTS = [FloatFormat(4, 3, style="fn"), FloatFormat(5, 2), FloatFormat(2, 3, style="finite"),
               FloatFormat(3, 2, style="finite"), FloatFormat(2, 1, style="finite"), FixedPoint(8, 6)]


@st.composite
def mx_formats(draw) -> MXFormat:
    return MXFormat(draw(st.sampled_from(MX_ELEMENTS)), block_size=draw(st.integers(1, 9)),
                    axis=draw(st.sampled_from([0, 1, -1])))


def any_formats() -> st.SearchStrategy:
    return st.one_of(fixed_formats(), float_formats(), block_float_formats(), mx_formats())


MATRICES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12)


def finite_arrays(shape=MATRICES,
                  dtype=np.float32, magnitude: float = 1e6) -> st.SearchStrategy:
    """Finite arrays of moderate magnitude, with many exact small dyadic values (ties)."""
    width = 32 if dtype == np.float32 else 64
    element = st.one_of(
        st.floats(-magnitude, magnitude, width=width, allow_subnormal=True),
        st.integers(-4096, 4096).map(lambda k: k / 64.0),
    )
    return hnp.arrays(dtype, shape, elements=element)


def in_range(x: np.ndarray, fmt) -> np.ndarray:
    """``x`` clipped into a scalar format's representable range."""
    low = fmt.min_value if isinstance(fmt, FixedPoint) else -fmt.max_value
    return np.clip(x, low, fmt.max_value).astype(x.dtype)
