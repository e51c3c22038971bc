"""The per-element arithmetic of the quantizers as torch tensor operations, step for step the
Numba functions of :mod:`lpformats.rng`, :mod:`lpformats.rounding` and
:mod:`lpformats._elements` (whose docstrings state the semantics), so that results are equal
bit for bit on every device.

Values are float64 tensors; exponents and random words int64 tensors. Every operation is exact
(multiplications by powers of two, integer-valued float64 below ``2**53``), so neither the
device nor the order of evaluation can change a bit. torch has no unsigned 64-bit arithmetic:
SplitMix64 runs in int64, whose wrap-around multiplication and addition give the same low
64 bits, with explicit masks turning the arithmetic right shifts into logical ones.
"""

from __future__ import annotations

import torch

from lpformats._elements import OVERFLOW_NAN, OVERFLOW_SATURATE
from lpformats.rng import GOLDEN
from lpformats.rounding import DOWN, NEAREST, NEAREST_AWAY, STOCHASTIC, UP, ZERO

_DBL_MAX = torch.finfo(torch.float64).max
_DBL_TRUE_MIN = 5e-324


def as_int64(word: int) -> int:
    """The unsigned 64-bit ``word`` as the int64 with the same bits."""
    return word - (1 << 64) if word >= 1 << 63 else word


_GOLDEN = as_int64(GOLDEN)
_MIX1 = as_int64(0xBF58476D1CE4E5B9)
_MIX2 = as_int64(0x94D049BB133111EB)


def logical_shift_right(z: torch.Tensor, shift: int) -> torch.Tensor:
    """``z >> shift`` of the 64-bit words ``z`` as unsigned integers (``shift`` in 1..63)."""
    return (z >> shift) & ((1 << (64 - shift)) - 1)


def mix64(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64 finalizer (:func:`lpformats.rng.mix64`) on int64 words."""
    z = (z ^ logical_shift_right(z, 30)) * _MIX1
    z = (z ^ logical_shift_right(z, 27)) * _MIX2
    return z ^ logical_shift_right(z, 31)


def random_integers(key: int, index: torch.Tensor, nbits: int) -> torch.Tensor:
    """The ``nbits``-bit random integers (float64) of stream ``key`` (uint64) for the int64
    element indices ``index``: :func:`lpformats.rng.element_bits` ``>> (64 - nbits)``."""
    words = mix64((index + 1) * _GOLDEN + as_int64(key))
    return logical_shift_right(words, 64 - nbits).to(torch.float64)


def pow2(exponent: torch.Tensor | int) -> torch.Tensor | float:
    """Exact ``2.0**exponent`` for integers in [-1022, 1023] (a float for an int exponent)."""
    if isinstance(exponent, int):
        return float(2.0**exponent)
    return ((exponent + 1023) << 52).view(torch.float64)


def exponent_of(value: torch.Tensor) -> torch.Tensor:
    """``floor(log2(|value|))`` of normal float64 values read from the bits (zero and
    subnormals: -1023; inf and NaN: 1024), as :func:`lpformats._bitcast.exponent_of`."""
    return ((value.view(torch.int64) >> 52) & 0x7FF) - 1023


def round_to_integer(y: torch.Tensor, mode: int, rand: torch.Tensor | None,
                     rand_scale: float) -> torch.Tensor:
    """:func:`lpformats.rounding.round_to_integer` element-wise."""
    if mode == NEAREST:
        return torch.round(y)  # ties to even
    if mode == NEAREST_AWAY:
        t = torch.trunc(y)
        return torch.where((y - t).abs() >= 0.5, t + torch.copysign(torch.ones_like(y), y), t)
    if mode == ZERO:
        return torch.trunc(y)
    if mode == DOWN:
        return torch.floor(y)
    if mode == UP:
        return torch.ceil(y)
    assert mode == STOCHASTIC and rand is not None
    f = torch.floor(y)
    up_from_frac = (y - f) * rand_scale >= rand_scale - rand
    up_from_gap = rand >= (f + 1.0 - y) * rand_scale
    return torch.where(torch.where(y >= 0.0, up_from_frac, up_from_gap), f + 1.0, f)


def keep_nonzero(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """:func:`lpformats._elements.keep_nonzero` element-wise."""
    tiny = torch.copysign(torch.full_like(x, _DBL_TRUE_MIN), x)
    return torch.where((y == 0.0) & (x != 0.0), tiny, y)


def _times_pow2(x: torch.Tensor, exponent: torch.Tensor | int) -> torch.Tensor:
    return x * pow2(exponent)


def fixed_value(x: torch.Tensor, fl: torch.Tensor | int, kmin: float, kmax: float, wrap: bool,
                mode: int, rand: torch.Tensor | None, rand_scale: float) -> torch.Tensor:
    """:func:`lpformats._elements.fixed_value` element-wise (``fl`` per element or one int)."""
    k = round_to_integer(keep_nonzero(_times_pow2(x, fl), x), mode, rand, rand_scale)
    if wrap:
        span = kmax - kmin + 1.0
        wrapped = k - torch.floor((k - kmin) / span) * span
        k = torch.where((k.abs() <= _DBL_MAX) & ((k < kmin) | (k > kmax)), wrapped, k)
    k = torch.clamp(k, kmin, kmax) + 0.0
    return _times_pow2(k, -fl)


def float_value(x: torch.Tensor, man: int, emin: torch.Tensor | int, maxval: torch.Tensor | float,
                flush: bool, no_negative_zero: bool, overflow: int, mode: int,
                rand: torch.Tensor | None, rand_scale: float) -> torch.Tensor:
    """:func:`lpformats._elements.float_value` element-wise (``emin``, ``maxval`` per element
    or one number)."""
    floor_exponent = exponent_of(x)
    floor_exponent = (torch.clamp(floor_exponent, min=emin) if isinstance(emin, int)
                      else torch.maximum(floor_exponent, emin))
    shift = man - floor_exponent
    half = shift >> 1
    y = keep_nonzero(_times_pow2(_times_pow2(x, half), shift - half), x)
    k = round_to_integer(y, mode, rand, rand_scale)
    q = _times_pow2(_times_pow2(k, -half), half - shift)
    # float_finish
    magnitude = q.abs()
    if mode == ZERO:
        toward_max = x.abs() <= _DBL_MAX
    elif mode == DOWN:
        toward_max = (x.abs() <= _DBL_MAX) & (x > 0)
    elif mode == UP:
        toward_max = (x.abs() <= _DBL_MAX) & (x < 0)
    else:
        toward_max = torch.zeros_like(x, dtype=torch.bool)
    limit = torch.copysign(maxval if isinstance(maxval, torch.Tensor) else torch.full_like(x, maxval), x)
    if overflow != OVERFLOW_SATURATE:
        beyond = torch.copysign(torch.full_like(x, float("nan") if overflow == OVERFLOW_NAN
                                                else float("inf")), x)
        limit = torch.where(toward_max, limit, beyond)
    q = torch.where(magnitude > maxval, limit, q)
    if flush:
        q = torch.where(magnitude < pow2(emin), torch.zeros_like(q), q)
    signed_zero = torch.zeros_like(x) if no_negative_zero else torch.copysign(torch.zeros_like(x), x)
    return torch.where(q == 0.0, signed_zero, q)
