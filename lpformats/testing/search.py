"""The search behind every deterministic check: a fixed sweep of boundary inputs, then a
bounded Hypothesis search, and a counterexample shrunk to a minimal one.

A check is a :class:`Property`: ``failures(x)`` returns the flat indices of the elements of
the input ``x`` where it fails and a message describing them. For element-wise quantizers
the sweep's failures are shrunk to the simplest single input that fails on its own; inputs
found by Hypothesis are shrunk by Hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpformats.testing.compare import as_float64
from lpformats.testing.simplicity import simplest_first

#: Single-element candidates tried when shrinking a sweep's failure.
SHRINK_CANDIDATES = 64


class CounterexampleError(AssertionError):
    """A quantizer under test broke a property; the message holds the counterexample."""


@dataclass(frozen=True)
class Failure:
    """Where a property failed on one input array, and what happened there."""

    indices: np.ndarray
    message: str


@dataclass(frozen=True)
class SearchReport:
    """A passed check: how many inputs it tried."""

    check: str
    swept: int
    hypothesis_examples: int

    def __str__(self) -> str:
        return (
            f"{self.check}: passed on {self.swept} boundary inputs and {self.hypothesis_examples} "
            "Hypothesis examples"
        )


def call_quantizer(fn: Callable[[Any], Any], x: np.ndarray, tensor: str) -> np.ndarray:
    """``fn`` on a private copy of ``x`` (numpy, or a torch tensor when ``tensor='torch'``),
    its result as float64 of ``x``'s shape (``CounterexampleError`` when the shape differs)."""
    if tensor == "torch":
        import torch

        arg: Any = torch.from_numpy(x.copy())
    elif tensor == "numpy":
        arg = x.copy()
    else:
        raise ValueError(f"tensor must be 'numpy' or 'torch'; got {tensor!r}")
    out = as_float64(fn(arg))
    if out.shape != x.shape:
        raise CounterexampleError(f"fn returned shape {out.shape} for an input of shape {x.shape}")
    return out


@contextmanager
def one_numba_thread() -> Iterator[None]:
    """Run Numba kernels on one thread: the checks quantize arrays of a few thousand
    elements, where waking a second thread costs more than the work (milliseconds per call
    on a loaded machine against 80 us)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _shrink(
    failures: Callable[[np.ndarray], Failure | None], x: np.ndarray, bad: np.ndarray
) -> Failure | None:
    """The failure on the simplest single element of ``x[bad]`` that fails on its own."""
    for value in simplest_first(x.reshape(-1)[bad])[:SHRINK_CANDIDATES]:
        failure = failures(np.array([value], dtype=x.dtype))
        if failure is not None:
            return failure
    return None


def verify(
    check: str,
    title: str,
    failures: Callable[[np.ndarray], Failure | None],
    sweep: Sequence[np.ndarray],
    strategy: st.SearchStrategy | None,
    *,
    max_examples: int,
    elementwise: bool,
) -> SearchReport:
    """Run the check named ``check``: ``failures`` on every array of ``sweep``, then on
    ``max_examples`` arrays drawn from ``strategy``; raise :class:`CounterexampleError` headed by
    ``title`` with the first counterexample (shrunk), else return a :class:`SearchReport`."""
    with one_numba_thread():
        swept = _sweep(title, failures, sweep, elementwise)
        if strategy is not None and max_examples > 0:
            _hypothesis_search(title, failures, strategy, max_examples)
    return SearchReport(check, swept, max_examples if strategy is not None else 0)


def _sweep(
    title: str,
    failures: Callable[[np.ndarray], Failure | None],
    sweep: Sequence[np.ndarray],
    elementwise: bool,
) -> int:
    swept = 0
    for x in sorted(sweep, key=lambda a: a.size):
        failure = failures(x)
        swept += x.size
        if failure is None:
            continue
        lines = [title, f"{failure.indices.size} of {x.size} inputs fail:", failure.message]
        minimal = _shrink(failures, x, failure.indices) if elementwise and x.size > 1 else None
        if minimal is not None:
            lines += ["shrunk minimal example (one input, simplest first):", minimal.message]
        elif elementwise and x.size > 1:
            lines.append("(no single input fails on its own: the failure depends on the other elements)")
        raise CounterexampleError("\n".join(lines))
    return swept


def _hypothesis_search(
    title: str,
    failures: Callable[[np.ndarray], Failure | None],
    strategy: st.SearchStrategy,
    max_examples: int,
) -> None:
    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def search(x: np.ndarray) -> None:
        failure = failures(x)
        if failure is not None:
            raise CounterexampleError(
                f"{title}\n{failure.indices.size} of {x.size} inputs fail (Hypothesis example, shrunk):\n"
                f"{failure.message}"
            )

    search()
