"""What a CIFAR run of this code builds, next to the authors' code (issue 10): per task, the
parameter count, BatchNorm and dropout layers, number of activation quantizers and whether the
input is one of them, test batch size, and iterates averaged by a SWALP run of the task's
default budget. Measured on ``swalp.experiments.Run`` (the object ``swalp train`` trains) over
a throwaway directory of random images in torchvision's CIFAR layout (no download).

Reference values (``stevenygd/SWALP`` ``models/vgg_low.py``, ``models/preresnet_low.py``,
``train.py``; ``timgaripov/swa`` ``models/``): VGG16 15,245,130 parameters for 10 classes,
no BatchNorm, 2 dropout layers, 15 quantizers, input not quantized; PreResNet-164 1,703,258
parameters, 163 BatchNorm layers (3 per block, 1 final), 325 quantizers; test batches of 128;
a 300-epoch run averaging from 200 takes 101 iterates, a 225-epoch run from 150 takes 76.

Run: ``python benchmarks/cifar_models.py`` (a few seconds; any version of the code that has
``experiments.Run``, called ``experiments._Run`` before issue 13: the same file measures an
older checkout).
"""

from __future__ import annotations

import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.common import code_version, machine_line
from swalp import experiments
from swalp.quantizer import Quantizer

TASKS = ("cifar10-vgg16", "cifar100-vgg16", "cifar10-preresnet164")
#: The authors' models: parameters, BatchNorm layers, dropout layers, quantizers.
REFERENCE = {"cifar10-vgg16": (15_245_130, 0, 2, 15), "cifar100-vgg16": (15_291_300, 0, 2, 15),
             "cifar10-preresnet164": (1_703_258, 163, 0, 325)}


def write_random_cifar(root: Path, train: int = 256, test: int = 1280) -> None:
    """Random uint8 images in torchvision's CIFAR-10 and CIFAR-100 layouts under ``root``."""
    rng = np.random.default_rng(0)
    layouts = {"cifar-10-batches-py": ([f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels"),
               "cifar-100-python": (["train"], "test", b"fine_labels")}
    for sub, (train_files, test_file, key) in layouts.items():
        (root / sub).mkdir()
        for name, n in [(f, train // len(train_files)) for f in train_files] + [(test_file, test)]:
            batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), key: [0] * n}
            with open(root / sub / name, "wb") as fh:
                pickle.dump(batch, fh)


def measure(task: str, data_dir: str) -> list[object]:
    run_class = getattr(experiments, "Run", None) or experiments._Run  # older checkouts: _Run
    run = run_class(experiments.RunConfig(task=task, method="swalp", data_dir=data_dir).resolved())
    model = run.model
    steps = run.config.epochs * run.schedule.steps_per_epoch
    return [
        sum(p.numel() for p in model.parameters()),
        sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()),
        sum("Dropout" in type(m).__name__ for m in model.modules()),
        sum(isinstance(m, Quantizer) for m in model.modules()),
        hasattr(model, "input_quantizer"),
        len(run.test[0][1]),
        sum(run.schedule.average_after(step) for step in range(steps)),
    ]


def main() -> int:
    print(machine_line())
    print(f"code {code_version()}")
    print("| task | parameters | BatchNorm | dropout | quantizers | input quantized | test batch | "
          "iterates averaged | reference (parameters, BN, dropout, quantizers) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        write_random_cifar(Path(tmp))
        for task in TASKS:
            cells = [f"{v:,}" if type(v) is int else str(v) for v in measure(task, tmp)]
            reference = ", ".join(f"{v:,}" for v in REFERENCE[task])
            print(f"| {task} | {' | '.join(cells)} | {reference} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
