"""The diagonal-network study of ``benchmarks/RESULTS.md`` and its figures in ``docs/``.

Runs, with the command's defaults (n=30, d=100, 3-sparse teacher, depth 2, seed 0):

1. ``swalp diagnet study``: float64, alpha = 1e-3 ... 10, down to eps = e^-2000;
2. ``swalp diagnet formats``: fp32, bf16, fp16, E5M2, bfp8 x nearest, stochastic at alpha 0.01
   and 1, the loss held in the format;
3. the same with ``--loss-in log`` (loss in float64 log space; parameters, gradients and
   updates rounded),

then copies ``margins.png`` and both ``formats.png`` to ``docs/diagnet_*.png`` and prints the
tables with the machine, load and wall times. Run records are kept in ``--out`` and reused on a
second run (``--force`` retrains).

    nice python benchmarks/diagnet.py [--out /tmp/lowprec-diagnet]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, code_version, machine_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/lowprec-diagnet", help="records and figures")
    parser.add_argument("--force", action="store_true", help="retrain every run")
    args = parser.parse_args(argv)

    from swalp.cli import main as swalp

    out = Path(args.out)
    force = ["--force"] if args.force else []
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, code {code_version()}")
    print(machine_line())
    steps = [("study", ["diagnet", "study", "--out", str(out / "study")], "margins.png",
              "diagnet_margins.png"),
             ("formats, loss held in the format", ["diagnet", "formats", "--out", str(out / "formats")],
              "formats.png", "diagnet_formats.png"),
             ("formats, loss in float64 log space", ["diagnet", "formats", "--loss-in", "log", "--out",
                                                      str(out / "formats-log")], "formats.png",
              "diagnet_formats_logloss.png")]
    for title, command, figure, target in steps:
        print(f"\n## {title}: swalp {' '.join(command)}")
        start = time.perf_counter()
        status = swalp([*command, *force])
        if status:
            return status
        print(f"wall time {time.perf_counter() - start:.1f} s; {machine_line()}")
        shutil.copyfile(Path(command[command.index("--out") + 1]) / figure, ROOT / "docs" / target)
        print(f"figure: docs/{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
