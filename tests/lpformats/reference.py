"""A slow, obviously-correct reference quantizer in exact rational arithmetic.

Everything here is written from the definitions in ``DESIGN.md`` with :class:`fractions.Fraction`
and plain Python loops; it shares no arithmetic with :mod:`lpformats` (it reads only the
format's parameters: widths, bias, style, block layout). Tests compare ``lpformats.quantize``
with it bit for bit.

Conventions:

* Inputs are numpy float arrays; every element is converted exactly to a ``Fraction``.
* A value is rounded by scaling it so that the grid has unit spacing, rounding that rational
  ``y`` to an integer (:func:`round_int`) and scaling back.
* Stochastic rounding of ``y`` with the uniform integer ``R`` of ``r`` bits is
  ``floor(y + R / 2**r)``; callers pass ``R`` per element (``rand``, shaped like ``x``).
* Results are float64 arrays (every value of the tested formats is a float64).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from lpformats import BlockFloat, FixedPoint, FloatFormat, MXFormat

MODES = ("nearest", "nearest_away", "zero", "down", "up", "stochastic")


def pow2(e: int) -> Fraction:
    """Exactly ``2**e`` for any integer ``e``."""
    return Fraction(2) ** e


def floor_log2(q: Fraction) -> int:
    """``floor(log2(q))`` for a rational ``q > 0``, exactly."""
    e = q.numerator.bit_length() - q.denominator.bit_length()
    while pow2(e) > q:
        e -= 1
    while pow2(e + 1) <= q:
        e += 1
    return e


def round_int(y: Fraction, mode: str, rand: int = 0, nbits: int = 53) -> int:
    """Round the rational ``y`` to an integer in ``mode`` (``rand``: stochastic rounding's ``R``)."""
    if mode == "nearest":
        f = math.floor(y)
        d = y - f
        return f + 1 if d > Fraction(1, 2) or (d == Fraction(1, 2) and f % 2 == 1) else f
    if mode == "nearest_away":
        f = math.floor(abs(y))
        k = f + 1 if abs(y) - f >= Fraction(1, 2) else f
        return k if y >= 0 else -k
    if mode == "zero":
        return math.trunc(y)
    if mode == "down":
        return math.floor(y)
    if mode == "up":
        return math.ceil(y)
    if mode == "stochastic":
        return math.floor(y + Fraction(rand, 2**nbits))
    raise ValueError(mode)


# ---------------------------------------------------------------- scalar formats
def fixed_max(fmt: FixedPoint) -> Fraction:
    return Fraction((1 << (fmt.wl - 1)) - 1 if fmt.signed else (1 << fmt.wl) - 1) * pow2(-fmt.fl)


def fixed_min(fmt: FixedPoint) -> Fraction:
    return Fraction(-(1 << (fmt.wl - 1)) if fmt.signed else 0) * pow2(-fmt.fl)


def _is_special(x: float | Fraction) -> bool:
    return isinstance(x, float) and not math.isfinite(x)


def _sign(x: float | Fraction) -> float:
    return -1.0 if (x < 0 or (isinstance(x, float) and math.copysign(1.0, x) < 0)) else 1.0


def ref_fixed(x: float | Fraction, fmt: FixedPoint, mode: str, rand: int = 0, nbits: int = 53) -> float:
    """``x`` (not NaN; a float or an exact rational) rounded to ``k * 2**-fl``; out-of-range
    ``k`` saturates or wraps (two's complement modulo ``2**wl``); infinities saturate."""
    kmin = -(1 << (fmt.wl - 1)) if fmt.signed else 0
    kmax = kmin + (1 << fmt.wl) - 1
    if _is_special(x):
        k = kmax if x > 0 else kmin
    else:
        k = round_int(Fraction(x) * pow2(fmt.fl), mode, rand, nbits)
        wrapped = (k - kmin) % (1 << fmt.wl) + kmin
        k = wrapped if fmt.overflow == "wrap" else min(max(k, kmin), kmax)
    return float(k * pow2(-fmt.fl))


def float_max(fmt: FloatFormat) -> Fraction:
    """Largest finite value, from the code table: the top exponent field holds inf/NaN in
    ``ieee``; in ``fn`` only its all-ones mantissa is NaN; ``fnuz``/``finite`` use it fully."""
    top = (1 << fmt.exp) - 1
    full = (1 << fmt.man) - 1
    if fmt.style == "ieee" or (fmt.style == "fn" and fmt.man == 0):
        field, mantissa = top - 1, full
    elif fmt.style == "fn":
        field, mantissa = top, full - 1
    else:
        field, mantissa = top, full
    return (1 + Fraction(mantissa, 1 << fmt.man)) * pow2(field - fmt.bias)


def ref_float(x: float | Fraction, fmt: FloatFormat, mode: str, rand: int = 0, nbits: int = 53,
              saturate: bool = False) -> float:
    """``x`` rounded to ``fmt``: ``man`` bits below the leading bit, fixed spacing
    ``2**(emin-man)`` below ``2**emin``; unbounded exponent range first, then the range rules
    (overflow by style, ``saturate``, IEEE directed rounding stops at max, flush to zero)."""
    if _is_special(x) and math.isnan(x):
        return math.nan
    largest = float_max(fmt)
    saturating = saturate or fmt.overflow == "saturate" or fmt.style == "finite"
    beyond = math.inf if fmt.style == "ieee" else math.nan
    if _is_special(x):
        return math.copysign(float(largest) if saturating else beyond, x)
    zero = 0.0 if fmt.style == "fnuz" else _sign(x) * 0.0
    if x == 0:
        return zero
    emin = 1 - fmt.bias
    X = Fraction(x)
    ulp = pow2(max(floor_log2(abs(X)), emin) - fmt.man)
    q = round_int(X / ulp, mode, rand, nbits) * ulp
    if abs(q) > largest:
        toward_max = mode == "zero" or (mode == "down" and x > 0) or (mode == "up" and x < 0)
        if not (saturating or toward_max):
            return math.copysign(beyond, x)
        q = largest if x > 0 else -largest
    if not fmt.subnormals and 0 < abs(q) < pow2(emin):
        q = Fraction(0)
    return zero if q == 0 else float(q)


def ref_scalar(x: float | Fraction, fmt: FixedPoint | FloatFormat, mode: str, rand: int = 0, nbits: int = 53,
               saturate: bool = False) -> float:
    if isinstance(fmt, FixedPoint):
        return ref_fixed(x, fmt, mode, rand, nbits)
    return ref_float(x, fmt, mode, rand, nbits, saturate)


# ---------------------------------------------------------------- block formats
def _blocks_along_last(shape: tuple[int, ...], size: int) -> list[list[tuple[int, ...]]]:
    """Index lists of blocks of ``size`` consecutive elements along the last axis."""
    blocks = []
    for row in np.ndindex(*shape[:-1]):
        for start in range(0, shape[-1], size):
            blocks.append([(*row, c) for c in range(start, min(start + size, shape[-1]))])
    return blocks


def bfp_blocks(shape: tuple[int, ...], fmt: BlockFloat) -> list[list[tuple[int, ...]]]:
    """The element indices of each block: whole tensor, per index of ``block_axis``, or
    ``block_size`` contiguous elements along the last axis."""
    if fmt.block_size is not None:
        return _blocks_along_last(shape, fmt.block_size)
    everything = list(np.ndindex(*shape))
    if fmt.block_axis is None:
        return [everything]
    axis = fmt.block_axis % len(shape)
    return [[i for i in everything if i[axis] == j] for j in range(shape[axis])]


def _nan_check(x: np.ndarray, nan: str) -> None:
    if nan == "raise" and np.isnan(x).any():
        raise ValueError("NaN")


def ref_blockfloat(x: np.ndarray, fmt: BlockFloat, mode: str, rand: np.ndarray | None = None,
                   nbits: int = 53, nan: str = "raise") -> np.ndarray:
    """SWALP block floating point: per block ``E = floor(log2(max|x|))`` clamped to the
    ``exp_bits`` range, ``k = round(x / 2**(E+2-wl))`` clamped to ``wl``-bit two's complement;
    NaN becomes 0 with ``nan="zero"``."""
    _nan_check(x, nan)
    lo, hi = -(1 << (fmt.exp_bits - 1)), (1 << (fmt.exp_bits - 1)) - 1
    kmin, kmax = -(1 << (fmt.wl - 1)), (1 << (fmt.wl - 1)) - 1
    out = np.zeros(x.shape, dtype=np.float64)
    for block in bfp_blocks(x.shape, fmt):
        vals = [0.0 if math.isnan(float(x[i])) else float(x[i]) for i in block]
        m = max(abs(v) for v in vals)
        if math.isinf(m):
            E = hi
        elif m == 0:
            E = lo
        else:
            E = min(max(floor_log2(Fraction(m)), lo), hi)
        step = pow2(E + 2 - fmt.wl)
        for i, v in zip(block, vals, strict=True):
            if math.isinf(v):
                k = kmax if v > 0 else kmin
            else:
                r = 0 if rand is None else int(rand[i])
                k = min(max(round_int(Fraction(v) / step, mode, r, nbits), kmin), kmax)
            out[i] = float(k * step)
    return out


def element_max(element: FixedPoint | FloatFormat) -> Fraction:
    return fixed_max(element) if isinstance(element, FixedPoint) else float_max(element)


def ref_mx(x: np.ndarray, fmt: MXFormat, mode: str, rand: np.ndarray | None = None,
           nbits: int = 53, nan: str = "propagate") -> np.ndarray:
    """OCP MX: per block of ``block_size`` along ``axis``, scale exponent
    ``X = floor(log2(max|x|)) - floor(log2(element max))`` clamped to [-127, 127]; elements
    ``x / 2**X`` rounded in the element format with saturation. A block holding Inf, or NaN
    (``nan="propagate"``), becomes all NaN; ``nan="zero"`` maps NaN elements to 0."""
    _nan_check(x, nan)
    axis = fmt.axis % x.ndim
    moved = np.moveaxis(x, axis, -1)
    moved_rand = None if rand is None else np.moveaxis(rand, axis, -1)
    out = np.zeros(moved.shape, dtype=np.float64)
    emax = floor_log2(element_max(fmt.element))
    signed_zero = isinstance(fmt.element, FloatFormat) and fmt.element.style != "fnuz"
    for block in _blocks_along_last(moved.shape, fmt.block_size):
        raw = [float(moved[i]) for i in block]
        if any(math.isinf(v) for v in raw) or (nan == "propagate" and any(math.isnan(v) for v in raw)):
            for i in block:
                out[i] = math.nan
            continue
        vals = [0.0 if math.isnan(v) else v for v in raw]
        m = max(abs(v) for v in vals)
        X = -127 if m == 0 else min(max(floor_log2(Fraction(m)) - emax, -127), 127)
        for i, v in zip(block, vals, strict=True):
            r = 0 if moved_rand is None else int(moved_rand[i])
            e = ref_scalar(Fraction(v) / pow2(X), fmt.element, mode, r, nbits, saturate=True)
            out[i] = float(Fraction(e) * pow2(X)) if e != 0 else _sign(v) * 0.0 if signed_zero else 0.0
    return np.moveaxis(out, -1, axis)


def reference_quantize(x: np.ndarray, fmt, mode: str = "nearest", rand: np.ndarray | None = None,
                       nbits: int = 53, nan: str | None = None) -> np.ndarray:
    """Reference ``quantize`` of the array ``x`` (float64 result). ``rand``: stochastic
    rounding's ``R`` per element, shaped like ``x``. ``nan``: as ``lpformats.quantize``."""
    x = np.asarray(x)
    if isinstance(fmt, BlockFloat):
        return ref_blockfloat(x, fmt, mode, rand, nbits, nan or "raise")
    if isinstance(fmt, MXFormat):
        return ref_mx(x, fmt, mode, rand, nbits, nan or "propagate")
    has_nan = isinstance(fmt, FloatFormat) and fmt.style != "finite"
    policy = nan or ("propagate" if has_nan else "raise")
    _nan_check(x, policy)
    out = np.empty(x.shape, dtype=np.float64)
    for i in np.ndindex(*x.shape):
        v = float(x[i])
        if math.isnan(v) and policy == "zero":
            out[i] = 0.0
        else:
            out[i] = ref_scalar(v, fmt, mode, 0 if rand is None else int(rand[i]), nbits)
    return out
