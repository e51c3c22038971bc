"""``lpformats.testing``: property-test other people's rounding code against lpformats.

Needs Hypothesis (and pytest for the plugin): ``pip install "lowprec[testing]"``; importing
``lpformats`` itself never does.

* Oracle checks: :func:`assert_rounds_like` (bit for bit against ``lpformats.quantize``).
* Statistical checks: :func:`assert_unbiased` (stochastic rounding: neighbours only,
  up-probability ``(x - lo) / (hi - lo)`` within the bound of ``r`` random bits,
  independence across elements and calls, reproducible seeding; stated false-alarm rate and
  power).
* Structural properties: :func:`assert_monotone`, :func:`assert_idempotent`,
  :func:`assert_sign_symmetric`, :func:`assert_brackets` (``down <= x <= up``, adjacent).
* Strategies and inputs: :mod:`lpformats.testing.strategies`,
  :mod:`lpformats.testing.boundaries`.
* pytest: ``pytest_plugins = ["lpformats.testing.pytest_plugin"]`` gives the ``quantizer_check``
  fixture (options ``--lp-alpha``, ``--lp-max-examples``, ``--lp-draws``).
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ModuleNotFoundError(
        "lpformats.testing needs Hypothesis: pip install 'lowprec[testing]' (or pip install hypothesis)",
        name=exc.name,
    ) from exc

from lpformats.testing.boundaries import block_tensor, boundary_values, stochastic_probes
from lpformats.testing.compare import assert_same_values
from lpformats.testing.oracle import assert_rounds_like
from lpformats.testing.search import CounterexampleError, SearchReport
from lpformats.testing.stats import UnbiasedReport, assert_unbiased
from lpformats.testing.structure import (
    assert_brackets,
    assert_idempotent,
    assert_monotone,
    assert_sign_symmetric,
)

__all__ = [
    "CounterexampleError",
    "SearchReport",
    "UnbiasedReport",
    "assert_brackets",
    "assert_idempotent",
    "assert_monotone",
    "assert_rounds_like",
    "assert_same_values",
    "assert_sign_symmetric",
    "assert_unbiased",
    "block_tensor",
    "boundary_values",
    "stochastic_probes",
]
