"""Time of one training step of the digits CNN: fp32 against the quantized step (every role
8-bit block floating point, stochastic rounding) of the same model, in the same process, and
against the equivalent QPyTorch setup when ``qtorch`` imports (its C++ extension is built on
first import; ``pip install ninja qtorch``).

A step is ``zero_grad``, forward, loss, backward and the optimizer step (SGD, momentum 0.9,
weight decay 5e-4) on one batch of 64 training images; torch runs on one thread, as
``swalp`` training runs. The setups are timed in turns (``--repeat`` rounds of ``--steps``
steps each) and each reports its best round: wall time and thread CPU time per step, in ms.
Target (issue 5): quantized step <= 1.5x the fp32 step.

``--device cuda`` runs the three setups on the GPU (our quantizers through lpformats' torch
backend, QPyTorch through its CUDA kernels), the device synchronized at the end of each
round; compare the wall times there (CPU time is the host's). ``--task cifar10-vgg16
--data-dir DIR --batch 128`` times the paper's VGG16 CIFAR-10 step.

Run: ``flock /tmp/bench.lock python benchmarks/train_step.py [--device cuda]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch import nn

from benchmarks.common import code_version, load_line, machine_line
from swalp.devices import make_deterministic
from swalp.insert import insert_quantizers, quantizer_targets
from swalp.optim import LowPrecisionSGD
from swalp.quantizer import RandomStream
from swalp.roles import role_specs
from swalp.tasks import get_task
from swalp.threads import single_threaded

TASK = "digits-vgg"
BATCH = 64
SGD = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
TARGET = 1.5

Step = Callable[[], None]


def _head(model: nn.Module) -> tuple[nn.Module, ...]:
    """The classifier layer, left unquantized as in ``swalp train``."""
    head = getattr(model, "classifier", None)
    return () if head is None else (head,)


def make_step(task_name: str, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
              y: torch.Tensor) -> Step:
    task = get_task(task_name)
    model.to(x.device)  # (in place: the optimizer keeps its parameters)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        task.loss(model(x), y).backward()
        optimizer.step()

    return step


def fp32_step(task: str, x: torch.Tensor, y: torch.Tensor) -> Step:
    torch.manual_seed(0)
    model = get_task(task).build()
    return make_step(task, model, torch.optim.SGD(model.parameters(), **SGD), x, y)


def swalp_step(task: str, x: torch.Tensor, y: torch.Tensor) -> Step:
    """As ``swalp train --method sgd-lp --formats bfp8``: quantizers on the input and after
    every ReLU, before the max pool that may follow it (A forward, E backward, one exponent per
    tensor), W/G/M per output channel."""
    torch.manual_seed(0)
    model = get_task(task).build()
    specs, stream = role_specs("bfp8"), RandomStream(0)
    insert_quantizers(model, specs["A"], specs["E"], stream, exclude=_head(model), quantize_input=True)
    return make_step(task, model, LowPrecisionSGD(model.parameters(), specs, stream, **SGD), x, y)


def qtorch_step(task: str, x: torch.Tensor, y: torch.Tensor) -> Step:
    """The same setup in QPyTorch: ``qtorch.quant.Quantizer`` (block FP 8, one exponent per
    tensor, stochastic) on the input and after the same layers, and ``OptimLP`` with block FP 8
    per output channel (``dim=0``; per tensor for 1-D) for weights, gradients and momentum."""
    from qtorch import BlockFloatingPoint
    from qtorch.optim import OptimLP
    from qtorch.quant import Quantizer, block_quantize

    torch.manual_seed(0)
    model = get_task(task).build()
    whole = BlockFloatingPoint(wl=8, dim=-1)

    def quantizer() -> nn.Module:
        return Quantizer(forward_number=whole, backward_number=whole, forward_rounding="stochastic",
                         backward_rounding="stochastic")

    for module in quantizer_targets(model, exclude=_head(model)):
        module.add_module("output_quantizer", quant := quantizer())
        module.register_forward_hook(lambda mod, inp, out, q=quant: q(out))
    model.add_module("input_quantizer", quant := quantizer())
    model.register_forward_pre_hook(lambda mod, inputs, q=quant: (q(inputs[0]),))

    def per_channel(t: torch.Tensor) -> torch.Tensor:
        return block_quantize(t, wl=8, dim=0 if t.dim() > 1 else -1, rounding="stochastic")

    optimizer = OptimLP(torch.optim.SGD(model.parameters(), **SGD), weight_quant=per_channel,
                        grad_quant=per_channel, momentum_quant=per_channel)
    return make_step(task, model, optimizer, x, y)


def time_turns(steps: dict[str, Step], n: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Best (wall, thread CPU) seconds per step of each setup over ``repeat`` rounds of ``n``
    steps, the setups taking turns within each round (after 3 warm-up steps each)."""
    sync = torch.cuda.synchronize if torch.cuda.is_initialized() else (lambda: None)
    for step in steps.values():
        for _ in range(3):
            step()
    best = {name: (float("inf"), float("inf")) for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            sync()
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(n):
                step()
            sync()
            wall, cpu = (time.perf_counter() - wall) / n, (time.thread_time() - cpu) / n
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round (default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--task", default=TASK, help=f"task whose model is timed (default {TASK})")
    parser.add_argument("--data-dir", help="data directory of a CIFAR task")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"batch size (default {BATCH})")
    args = parser.parse_args(argv)
    data = get_task(args.task).load(args.data_dir)
    x, y = data.x_train[:args.batch].to(args.device), data.y_train[:args.batch].to(args.device)
    make_deterministic(x.device)
    gpu = f", {torch.cuda.get_device_name(x.device)}" if x.device.type == "cuda" else ""
    print(f"<!-- {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine_line()}; code {code_version()}; "
          f"torch {torch.__version__}, 1 thread; device {x.device}{gpu} -->")
    with single_threaded():
        steps = {"fp32 (torch SGD)": fp32_step(args.task, x, y),
                 "swalp bfp8 (ours)": swalp_step(args.task, x, y)}
        try:
            from importlib.metadata import version

            steps[f"QPyTorch {version('qtorch')} bfp8"] = qtorch_step(args.task, x, y)
        except Exception as err:  # not installed, or its C++ extension does not build here
            print(f"QPyTorch skipped: {type(err).__name__}: {err}")
        best = time_turns(steps, args.steps, args.repeat)
    fp_wall, fp_cpu = best["fp32 (torch SGD)"]
    print(f"\n{args.task}, batch {args.batch}, device {x.device}, one training step "
          f"(best of {args.repeat} rounds of {args.steps} steps)\n")
    print("| setup | wall ms/step | CPU ms/step | wall vs fp32 | CPU vs fp32 |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall * 1e3:.2f} | {cpu * 1e3:.2f} | {wall / fp_wall:.2f}x "
              f"| {cpu / fp_cpu:.2f}x |")
    ratio = best["swalp bfp8 (ours)"][1] / fp_cpu
    print(f"\nTarget (quantized step <= {TARGET}x fp32, CPU time): {ratio:.2f}x: "
          f"{'met' if ratio <= TARGET else 'missed'}.")
    print(f"<!-- {load_line()} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
