"""Counter-based random bits for stochastic rounding.

The bits for element ``i`` of a call are a pure function of ``(seed, counter, i)``:
``mix64(key + (i + 1) * GOLDEN)`` with ``key = mix64(mix64(seed) ^ mix64(counter + GOLDEN))``
and ``mix64`` the SplitMix64 finalizer (Steele, Lea and Flood, OOPSLA 2014), a bijection of
64-bit words with full avalanche. No state is carried between elements or threads, so the
same seed gives the same bits at any thread count and any chunking of the work.

Element index ``i`` is the element's position in C order of the tensor (for MX formats whose
block axis is not the last one: of the tensor with that axis moved last).
"""

from __future__ import annotations

import secrets

import numpy as np
from numba import njit

from lpformats._bitcast import bits_float64

GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
#: Random bits per element when ``stochastic_bits`` is not given: the float64 significand.
FULL_PRECISION_BITS = 53


def _mix64_int(z: int) -> int:
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, counter: int = 0) -> int:
    """64-bit key of the random stream for ``(seed, counter)``."""
    return _mix64_int(_mix64_int(seed) ^ _mix64_int(counter + GOLDEN))


def fresh_seed() -> int:
    """A new random 63-bit seed (used when the caller passes ``seed=None``)."""
    return secrets.randbits(63)


def check_seed(seed: object, name: str = "seed") -> int:
    """Validate a user seed: an integer in [0, 2**64)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer or None, got {seed!r}")
    if not 0 <= int(seed) < 1 << 64:
        raise ValueError(f"{name} must be in [0, 2**64), got {seed}")
    return int(seed)


@njit(inline="always", cache=True)
def _mix64_products(z):
    """The SplitMix64 finalizer on a uint64 up to its last step (two xor-shift-multiplies)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    return (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)


@njit(inline="always", cache=True)
def mix64(z):
    """SplitMix64 finalizer on a uint64."""
    z = _mix64_products(z)
    return z ^ (z >> np.uint64(31))


@njit(inline="always", cache=True)
def mix64_top(z, used):
    """``mix64(z) >> (64 - used)`` for ``1 <= used <= 31`` (uint64 ``z``, int ``used``): the
    top ``used`` bits, without the finalizer's last step.

    ``mix64`` ends with ``w ^ (w >> 31)``. Bit ``p`` of ``w >> 31`` is bit ``p + 31`` of
    ``w``, which is zero for ``p >= 33``; so the top 31 bits (positions 33..63) of the result
    are those of ``w``. Skipping the step saves two vector operations per word; the top bits
    are all that a rounding which drops ``used`` bits reads (see
    ``lpformats._matmul_kernel._stochastic_step``)."""
    return _mix64_products(z) >> np.uint64(64 - used)


@njit(inline="always", cache=True)
def stream_word(key, index):
    """The word that :func:`mix64` turns into element ``index``'s bits (both uint64):
    ``key + (index + 1) * GOLDEN``. Consecutive elements' words differ by ``GOLDEN``, so a
    loop adds it instead of multiplying (a 64-bit multiply is three on AVX2)."""
    return key + (index + np.uint64(1)) * np.uint64(GOLDEN)


@njit(inline="always", cache=True)
def element_bits(key, index):
    """64 random bits for element ``index`` of the stream ``key`` (both uint64)."""
    return mix64(stream_word(key, index))


#: Bit pattern of 2.0**52: OR-ing an integer below 2**52 into its mantissa makes 2**52 + it.
_TWO52_BITS = 0x4330000000000000


@njit(inline="always", cache=True)
def random_float(word, shift):
    """``mix64(word) >> shift`` (``shift >= 11``: below 2**53) as an exact float64.

    Converted by placing its halves in the mantissa of 2**52 (``R = 2 * (R >> 1) + (R & 1)``):
    integer OR and float subtraction vectorize on every x86 SIMD level, whereas AVX2 has no
    64-bit integer to float conversion and LLVM's emulation costs more than the mixing."""
    r = mix64(word) >> shift
    two52 = bits_float64(np.int64(_TWO52_BITS))
    high = bits_float64(np.int64((r >> np.uint64(1)) | np.uint64(_TWO52_BITS))) - two52
    low = bits_float64(np.int64((r & np.uint64(1)) | np.uint64(_TWO52_BITS))) - two52
    return high * 2.0 + low


@njit(parallel=False, cache=True)
def _bits_kernel(key, start, count, nbits, out):
    shift = np.uint64(64 - nbits)
    for i in range(count):
        out[i] = element_bits(key, np.uint64(start + i)) >> shift


def random_bits(seed: int, count: int, nbits: int = FULL_PRECISION_BITS, *, counter: int = 0,
                start: int = 0) -> np.ndarray:
    """The ``nbits``-bit random integers that stochastic rounding uses for elements
    ``start .. start+count-1`` of a call with this ``seed`` and ``counter`` (uint64 array).

    Stochastic rounding of element ``i`` rounds ``y = x / ulp`` to ``floor(y + R_i / 2**nbits)``
    with ``R_i = random_bits(...)[i]``; exposed so tests and other tools (e.g. gfloat) can
    reproduce our results bit for bit.
    """
    out = np.empty(count, dtype=np.uint64)
    _bits_kernel(np.uint64(stream_key(check_seed(seed), counter)), start, count, nbits, out)
    return out
