"""Output the README presents as real must come from the current code: every ``console``
block that runs ``swalp formats`` is run again and each line it shows (abridged blocks leave
rows out) must appear in the command's output."""

import re
import shlex
from pathlib import Path

import pytest

from swalp.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```console\n(\$ swalp formats .*?)\n```", re.S)


def formats_examples() -> list[str]:
    return BLOCK.findall(README.read_text())


def test_the_readme_shows_a_formats_example():
    assert formats_examples()


@pytest.mark.parametrize("block", formats_examples())
def test_readme_formats_output_is_what_the_command_prints_now(block, tmp_path, capsys):
    command, *shown = block.splitlines()
    args = shlex.split(command)[2:]  # drop "$ swalp"
    args[args.index("--out") + 1] = str(tmp_path)
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    missing = [line for line in shown if line not in printed]
    assert not missing, f"README lines not printed by `{command[2:]}` now: {missing}"
