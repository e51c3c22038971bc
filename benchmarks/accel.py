"""Benchmark: accel_model's two memory models against SCALE-Sim 3.0.0, per layer, and their speed.

Default: ResNet-18 (``tests/data/scalesim/topologies/Resnet18.csv``) on SCALE-Sim's ``google.cfg``
resized to 128x128 (USER mode, Bandwidth 10), ws and os. For each dataflow SCALE-Sim runs once
(its own venv, ``SCALESIM_PYTHON``, see ``scripts/scalesim_run.py``; traces written to a temp dir
and deleted) and ``accel-model --config CFG --topology TOPO`` runs as a whole process with each
memory model (best of ``--repeat`` runs; interpreter start and imports included; those timings
hold ``/tmp/timing.lock``, the minutes-long SCALE-Sim runs do not, so run the script under
``nice`` rather than inside ``flock``). Prints, per
layer, SCALE-Sim's Total and Stall Cycles next to the ``scalesim`` model's (must be equal) and the
``physical`` model's, then the process times and their ratio. ``--skip-scalesim`` takes SCALE-Sim's
figures from ``tests/data/scalesim/golden_resnet18_google128.csv`` instead (no speed ratio then).

Then: agreement of both models with every golden USER (bandwidth-limited) layer of
``tests/data/scalesim/golden_compute.csv``; DRAM traffic of the digits-CNN fp32 training step on
``tpu_v1`` (SCALE-Sim's accounting vs partial sums kept on chip); ``estimate`` of ResNet-18 and
ResNet-50 training steps on ``tpu_v1`` (time, and its ratios against both fp32 baselines).

    nice -n 10 python benchmarks/accel.py
    python benchmarks/accel.py --skip-scalesim --dataflows ws
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from scalesim_golden import DATA, google128_cfg  # noqa: E402
from scalesim_run import run_scalesim, scalesim_python  # noqa: E402

from accel_model import Accelerator, Workload, estimate  # noqa: E402
from benchmarks.common import load_line, machine_line  # noqa: E402
from tests.accel_model.golden import accelerator, golden, resnet18_google128, workload  # noqa: E402

RESNET18 = DATA / "topologies" / "Resnet18.csv"
#: SCALE-Sim's published ResNet-50 topology (the shared checkout next to the repository).
RESNET50 = ROOT.parent / "shared" / "scalesim" / "topologies" / "conv_nets" / "Resnet50.csv"


@contextlib.contextmanager
def timing_lock():
    """Hold ``/tmp/timing.lock`` (the machine's lock for recorded timings) inside the block."""
    with open("/tmp/timing.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cli_seconds(args: list[str], repeat: int) -> tuple[float, float]:
    """Best (wall, CPU user+system) seconds of the whole process ``python -m accel_model ARGS``.

    The CPU time is what the process itself needs, whatever else the machine runs."""
    cmd = [sys.executable, "-m", "accel_model", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wall = cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
        wall = min(wall, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall, cpu


def process_seconds(cfg: Path, topology: Path, memory: str, repeat: int) -> tuple[float, float]:
    """Best wall time of ``accel-model --config cfg --topology topology --memory memory``."""
    return cli_seconds(["--config", str(cfg), "--topology", str(topology), "--memory", memory], repeat)


def startup(repeat: int) -> None:
    with timing_lock():
        help_s = cli_seconds(["--help"], repeat)
        tpu_s = cli_seconds(["--preset", "tpu_v1", "--topology", str(RESNET18)], repeat)
        load = load_line()
    print(
        f"\nwhole process, wall / CPU seconds (best of {repeat}; {load}): accel-model --help "
        f"{help_s[0]:.3f} / {help_s[1]:.3f} s; ResNet-18 estimate on tpu_v1 (physical model) "
        f"{tpu_s[0]:.3f} / {tpu_s[1]:.3f} s"
    )


def resnet18(dataflows: list[str], python: str | None, repeat: int) -> None:
    workload_ = Workload.from_scalesim_topology(RESNET18)
    print(
        f"ResNet-18 ({len(workload_)} layers, {workload_.macs / 1e9:.2f} GMAC) on google.cfg at 128x128 "
        "(USER, bandwidth 10)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for df in dataflows:
            cfg = google128_cfg(Path(tmp) / f"google128_{df}.cfg", df)
            accel = Accelerator.from_scalesim_cfg(cfg)
            exact = estimate(workload_, accel, memory="scalesim").layers
            ours = estimate(workload_, accel, memory="physical").layers
            if python is not None:
                run = run_scalesim(cfg, RESNET18, gemm=False, python=python, timeout_s=4 * 3600)
                theirs = [
                    (int(r["Total Cycles"]), int(r["Stall Cycles"]))
                    for r in run.reports["COMPUTE_REPORT.csv"]
                ]
                source = f"live run: {run.wall_s:.1f} s, peak {run.peak_rss_mib:.0f} MiB"
            else:
                theirs = resnet18_google128()[df]
                source = "golden_resnet18_google128.csv"
            print(f"\n{df}: SCALE-Sim figures from the {source}")
            print(
                f"{'layer':10} {'SCALE-Sim total':>15} {'stall':>6} {'scalesim model':>14} {'stall':>6} "
                f"{'physical':>9} {'stall':>6}"
            )
            for layer, t, e, p in zip(workload_.layers, theirs, exact, ours, strict=True):
                print(
                    f"{layer.name:10} {t[0]:15} {t[1]:6} {e.total_cycles:14} {e.stall_cycles:6} "
                    f"{p.total_cycles:9} {p.stall_cycles:6}"
                )
            same = sum((e.total_cycles, e.stall_cycles) == t for e, t in zip(exact, theirs, strict=True))
            total = sum(t[0] for t in theirs)
            physical_total = sum(p.total_cycles for p in ours)
            print(
                f"{df}: scalesim model equal on {same}/{len(theirs)} layers (total "
                f"{sum(e.total_cycles for e in exact)} vs SCALE-Sim {total}); physical model total "
                f"{physical_total} ({physical_total / total:.3f}x SCALE-Sim)"
            )
            with timing_lock():
                times = {m: process_seconds(cfg, RESNET18, m, repeat) for m in ("scalesim", "physical")}
                load = load_line()
            line = ", ".join(f"{m} model {w:.3f} / {c:.3f} s" for m, (w, c) in times.items())
            if python is not None:
                line += ", ".join(
                    ["", *(f"SCALE-Sim / {m} {run.wall_s / w:.0f}x" for m, (w, _) in times.items())]
                )
            print(f"{df}: whole accel-model process, wall / CPU (best of {repeat}; {load}): {line}")


def golden_user_agreement() -> None:
    rows = [
        (c, workload(c["topology"]).layers[int(c["LayerID"])]) for c, _, _ in golden() if c["mode"] == "USER"
    ]
    counts = {"scalesim": 0, "physical": 0}
    ratios = []
    for row, layer in rows:
        want = (int(row["Total Cycles"]), int(row["Stall Cycles"]))
        for memory in counts:
            (cost,) = estimate(Workload([layer]), accelerator(row, memory)).layers
            counts[memory] += (cost.total_cycles, cost.stall_cycles) == want
            if memory == "physical":
                ratios.append(cost.total_cycles / want[0])
    stalled = sum(int(r["Stall Cycles"]) > 0 for r, _ in rows)
    print(
        f"\ngolden USER layers ({len(rows)}, {stalled} stall in SCALE-Sim): Total and Stall Cycles equal in "
        f"{counts['scalesim']} (scalesim model) and {counts['physical']} (physical model); physical total / "
        f"SCALE-Sim total from {min(ratios):.2f} to {max(ratios):.2f}, median {statistics.median(ratios):.2f}"
    )


def digits_dram() -> None:
    import torch

    from swalp.tasks import TASKS

    model = TASKS["digits-vgg"].build()
    step = Workload.from_torch(model, torch.randn(64, 1, 8, 8), training=True, swa_cycle=1)
    # whole-number bandwidth for the scalesim model: 48 B/cycle, not 48.6 (the traffic does not depend on it)
    tpu = Accelerator.preset("tpu_v1").with_(dram_bandwidth=48.0).native_fp32()
    parts = {}
    for memory in ("scalesim", "physical"):
        report = estimate(step, tpu, "fp32", memory=memory)
        parts[memory] = report.total
    print(
        "\ndigits-CNN fp32 training step (batch 64) on tpu_v1 with native fp32 MACs: DRAM "
        + ", ".join(
            f"{m} {c.dram_bytes / 1e6:.1f} MB (ofmap {c.dram_bytes_by_operand['ofmap'] / 1e6:.1f} MB, "
            f"{100 * c.energy_by_part['dram'] / c.energy_pj:.0f}% of energy)"
            for m, c in parts.items()
        )
    )


def training_step(repeat: int) -> None:
    """``estimate`` of a ResNet-18 and (where SCALE-Sim's topology is at hand) a ResNet-50
    training step on ``tpu_v1``, bfp8 everywhere: time, and ratios against both fp32 baselines."""
    for name, topology in (("ResNet-18", RESNET18), ("ResNet-50", RESNET50)):
        if not topology.exists():
            print(f"\n{name} training step: skipped, {topology} not found")
            continue
        step = Workload.from_scalesim_topology(topology).training_step(swa_cycle=4)
        formats = {r: "bfp8" for r in ("weights", "activations", "errors", "gradients", "state")}
        tpu = Accelerator.preset("tpu_v1")
        times = []
        with timing_lock():
            for _ in range(repeat):
                start = time.perf_counter()
                report = estimate(step, tpu, formats)
                times.append(time.perf_counter() - start)
        fair, emulated = report.compare("fp32"), report.compare("fp32-emulated")
        print(
            f"\n{name} training step ({len(step)} layers, {step.macs / 1e9:.1f} GMAC) on tpu_v1, bfp8, "
            f"physical model: estimate {1e3 * statistics.median(times):.2f} ms (median of {repeat}); "
            f"vs fp32 with native fp32 MACs: speedup {fair.total_speedup:.2f}x, energy ratio "
            f"{fair.total_energy_ratio:.2f}x; vs fp32 emulated on the int8 array: speedup "
            f"{emulated.total_speedup:.2f}x, energy ratio {emulated.total_energy_ratio:.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataflows", default="ws,os")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-scalesim", action="store_true", help="use the golden ResNet-18 figures")
    args = parser.parse_args(argv)
    python = None if args.skip_scalesim else scalesim_python()
    if python is None and not args.skip_scalesim:
        print("scalesim not importable: set SCALESIM_PYTHON (scripts/scalesim_run.py) or --skip-scalesim")
        return 2
    print(f"date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine_line())
    startup(args.repeat)
    resnet18(args.dataflows.split(","), python, args.repeat)
    golden_user_agreement()
    digits_dram()
    training_step(args.repeat)
    print(f"at the end: {load_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
