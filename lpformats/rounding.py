"""Rounding modes: names, validation, and the scalar rounding of a scaled value to an integer.

Every quantizer reduces to: scale ``x`` so that the target grid has unit spacing
(``y = x / ulp``, exact: ``ulp`` is a power of two), round ``y`` to an integer ``k`` with
:func:`round_to_integer`, then clamp ``k`` and scale back.

Modes (``y`` signed):

========================  ==============================================================
``nearest``               nearest integer, ties to even (IEEE roundTiesToEven)
``nearest_away``          nearest integer, ties away from zero (roundTiesToAway)
``zero``                  toward zero (truncate)
``down``                  toward -inf (floor)
``up``                    toward +inf (ceil)
``stochastic``            ``floor(y + R / 2**nbits)``, ``R`` uniform on ``[0, 2**nbits)``:
                          rounds up with probability ``frac(y)`` (exactly, when ``frac(y)``
                          has at most ``nbits`` bits; else within ``2**-nbits``)
========================  ==============================================================
"""

from __future__ import annotations

import numpy as np
from numba import njit

ROUNDING_MODES = ("nearest", "nearest_away", "zero", "down", "up", "stochastic")
NEAREST, NEAREST_AWAY, ZERO, DOWN, UP, STOCHASTIC = range(6)


def rounding_code(rounding: str) -> int:
    """Kernel code of a rounding-mode name; ``ValueError`` listing the valid names."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(
            f"rounding must be one of {', '.join(map(repr, ROUNDING_MODES))}; got {rounding!r}"
        )
    return ROUNDING_MODES.index(rounding)


def check_stochastic_bits(stochastic_bits: object) -> int:
    """Validate ``stochastic_bits`` (random bits per element, 1..53); None means 53."""
    from lpformats.rng import FULL_PRECISION_BITS

    if stochastic_bits is None:
        return FULL_PRECISION_BITS
    if isinstance(stochastic_bits, bool) or not isinstance(stochastic_bits, (int, np.integer)):
        raise TypeError(f"stochastic_bits must be an integer in [1, 53], got {stochastic_bits!r}")
    if not 1 <= stochastic_bits <= FULL_PRECISION_BITS:
        raise ValueError(f"stochastic_bits must be in [1, 53], got {stochastic_bits}")
    return int(stochastic_bits)


@njit(inline="always", cache=True)
def round_to_integer(y, mode, rand, rand_scale):
    """Round the float64 ``y`` to an integer-valued float64 in ``mode``.

    ``rand`` (an integer-valued float64 in ``[0, rand_scale)``) is used by stochastic
    rounding only; ``rand_scale = 2**nbits``. Exact for every finite ``y``: stochastic
    rounding goes up iff ``frac(y) + R / 2**nbits >= 1``, tested on exactly representable
    numbers: ``frac(y) = y - floor(y)`` is exact for ``y >= 0``, but not for tiny negative
    ``y`` (``1 - 2**-60``), where the distance ``floor(y) + 1 - y`` to the next integer is.
    """
    if mode == NEAREST:
        return np.rint(y)
    if mode == NEAREST_AWAY:
        t = np.trunc(y)
        return t + np.copysign(1.0, y) if abs(y - t) >= 0.5 else t
    if mode == ZERO:
        return np.trunc(y)
    if mode == DOWN:
        return np.floor(y)
    if mode == UP:
        return np.ceil(y)
    f = np.floor(y)
    up_from_frac = (y - f) * rand_scale >= rand_scale - rand  # exact for y >= 0
    up_from_gap = rand >= (f + 1.0 - y) * rand_scale  # exact for y < 0
    return f + 1.0 if (up_from_frac if y >= 0.0 else up_from_gap) else f
