"""Regenerate (or check) the accel_model example outputs shown in README.md from the current code.

Each block sits between ``<!-- readme_accel: NAME -->`` and ``<!-- /readme_accel -->`` lines in
README.md and holds what the example above it prints. ``tests/accel_model/test_readme.py`` checks
that every block still holds.

    python scripts/readme_accel.py           # rewrite the blocks
    python scripts/readme_accel.py --check   # exit 1 when a block is out of date
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- readme_accel: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /readme_accel -->)", re.S)


def python_example() -> str:
    """Output of the README's Python example (run from the repository root)."""
    import accel_model as am

    acc = am.Accelerator.preset("edge32")
    wl = am.Workload.from_scalesim_topology(ROOT / "tests/data/scalesim/topologies/tiny_gemm.csv")
    report = am.estimate(wl, acc, {"weights": "bfp8", "activations": "bfp8"})
    cmp = report.compare("fp32")
    emulated = report.compare("fp32-emulated")
    lines = [
        str(report),
        "",
        f"cmp.total_speedup = {cmp.total_speedup:.4g}, cmp.total_energy_ratio = {cmp.total_energy_ratio:.4g}",
        f"emulated: speedup {emulated.total_speedup:.4g}, energy ratio {emulated.total_energy_ratio:.4g}",
    ]
    return "```text\n" + "\n".join(lines) + "\n```\n"


def cli_example() -> str:
    """The baseline and ratio lines of the README's CLI example against the fp32 baseline."""
    from accel_model.cli import main

    topo = ROOT / "tests/data/scalesim/topologies/tiny_conv.csv"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["--preset", "edge32", "--topology", str(topo), "--formats", "bfp8", "--compare", "fp32"])
    kept = [x for x in out.getvalue().splitlines() if x.startswith(("baseline: ", "total speedup"))]
    return "```text\n" + "\n".join(kept) + "\n```\n"


GENERATORS = {"python-example": python_example, "cli-example": cli_example}


def render(text: str) -> str:
    """``text`` with every block regenerated."""

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise ValueError(f"README block {name!r} has no generator in scripts/readme_accel.py")
        return match.group(1) + GENERATORS[name]() + match.group(4)

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when out of date")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print("README.md accel_model examples are out of date: run python scripts/readme_accel.py")
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
