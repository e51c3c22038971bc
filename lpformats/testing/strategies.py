"""Hypothesis strategies for property tests of quantizers.

* Formats of every family with bounded bit widths: :func:`fixed_formats`,
  :func:`float_formats` (every style), :func:`block_float_formats` (every layout),
  :func:`mx_formats`, :func:`scalar_formats`, :func:`any_formats`.
* Inputs for one format: :func:`representable_values` (values on its grid),
  :func:`rounding_boundaries` (midpoints, their float32/float64 neighbours, the largest finite
  value and one ulp beyond, subnormals, +-0, +-Inf, NaN: see
  :func:`lpformats.testing.boundaries.boundary_values`), :func:`block_arrays` (tensors whose
  blocks have chosen shared exponents and elements that saturate, flush or tie).
* Generic inputs: :func:`finite_arrays` (moderate magnitudes with many exact dyadic ties).

Every strategy shrinks toward simple examples: boundary points are listed simplest first.
"""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lpformats as lp
from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, MXFormat
from lpformats.testing.boundaries import (
    ELEMENT_KINDS,
    arrange_blocks,
    block_exponent_choices,
    block_of,
    boundary_values,
    check_scalar_format,
)
from lpformats.testing.simplicity import simplest_first


@st.composite
def fixed_formats(draw, overflow=("saturate", "wrap"), max_wl: int = 16) -> FixedPoint:
    """Signed and unsigned fixed point, 2..``max_wl`` bits, -4..12 fraction bits."""
    return FixedPoint(
        draw(st.integers(2, max_wl)),
        draw(st.integers(-4, 12)),
        signed=draw(st.booleans()),
        overflow=draw(st.sampled_from(overflow)),
    )


@st.composite
def float_formats(draw, styles=("ieee", "fn", "fnuz", "finite"), max_bits: int = 12) -> FloatFormat:
    """Floats of every style with at most ``max_bits`` bits (so that ``values()`` is small),
    default or shifted biases, with and without subnormals and saturation."""
    style = draw(st.sampled_from(styles))
    exp = draw(st.integers(2, min(6, max_bits - 2)))
    man = draw(st.integers(1 if style == "ieee" else 0, max_bits - 1 - exp))
    default_bias = (1 << (exp - 1)) - 1
    bias = draw(st.sampled_from([None, default_bias + 1, default_bias - 1]))
    return FloatFormat(
        exp,
        man,
        bias=bias,
        subnormals=draw(st.booleans()),
        style=style,
        overflow=draw(st.sampled_from([None, "saturate"])),
    )


def scalar_formats() -> st.SearchStrategy:
    """Fixed point or float formats."""
    return st.one_of(fixed_formats(), float_formats())


@st.composite
def block_float_formats(draw) -> BlockFloat:
    """SWALP block floating point of 2..10 bits in every layout (whole tensor, per index of
    an axis, blocks of 1..9 elements), 3..8-bit shared exponents."""
    wl = draw(st.integers(2, 10))
    exp_bits = draw(st.integers(3, 8))
    layout = draw(st.sampled_from(["whole", "axis", "size"]))
    if layout == "axis":
        return BlockFloat(wl, block_axis=draw(st.sampled_from([0, 1, -1])), exp_bits=exp_bits)
    if layout == "size":
        return BlockFloat(wl, block_size=draw(st.integers(1, 9)), exp_bits=exp_bits)
    return BlockFloat(wl, exp_bits=exp_bits)


#: MX element formats: the OCP ones (E4M3, E5M2, E2M3, E3M2, E2M1, INT8).
MX_ELEMENTS = (
    FloatFormat(4, 3, style="fn"),
    FloatFormat(5, 2),
    FloatFormat(2, 3, style="finite"),
    FloatFormat(3, 2, style="finite"),
    FloatFormat(2, 1, style="finite"),
    FixedPoint(8, 6),
)


@st.composite
def mx_formats(draw) -> MXFormat:
    """OCP MX formats with every element type, blocks of 1..9 along axis 0, 1 or -1."""
    return MXFormat(
        draw(st.sampled_from(MX_ELEMENTS)),
        block_size=draw(st.integers(1, 9)),
        axis=draw(st.sampled_from([0, 1, -1])),
    )


def any_formats() -> st.SearchStrategy:
    """A format of any family."""
    return st.one_of(fixed_formats(), float_formats(), block_float_formats(), mx_formats())


MATRICES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12)


def finite_arrays(shape=MATRICES, dtype=np.float32, magnitude: float = 1e6) -> st.SearchStrategy:
    """Finite arrays of moderate magnitude, with many exact small dyadic values (ties)."""
    width = 32 if dtype == np.float32 else 64
    element = st.one_of(
        st.floats(-magnitude, magnitude, width=width, allow_subnormal=True),
        st.integers(-4096, 4096).map(lambda k: k / 64.0),
    )
    return hnp.arrays(dtype, shape, elements=element)


