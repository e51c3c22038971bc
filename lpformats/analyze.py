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

:func:`range_counts` gives the last two as counts (:class:`RangeCounts`) from a tensor and
its already rounded value, without rounding again (the per-layer statistics of training).

Error statistics are over the elements whose result is finite; overflow to inf/NaN shows in
``frac_saturated``. A collection of tensors (a model's weights, say) is analysed tensor by
tensor and the statistics are pooled over all its elements.

Test inputs: :func:`sample` draws from ``normal``, ``laplace`` or ``log-uniform``; real
tensors of a model (weights, activations, errors, gradients of one training step) are
captured by :mod:`swalp.tensor_sources`.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable, Iterator, Mapping
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


@dataclass
class _Sums:
    """Pooled error sums of one format over one or more tensors (float64)."""

    n: int = 0  # finite results
    size: int = 0  # all elements
    signal: float = 0.0  # sum x**2 over finite results
    noise: float = 0.0  # sum e**2
    err: float = 0.0  # sum e
    abs_err: float = 0.0  # sum |e|
    max_abs: float = 0.0
    n_rel: int = 0
    rel: float = 0.0
    max_rel: float = 0.0
    saturated: int = 0
    flushed: int = 0
    bits: float = 0.0  # sum of bits over all elements

    def __add__(self, other: _Sums) -> _Sums:
        pooled = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        pooled.update(max_abs=max(self.max_abs, other.max_abs), max_rel=max(self.max_rel, other.max_rel))
        return _Sums(**pooled)


def _saturated_mask(xs: np.ndarray, q: np.ndarray, top: np.ndarray | float,
                    bottom: np.ndarray | float) -> np.ndarray:
    """Elements clipped at an end of their block's grid, or whose result is inf/NaN."""
    with np.errstate(invalid="ignore"):
        clipped = ((xs > 0) & (q == top) & (xs > q)) | ((xs < 0) & (q == bottom) & (xs < q))
    return clipped | ~np.isfinite(q)


def _flushed_mask(xs: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Elements that were nonzero and became exactly zero."""
    return (xs != 0) & (q == 0)


@dataclass(frozen=True)
class RangeCounts:
    """How many elements of a tensor fell outside its format's range when it was rounded.

    Attributes:
        size: elements counted.
        nonzero: elements with ``x != 0``.
        flushed: nonzero elements whose result is exactly 0 (underflow).
        saturated: elements clipped at the end of their block's grid, or whose result is
            inf/NaN (overflow), as ``frac_saturated`` of :func:`analyze` counts them.
    """

    size: int
    nonzero: int
    flushed: int
    saturated: int

    @property
    def frac_flushed(self) -> float:
        """Flushed elements over all elements (``analyze``'s ``frac_flushed``)."""
        return self.flushed / self.size if self.size else 0.0

    @property
    def frac_saturated(self) -> float:
        """Saturated elements over all elements (``analyze``'s ``frac_saturated``)."""
        return self.saturated / self.size if self.size else 0.0

    @property
    def flushed_of_nonzero(self) -> float:
        """Flushed elements over the nonzero ones (0 when none is nonzero): the underflow rate."""
        return self.flushed / self.nonzero if self.nonzero else 0.0

    def __add__(self, other: RangeCounts) -> RangeCounts:
        return RangeCounts(self.size + other.size, self.nonzero + other.nonzero,
                           self.flushed + other.flushed, self.saturated + other.saturated)


def range_counts(x: Any, quantized: Any, fmt: Format | str) -> RangeCounts:
    """Underflow and overflow counts of ``x`` rounded to ``fmt``, given the rounded result.

    The counts are those of :func:`analyze`'s ``frac_flushed`` and ``frac_saturated``, taken
    from ``x`` and ``quantized`` (its value in ``fmt``, any rounding) without quantizing again
    for element-wise formats (fixed and float): the fast path for tensors a training step has
    already rounded. Block formats re-encode ``x`` to find each block's grid ends (their shared
    exponents do not depend on the rounding). Unlike :func:`analyze`, ``x`` may hold inf/NaN
    (they count as saturated when the result is not finite).

    Args:
        x: the tensor before rounding (numpy array or CPU torch tensor).
        quantized: the rounded tensor, same shape.
        fmt: the format it was rounded to (object or spelling).

    Raises:
        ValueError: shapes differ.
    """
    fmt = parse(fmt)
    xs = as_operand(x).array.astype(np.float64, copy=False)
    q = as_operand(quantized).array.astype(np.float64, copy=False)
    if xs.shape != q.shape:
        raise ValueError(f"x and quantized must have the same shape, got {xs.shape} and {q.shape}")
    if isinstance(fmt, (FixedPoint, FloatFormat)):
        top, bottom = _grid_ends(xs, fmt, None)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            finite_x = np.where(np.isfinite(xs), xs, 0.0)
        top, bottom = _grid_ends(xs, fmt, encode(finite_x, fmt))
    return RangeCounts(size=int(xs.size), nonzero=int(np.count_nonzero(xs)),
                       flushed=int(np.count_nonzero(_flushed_mask(xs, q))),
                       saturated=int(np.count_nonzero(_saturated_mask(xs, q, top, bottom))))


def _sums(arr: np.ndarray, fmt: Format, rounding: str, seed: int | None) -> _Sums:
    codes = encode(arr, fmt, rounding, seed=seed)
    q = decode(codes, fmt, dtype=np.float64).reshape(arr.shape)
    xs = arr.astype(np.float64)
    top, bottom = _grid_ends(xs, fmt, codes)
    finite = np.isfinite(q)
    err = (q - xs)[finite]
    xf = xs[finite]
    abs_err = np.abs(err)
    nonzero = xf != 0
    rel = abs_err[nonzero] / np.abs(xf[nonzero])
    return _Sums(
        n=int(err.size), size=int(arr.size), signal=float(np.sum(xf * xf)), noise=float(np.sum(err * err)),
        err=float(err.sum()), abs_err=float(abs_err.sum()), max_abs=float(abs_err.max(initial=0.0)),
        n_rel=int(rel.size), rel=float(rel.sum()), max_rel=float(rel.max(initial=0.0)),
        saturated=int(np.count_nonzero(_saturated_mask(xs, q, top, bottom))),
        flushed=int(np.count_nonzero(_flushed_mask(xs, q))),
        bits=bits_per_element(fmt, arr.shape) * arr.size,
    )


def _sqnr_db(s: _Sums) -> float:
    if s.n == 0 or (s.signal == 0.0 and s.noise > 0.0):
        return -math.inf
    if s.noise == 0.0:
        return math.inf
    return 10.0 * math.log10(s.signal / s.noise)


def _analysis(fmt: Format, s: _Sums) -> FormatAnalysis:
    n = s.n
    mean = s.err / n if n else math.nan
    var = max(s.noise - n * mean * mean, 0.0) / (n - 1) if n > 1 else math.nan
    return FormatAnalysis(
        format=format_to_text(fmt), family=format_family(fmt), bits=int(fmt.bits),
        bits_per_element=s.bits / s.size, sqnr_db=_sqnr_db(s),
        mean_abs_error=s.abs_err / n if n else math.nan, max_abs_error=s.max_abs if n else math.nan,
        mean_rel_error=s.rel / s.n_rel if s.n_rel else 0.0, max_rel_error=s.max_rel,
        bias=mean, bias_stderr=math.sqrt(var / n) if n > 1 else math.nan,
        frac_saturated=s.saturated / s.size, frac_flushed=s.flushed / s.size,
    )


def _as_tensors(x: Any) -> list[np.ndarray]:
    """``x`` as a list of arrays: one tensor, or the values of a mapping / items of a list."""
    if isinstance(x, Mapping):
        items = list(x.values())
    elif isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, float)):
        items = list(x)
    else:
        items = [x]
    if not items:
        raise ValueError("x must hold at least one tensor, got an empty collection")
    return [_as_float_array(t) for t in items]


def analyze_one(
    x: Any, fmt: Format | str, rounding: str = "nearest", seed: int | None = None
) -> FormatAnalysis:
    """Statistics of one format on ``x`` (see :func:`analyze`)."""
    fmt = parse(fmt)
    sums = [_sums(arr, fmt, rounding, seed) for arr in _as_tensors(x)]
    return _analysis(fmt, functools.reduce(operator.add, sums))


def analyze(
    x: Any,
    formats: Format | str | Iterable[Format | str],
    rounding: str = "nearest",
    seed: int | None = None,
) -> AnalysisTable:
    """Quantize ``x`` in each format and measure the error (see the module docstring).

    Args:
        x: finite numpy float16/32/64 array or CPU torch tensor, any shape (block formats form
            their blocks on this shape, so pass weights in their real layout); or a list or
            mapping of such tensors (e.g. every weight of a model): each is quantized on its
            own (its own blocks and scales) and the statistics are pooled over all elements.
        formats: one format (object or spelling) or an iterable of them.
        rounding: any :func:`lpformats.quantize` rounding mode.
        seed: seed of stochastic rounding (the same seed is used for every format).

    Returns:
        An :class:`AnalysisTable`; ``str(table)`` is a readable text table and
        ``table.to_rows()`` a list of dicts. ``shape`` is the shape of a single tensor, or
        ``(n,)`` for a pooled collection.

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
    arrays = _as_tensors(x)
    rows = tuple(analyze_one(arrays, f, rounding, seed) for f in fmts)
    n = sum(int(a.size) for a in arrays)
    shape = tuple(arrays[0].shape) if len(arrays) == 1 else (n,)
    return AnalysisTable(rows=rows, rounding=rounding, n=n, shape=shape)


#: Distributions :func:`sample` draws from.
DISTRIBUTIONS = ("normal", "laplace", "log-uniform")
#: Magnitude range of the ``log-uniform`` distribution, in powers of two.
LOG_UNIFORM_EXPONENTS = (-16, 0)


def sample(distribution: str, n: int = 1 << 16, seed: int = 0) -> np.ndarray:
    """``n`` float32 samples of a test distribution.

    ``normal``: standard normal; ``laplace``: unit-scale Laplace (heavier tails, like weight
    gradients); ``log-uniform``: random sign, magnitude ``2**u`` with ``u`` uniform on
    :data:`LOG_UNIFORM_EXPONENTS` (16 binades: a wide dynamic range, where fixed point loses
    its small values).

    Raises:
        ValueError: unknown distribution or ``n < 1``.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}; got {distribution!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    if distribution == "normal":
        x = rng.standard_normal(n)
    elif distribution == "laplace":
        x = rng.laplace(size=n)
    else:
        lo, hi = LOG_UNIFORM_EXPONENTS
        x = np.exp2(rng.uniform(lo, hi, n)) * rng.choice((-1.0, 1.0), n)
    return x.astype(np.float32)


__all__ = ["DISTRIBUTIONS", "AnalysisTable", "FormatAnalysis", "RangeCounts", "analyze", "bits_per_element",
           "format_family", "range_counts", "sample"]
