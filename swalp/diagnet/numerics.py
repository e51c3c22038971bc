"""Where the numbers of a run live: float64 (the reference) or an :mod:`lpformats` format.

A :class:`Numerics` rounds every tensor the trainer holds (parameters, per-sample losses,
gradients, updates) with :func:`lpformats.quantize` in one format and rounding mode. Stochastic
rounding is counter-based: call ``k`` of a run uses counter ``k`` with the run's seed, so a run
is a function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

import lpformats
from lpformats.analyze import analyze
from lpformats.formats import BlockFloat
from lpformats.rounding import ROUNDING_MODES


@dataclass
class Numerics:
    """Round to ``fmt`` (an :mod:`lpformats` spelling or format; None: float64, exact) with
    ``rounding``; ``seed`` keys stochastic rounding."""

    fmt: object = None
    rounding: str = "nearest"
    seed: int = 0
    calls: int = field(default=0, init=False)
    _rows_fmt: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.fmt is not None:
            self.fmt = lpformats.parse(self.fmt)
        whole_tensor = isinstance(self.fmt, BlockFloat) and self.fmt.block_axis is None \
            and self.fmt.block_size is None
        self._rows_fmt = replace(self.fmt, block_axis=0) if whole_tensor else self.fmt
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDING_MODES)}, got {self.rounding!r}")

    @property
    def exact(self) -> bool:
        """True for the float64 reference (nothing is rounded beyond float64)."""
        return self.fmt is None

    @property
    def name(self) -> str:
        """``float64`` or the format's spelling."""
        return "float64" if self.fmt is None else str(self.fmt)

    @property
    def deterministic(self) -> bool:
        """True when rounding the same value twice gives the same result."""
        return self.rounding != "stochastic"

    def round(self, x: np.ndarray) -> np.ndarray:
        """``x`` (float64) rounded to the format, as float64; ``x`` itself in float64 mode.

        Each row of a 2-D ``x`` is its own tensor (``u_plus`` and ``u_minus``): a whole-tensor
        block format gets one shared exponent per row.
        """
        if self.fmt is None:
            return x
        self.calls += 1
        fmt = self._rows_fmt if x.ndim == 2 else self.fmt
        return lpformats.quantize(np.ascontiguousarray(x, dtype=np.float64), fmt, self.rounding,
                                  seed=self.seed, counter=self.calls)

    def flushed_fraction(self, x: np.ndarray) -> float:
        """Fraction of the nonzero entries of ``x`` that the format rounds to zero
        (``lpformats.analyze``'s ``frac_flushed``; rows of a 2-D ``x`` are separate tensors);
        0 in float64."""
        if self.fmt is None or not x.any():
            return 0.0
        tensors = list(x) if x.ndim == 2 else [x]
        table = analyze(tensors, [self.fmt], rounding=self.rounding, seed=self.seed)
        return float(table.rows[0].frac_flushed)
