"""``analyze``: how well each format represents a given tensor (no training involved).

For every format the tensor is quantized once with :func:`lpformats.encode` (the same
rounding and seed as :func:`lpformats.quantize`) and the error ``e = Q(x) - x`` is measured
in float64:

* ``sqnr_db``: signal-to-quantization-noise ratio ``10*log10(sum(x**2) / sum(e**2))`` in dB
  (``inf`` when every element is exact);
* ``mean_abs_error``, ``max_abs_error``: of ``|e|``, in the units of ``x``;
* ``mean_rel_error``, ``max_rel_error``: of ``|e| / |x|`` over the nonzero elements (0 when
  there are none), dimensionless;
* ``bias``: mean signed error ``mean(e)``, units of ``x``; ``bias_stderr`` its standard error
  ``std(e) / sqrt(n)`` (with stochastic rounding, a bias within about two standard errors of
  zero is what unbiased rounding predicts);
* ``frac_saturated``: fraction of elements clipped at the end of the value grid of their
  block (``|x|`` beyond the largest magnitude the block can hold in that direction), plus
  elements whose result overflowed to inf or NaN;
* ``frac_flushed``: fraction of elements with ``x != 0`` whose result is exactly 0;
* ``bits_per_element``: storage per element, shared block exponents / scales included.

Error statistics are over the elements whose result is finite; overflow to inf/NaN shows in
``frac_saturated``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from lpformats.arrays import as_operand
from lpformats.codec import BlockCodes, decode, encode
from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, Format, MXFormat
from lpformats.spelling import format_to_text, parse

#: Family name of each format class, used to group formats in tables and plots.
FAMILIES: dict[type, str] = {FixedPoint: "fixed", FloatFormat: "float", BlockFloat: "bfp", MXFormat: "mx"}


def format_family(fmt: Format | str) -> str:
    """``"fixed"``, ``"float"``, ``"bfp"`` or ``"mx"`` for a format or its spelling."""
    return FAMILIES[type(parse(fmt))]


def bits_per_element(fmt: Format | str, shape: tuple[int, ...]) -> float:
    """Average storage bits per element of a tensor of ``shape``, shared exponents included."""
    fmt = parse(fmt)
    if isinstance(fmt, (BlockFloat, MXFormat)):
        return float(fmt.bits_per_element(tuple(shape)))
    return float(fmt.bits)


@dataclass(frozen=True)
class FormatAnalysis:
    """Error statistics of one format on one tensor (fields as in the module docstring)."""

    format: str
    family: str
    bits: int
    bits_per_element: float
    sqnr_db: float
    mean_abs_error: float
    max_abs_error: float
    mean_rel_error: float
    max_rel_error: float
    bias: float
    bias_stderr: float
    frac_saturated: float
    frac_flushed: float


_COLUMNS = (
    ("format", "{:<22s}"), ("bits_per_element", "{:>9.3f}"), ("sqnr_db", "{:>8.2f}"),
    ("mean_abs_error", "{:>10.3e}"), ("max_abs_error", "{:>10.3e}"), ("mean_rel_error", "{:>10.3e}"),
    ("max_rel_error", "{:>10.3e}"), ("bias", "{:>10.2e}"), ("bias_stderr", "{:>9.1e}"),
    ("frac_saturated", "{:>8.4f}"), ("frac_flushed", "{:>8.4f}"),
)
_HEADERS = ("format", "bits/elem", "SQNR dB", "mean|err|", "max|err|", "mean rel", "max rel",
            "bias", "bias s.e.", "satur.", "flushed")


@dataclass(frozen=True)
class AnalysisTable:
    """Result of :func:`analyze`: one :class:`FormatAnalysis` per format, in the order given.

    Attributes:
        rows: the per-format statistics.
        rounding: rounding mode used.
        n: number of elements analysed.
        shape: shape of the analysed tensor.
    """

    rows: tuple[FormatAnalysis, ...]
    rounding: str
    n: int
    shape: tuple[int, ...]

    def __iter__(self) -> Iterator[FormatAnalysis]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, fmt: str | Format) -> FormatAnalysis:
        """The row of a format (object or spelling)."""
        name = format_to_text(parse(fmt))
        for row in self.rows:
            if row.format == name:
                return row
        raise KeyError(f"format {name!r} is not in this table ({', '.join(r.format for r in self.rows)})")

    def to_rows(self) -> list[dict[str, Any]]:
        """The table as a list of plain dicts (one per format, keys = FormatAnalysis fields)."""
        return [asdict(row) for row in self.rows]

    @staticmethod
    def columns() -> list[str]:
        """Field names of a row, in order."""
        return [f.name for f in fields(FormatAnalysis)]

    def __str__(self) -> str:
        widths = [len(spec.format(getattr(self.rows[0], key))) if self.rows else len(h)
                  for (key, spec), h in zip(_COLUMNS, _HEADERS, strict=True)]
        widths = [max(w, len(h)) for w, h in zip(widths, _HEADERS, strict=True)]
        head = " ".join(h.ljust(w) if i == 0 else h.rjust(w)
                        for i, (h, w) in enumerate(zip(_HEADERS, widths, strict=True)))
        lines = [f"{self.n} elements, shape {self.shape}, rounding {self.rounding}", head]
        for row in self.rows:
            cells = [spec.format(getattr(row, key)) for key, spec in _COLUMNS]
            lines.append(" ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
        return "\n".join(lines)


def _as_float_array(x: Any) -> np.ndarray:
    arr = as_operand(x).array
    if arr.size == 0:
        raise ValueError("x must hold at least one element, got an empty tensor")
    if not np.isfinite(arr).all():
        raise ValueError(f"x must be finite; it holds {int((~np.isfinite(arr)).sum())} inf/NaN element(s)")
    return arr


def _grid_ends(x: np.ndarray, fmt: Format, codes: Any) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Largest and smallest value the grid of each element's block can hold."""
    if isinstance(fmt, FixedPoint):
        return fmt.max_value, fmt.min_value
    if isinstance(fmt, FloatFormat):
        return fmt.max_value, -fmt.max_value
    element = fmt.element
    low = element.min_value if isinstance(element, FixedPoint) else -element.max_value
    end_codes = encode(np.array([element.max_value, low]), element)
    exponents = codes.exponents
    top = decode(BlockCodes(np.full(codes.codes.shape, end_codes[0]), exponents), fmt, dtype=np.float64)
    bottom = decode(BlockCodes(np.full(codes.codes.shape, end_codes[1]), exponents), fmt, dtype=np.float64)
    return top.reshape(x.shape), bottom.reshape(x.shape)