def representable_values(fmt: object, *, finite: bool = True) -> st.SearchStrategy:
    """Values of a scalar format (float64 Python floats): drawn from ``fmt.values()`` for
    formats of at most 16 bits, else built from random codes (sign, exponent, mantissa or
    the integer ``k``). ``finite=False`` adds the format's infinities."""
    fmt = check_scalar_format(fmt, "representable_values")
    if fmt.bits <= 16:
        return st.sampled_from(_grid_simplest_first(fmt, finite))
    if isinstance(fmt, FixedPoint):
        return st.integers(fmt.kmin, fmt.kmax).map(lambda k: float(np.ldexp(float(k), -fmt.fl)))

    @st.composite
    def float_codes(draw) -> float:
        field = draw(st.integers(0, fmt.max_exponent_field))
        man = draw(st.integers(0, (1 << fmt.man) - 1))
        if field == fmt.max_exponent_field and fmt.style == "fn":
            man = min(man, (1 << fmt.man) - 2)
        magnitude = (
            np.ldexp(float(man), fmt.emin - fmt.man)
            if field == 0
            else np.ldexp(1.0 + np.ldexp(float(man), -fmt.man), field - fmt.bias)
        )
        if field == 0 and not fmt.subnormals:
            magnitude = 0.0
        negative = draw(st.booleans()) and (magnitude != 0 or fmt.has_negative_zero)
        return float(-magnitude if negative else magnitude)

    values = float_codes()
    return values if finite or not fmt.has_inf else st.one_of(values, st.sampled_from([np.inf, -np.inf]))


@functools.lru_cache(maxsize=64)
def _grid_simplest_first(fmt: FixedPoint | FloatFormat, finite: bool) -> list[float]:
    values = fmt.values()
    return simplest_first(values[np.isfinite(values)] if finite else values).tolist()


@functools.lru_cache(maxsize=64)
def _boundaries_simplest_first(fmt: FixedPoint | FloatFormat, dtype: np.dtype, nan: bool) -> list[float]:
    return simplest_first(boundary_values(fmt, dtype, nan=nan)).tolist()


def rounding_boundaries(fmt: object, dtype=np.float32, *, nan: bool = True) -> st.SearchStrategy:
    """Single ``dtype`` inputs from :func:`~lpformats.testing.boundaries.boundary_values`:
    grid values, exact midpoints and their ``dtype`` neighbours, the largest finite value,
    half and one ulp beyond, subnormals, +-0, +-Inf and (``nan=True``) NaN; simplest first."""
    return st.sampled_from(
        _boundaries_simplest_first(check_scalar_format(fmt, "rounding_boundaries"), np.dtype(dtype), nan)
    )


def boundary_arrays(
    fmt: object, dtype=np.float32, *, nan: bool = True, max_size: int = 64, magnitude: float | None = None
) -> st.SearchStrategy:
    """1-D ``dtype`` arrays mixing :func:`rounding_boundaries` with arbitrary finite floats
    (up to ``magnitude``, default twice the format's largest value)."""
    fmt = check_scalar_format(fmt, "boundary_arrays")
    dtype = np.dtype(dtype)
    top = min(2 * fmt.max_value, float(np.finfo(dtype).max))
    magnitude = top if magnitude is None else magnitude
    element = st.one_of(
        rounding_boundaries(fmt, dtype, nan=nan), st.floats(-magnitude, magnitude, width=8 * dtype.itemsize)
    )
    return hnp.arrays(dtype, st.integers(1, max_size), elements=element)


@st.composite
def block_arrays(
    draw, fmt: object, dtype=np.float32, max_blocks: int = 4, max_elements: int = 8
) -> np.ndarray:
    """Tensors of a block format (BlockFloat or MXFormat) with controlled block structure:
    each block's shared exponent is drawn from the interesting ones (around 0, at and beyond
    both clamp ends) and each element is a grid value, a tie, a neighbour of a tie, a value
    that saturates, one that flushes to zero, or a random one (one block per row of the
    result; see :func:`~lpformats.testing.boundaries.block_of`)."""
    fmt = lp.parse(fmt)
    if not isinstance(fmt, (BlockFloat, MXFormat)):
        raise ValueError(f"block_arrays needs a block format (BlockFloat or MXFormat); got {fmt}")
    dtype = np.dtype(dtype)
    whole = isinstance(fmt, BlockFloat) and fmt.block_axis is None and fmt.block_size is None
    blocks = 1 if whole else draw(st.integers(1, max_blocks))
    size = getattr(fmt, "block_size", None)
    elements = draw(st.integers(0, max_elements if size is None else min(max_elements, size - 1)))
    choices = block_exponent_choices(fmt, dtype)
    rows = []
    for _ in range(blocks):
        exponent = draw(st.sampled_from(choices))
        kinds = draw(st.lists(st.sampled_from(ELEMENT_KINDS), min_size=elements, max_size=elements))
        rows.append(block_of(fmt, exponent, kinds, lambda n: draw(st.integers(0, n - 1)), dtype))
    return arrange_blocks(np.stack(rows), fmt)
