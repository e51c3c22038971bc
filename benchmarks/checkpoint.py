"""Checkpoint cost: what the integrity digest and the kept previous checkpoint add to saving
and loading a checkpoint, against the plain atomic ``torch.save``/``torch.load`` swalp used
before (temporary file, fsync, rename), on a state of the size of the paper's CIFAR VGG16
(15,245,130 parameters: weights, momentum and the SWA average, float32).

Run: ``python benchmarks/checkpoint.py [--params N] [--repeat R]``. Prints the best of R
timings of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import best_time, machine_line
from swalp.runio.checkpoint import load_checkpoint, save_checkpoint

VGG16_PARAMS = 15_245_130


def plain_save(state: dict, path: Path) -> None:
    """The previous swalp checkpoint: ``torch.save`` into a temporary file, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=VGG16_PARAMS, help="parameters of the model")
    parser.add_argument("--repeat", type=int, default=5, help="timings of each (the best is shown)")
    args = parser.parse_args()
    torch.manual_seed(0)
    state = {"model": torch.randn(args.params), "momentum": torch.randn(args.params),
             "average": torch.randn(args.params), "epoch": 3, "history": [{"loss": 0.5}] * 3}
    print(machine_line())
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        plain, ours = Path(folder) / "plain.pt", Path(folder) / "checkpoint.pt"
        times = {
            "save": (best_time(lambda: plain_save(state, plain), args.repeat),
                     best_time(lambda: save_checkpoint(state, ours), args.repeat)),
            "load": (best_time(lambda: torch.load(plain, map_location="cpu", weights_only=False),
                               args.repeat),
                     best_time(lambda: load_checkpoint(ours), args.repeat)),
        }
        size = ours.stat().st_size / 1e6
    print(f"state: {size:.0f} MB ({args.params:,} parameters x 3, float32), best of {args.repeat}")
    for what, (before, now) in times.items():
        print(f"{what}: plain atomic torch {before:.3f} s, swalp.runio {now:.3f} s ({now / before:.2f}x)")


if __name__ == "__main__":
    main()