def analyze_one(
    x: Any, fmt: Format | str, rounding: str = "nearest", seed: int | None = None
) -> FormatAnalysis:
    """Statistics of one format on ``x`` (see :func:`analyze`)."""
    arr = _as_float_array(x)
    fmt = parse(fmt)
    codes = encode(arr, fmt, rounding, seed=seed)
    q = decode(codes, fmt, dtype=np.float64).reshape(arr.shape)
    xs = arr.astype(np.float64)
    top, bottom = _grid_ends(xs, fmt, codes)
    finite = np.isfinite(q)
    with np.errstate(invalid="ignore"):
        clipped = ((xs > 0) & (q == top) & (xs > q)) | ((xs < 0) & (q == bottom) & (xs < q))
    saturated = int(np.count_nonzero(clipped | ~finite))
    flushed = int(np.count_nonzero((xs != 0) & (q == 0)))
    err = (q - xs)[finite]
    xf = xs[finite]
    n = err.size
    abs_err = np.abs(err)
    noise = float(np.sum(err * err))
    signal = float(np.sum(xf * xf))
    if n == 0:
        sqnr = -math.inf
    elif noise == 0.0:
        sqnr = math.inf
    elif signal == 0.0:
        sqnr = -math.inf
    else:
        sqnr = 10.0 * math.log10(signal / noise)
    nonzero = xf != 0
    rel = abs_err[nonzero] / np.abs(xf[nonzero])
    return FormatAnalysis(
        format=format_to_text(fmt),
        family=format_family(fmt),
        bits=int(fmt.bits),
        bits_per_element=bits_per_element(fmt, arr.shape),
        sqnr_db=sqnr,
        mean_abs_error=float(abs_err.mean()) if n else math.nan,
        max_abs_error=float(abs_err.max()) if n else math.nan,
        mean_rel_error=float(rel.mean()) if rel.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        bias=float(err.mean()) if n else math.nan,
        bias_stderr=float(err.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        frac_saturated=saturated / arr.size,
        frac_flushed=flushed / arr.size,
    )


def analyze(
    x: Any,
    formats: Format | str | Iterable[Format | str],
    rounding: str = "nearest",
    seed: int | None = None,
) -> AnalysisTable:
    """Quantize ``x`` in each format and measure the error (see the module docstring).

    Args:
        x: finite numpy float16/32/64 array or CPU torch tensor, any shape (block formats form
            their blocks on this shape, so pass weights in their real layout).
        formats: one format (object or spelling) or an iterable of them.
        rounding: any :func:`lpformats.quantize` rounding mode.
        seed: seed of stochastic rounding (the same seed is used for every format).

    Returns:
        An :class:`AnalysisTable`; ``str(table)`` is a readable text table and
        ``table.to_rows()`` a list of dicts.

    Raises:
        ValueError: empty or non-finite ``x``, no formats, an unknown format or rounding.
        TypeError: ``x`` is not an array/tensor, or a format is neither object nor string.
    """
    if isinstance(formats, (str, FixedPoint, FloatFormat, BlockFloat, MXFormat)):
        formats = [formats]
    try:
        fmts = [parse(f) for f in formats]
    except TypeError as exc:
        raise TypeError(f"formats must be a format, a spelling or an iterable of them: {exc}") from None
    if not fmts:
        raise ValueError("formats must name at least one format")
    arr = _as_float_array(x)
    rows = tuple(analyze_one(arr, f, rounding, seed) for f in fmts)
    return AnalysisTable(rows=rows, rounding=rounding, n=int(arr.size), shape=tuple(arr.shape))


__all__ = ["AnalysisTable", "FormatAnalysis", "analyze", "bits_per_element", "format_family"]
