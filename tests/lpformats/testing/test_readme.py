"""The README's worked example of the kit runs, and the output it shows is the real one."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"


def block_after(marker: str, language: str) -> str:
    """The fenced ``language`` block that follows ``<!-- marker -->`` in the README."""
    text = README.read_text()
    match = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)\n```", text, re.S)
    assert match, f"README has no {language} block after <!-- {marker} -->"
    return match.group(1)


def shown_output(marker: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- {marker} -->\n```python\n.*?\n```\n\n```text\n(.*?)\n```", text, re.S)
    assert match, f"README shows no output after the block <!-- {marker} -->"
    return match.group(1)


def is_subsequence(shown: list[str], actual: list[str]) -> bool:
    """Every shown line (``[...]`` stands for omitted lines) appears in order."""
    rest = iter(actual)
    return all(line == "[...]" or any(line == got for got in rest) for line in shown)


@pytest.fixture(scope="module")
def printed() -> str:
    pytest.importorskip("torch")
    code = block_after("testing-kit-example", "python") + "\n" + block_after("testing-kit-broken", "python")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    return out.getvalue()


def test_the_worked_example_passes_and_prints_the_report_shown(printed):
    assert printed.splitlines()[0] == shown_output("testing-kit-example")


def test_the_broken_variant_fails_with_the_message_shown(printed):
    shown = block_after("testing-kit-broken-output", "text").splitlines()
    assert is_subsequence(shown, printed.splitlines()[1:]), printed


def test_the_pytest_one_liners_run_through_the_plugin(tmp_path):
    """The README's pytest block, with the example's quantizers, run by pytest in a fresh
    process with the plugin: it passes, and the summary states the power."""
    example = block_after("testing-kit-example", "python").split("\nassert_rounds_like(")[0]
    (tmp_path / "test_user.py").write_text(
        example + "\n\n" + block_after("testing-kit-pytest", "python") + "\n"
    )
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["lpformats.testing.pytest_plugin"]\n')
    root = str(README.parent)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--lp-max-examples",
            "10",
            "--lp-draws",
            "4096",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": root},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "statistical checks and their power" in result.stdout
    assert "4096 draws each" in result.stdout
