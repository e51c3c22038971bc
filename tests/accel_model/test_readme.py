"""The accel_model outputs shown in README.md are what the current code prints."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import readme_accel  # noqa: E402


def test_readme_accel_model_examples_are_generated_from_the_code():
    text = readme_accel.README.read_text()
    blocks = readme_accel.BLOCK.findall(text)
    assert {b[1] for b in blocks} == set(readme_accel.GENERATORS)
    assert readme_accel.render(text) == text, "run python scripts/readme_accel.py"
