"""The README's bit-serial convolution example prints what the README shows."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
EXAMPLE = re.compile(
    r"### Bit-serial convolution and its tuner.*?```python\n(.*?)```\n.*?```text\n(.*?)```", re.S
)


def test_readme_example_output_is_real():
    code, shown = EXAMPLE.search(README.read_text()).groups()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert printed.getvalue() == shown
