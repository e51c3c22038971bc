"""pytest plugin of the kit: one line per property.

Enable it in the top-level ``conftest.py`` (``pytest_plugins = ["lpformats.testing.pytest_plugin"]``)
or with ``pytest -p lpformats.testing.pytest_plugin``; then::

    def test_rounds_like_fp8(quantizer_check):
        quantizer_check.rounds_like(my_quantizer, "fp8_e4m3", tensor="torch")

    def test_unbiased(quantizer_check):
        quantizer_check.unbiased(my_stochastic, stochastic_probes("fp8_e4m3"), "fp8_e4m3")

Options: ``--lp-alpha`` (false-alarm rate per statistical check, default 1e-6),
``--lp-max-examples`` (Hypothesis examples per deterministic check, default 100),
``--lp-draws`` (draws per element of a statistical check, default 2**18). The terminal
summary lists the power of every statistical check that ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

_REPORTS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lpformats.testing", "quantizer property checks (lpformats.testing)")
    group.addoption(
        "--lp-alpha", type=float, default=1e-6, help="false-alarm rate per statistical check (default 1e-6)"
    )
    group.addoption(
        "--lp-max-examples",
        type=int,
        default=100,
        help="Hypothesis examples per deterministic check (default 100)",
    )
    group.addoption(
        "--lp-draws",
        type=int,
        default=1 << 18,
        help="draws per element of a statistical check (default 262144)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REPORTS] = []


class QuantizerCheck:
    """The kit's checks with this session's options as defaults (keywords override them)."""

    def __init__(self, config: pytest.Config, nodeid: str) -> None:
        self._config = config
        self._nodeid = nodeid

    def _examples(self, kwargs: dict) -> dict:
        kwargs.setdefault("max_examples", self._config.getoption("--lp-max-examples"))
        return kwargs

    def rounds_like(self, fn: Callable[[Any], Any], fmt: object, rounding: str = "nearest", **kwargs: Any):
        """:func:`lpformats.testing.assert_rounds_like`."""
        from lpformats.testing import assert_rounds_like

        return assert_rounds_like(fn, fmt, rounding, **self._examples(kwargs))

    def unbiased(self, fn: Callable[[Any, int], Any], x: Any, fmt: object, **kwargs: Any):
        """:func:`lpformats.testing.assert_unbiased`; its power goes to the terminal summary."""
        from lpformats.testing import assert_unbiased

        kwargs.setdefault("alpha", self._config.getoption("--lp-alpha"))
        kwargs.setdefault("draws", self._config.getoption("--lp-draws"))
        report = assert_unbiased(fn, x, fmt, **kwargs)
        self._config.stash[_REPORTS].append(f"{self._nodeid}: {report}")
        return report

    def monotone(self, fn: Callable[[Any], Any], fmt: object, **kwargs: Any):
        """:func:`lpformats.testing.assert_monotone`."""
        from lpformats.testing import assert_monotone

        return assert_monotone(fn, fmt, **self._examples(kwargs))

    def idempotent(self, fn: Callable[[Any], Any], fmt: object, **kwargs: Any):
        """:func:`lpformats.testing.assert_idempotent`."""
        from lpformats.testing import assert_idempotent

        return assert_idempotent(fn, fmt, **self._examples(kwargs))

    def sign_symmetric(self, fn: Callable[[Any], Any], fmt: object, rounding: str = "nearest", **kwargs: Any):
        """:func:`lpformats.testing.assert_sign_symmetric`."""
        from lpformats.testing import assert_sign_symmetric

        return assert_sign_symmetric(fn, fmt, rounding, **self._examples(kwargs))

    def brackets(self, down: Callable[[Any], Any], up: Callable[[Any], Any], fmt: object, **kwargs: Any):
        """:func:`lpformats.testing.assert_brackets`."""
        from lpformats.testing import assert_brackets

        return assert_brackets(down, up, fmt, **self._examples(kwargs))


@pytest.fixture
def quantizer_check(request: pytest.FixtureRequest) -> QuantizerCheck:
    """The kit's checks, configured by ``--lp-alpha``, ``--lp-max-examples``, ``--lp-draws``."""
    return QuantizerCheck(request.config, request.node.nodeid)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    reports = config.stash.get(_REPORTS, [])
    if reports:
        terminalreporter.section("lpformats.testing: statistical checks and their power")
        for line in reports:
            terminalreporter.write_line(line)
