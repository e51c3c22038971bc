"""Benchmark: accel_model.estimate vs SCALE-Sim 3.0.0 on the same config and topology, per dataflow.

For each dataflow, SCALE-Sim runs once (in its own venv, ``SCALESIM_PYTHON``, see
``scripts/scalesim_run.py``; ideal interface bandwidth, traces written to a temp dir and deleted),
timed by wall clock with its peak resident memory; ``estimate`` runs on the same inputs (median of
``--repeat`` runs; peak Python allocation by tracemalloc). Prints both times, the ratio and whether
the compute cycles agree layer by layer. Then times ``estimate`` of one training step of the
ResNet-50 topology (forward, backward GEMMs, element-wise updates) on the ``tpu_v1`` preset.

    SCALESIM_PYTHON=/tmp/scalesim-venv/bin/python python benchmarks/accel.py
    python benchmarks/accel.py --skip-scalesim        # estimate timings only
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from scalesim_run import run_scalesim, scalesim_python, write_cfg  # noqa: E402

from accel_model import Accelerator, Workload, estimate  # noqa: E402
from benchmarks.common import load_line, machine_line  # noqa: E402

SHARED = ROOT.parent / "shared" / "scalesim" / "topologies"


def time_estimate(
    workload: Workload, accel: Accelerator, formats=None, repeat: int = 20
) -> tuple[float, float]:
    """(median seconds, peak traced MiB) of ``estimate(workload, accel, formats)``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        estimate(workload, accel, formats)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    estimate(workload, accel, formats)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", type=Path, default=SHARED / "conv_nets" / "alexnet.csv")
    parser.add_argument("--array", default="128x128", help="rows x cols of the array")
    parser.add_argument("--dataflows", default="ws,os,is")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--skip-scalesim", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rows, cols = (int(x) for x in args.array.lower().split("x"))
    python = None if args.skip_scalesim else scalesim_python()
    if python is None and not args.skip_scalesim:
        print("scalesim not importable: set SCALESIM_PYTHON (scripts/scalesim_run.py) or --skip-scalesim")
        return 2
    workload = Workload.from_scalesim_topology(args.topology)
    print(f"date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(machine_line())
    results: dict[str, object] = {"topology": args.topology.name, "array": f"{rows}x{cols}", "runs": []}
    print(
        f"topology {args.topology.name} ({len(workload)} layers, {workload.macs / 1e9:.2f} GMAC), "
        f"array {rows}x{cols}, ideal bandwidth"
    )
    print(
        f"{'flow':4}  {'scalesim s':>10}  {'scalesim MiB':>12}  {'estimate ms':>11}  {'estimate MiB':>12}  "
        f"{'speedup':>9}  compute cycles"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for df in args.dataflows.split(","):
            cfg = write_cfg(
                Path(tmp) / f"{df}.cfg",
                rows=rows,
                cols=cols,
                dataflow=df,
                ifmap_kb=6144,
                filter_kb=6144,
                ofmap_kb=2048,
            )
            accel = Accelerator.from_scalesim_cfg(cfg)
            est_s, est_mib = time_estimate(workload, accel, repeat=args.repeat)
            ours = [c.compute_cycles for c in estimate(workload, accel).layers]
            run = {
                "dataflow": df,
                "estimate_s": est_s,
                "estimate_peak_mib": est_mib,
                "total_cycles": sum(ours),
            }
            if python is not None:
                theirs = run_scalesim(cfg, args.topology, gemm=False, python=python)
                cycles = [int(r["Total Cycles"]) for r in theirs.reports["COMPUTE_REPORT.csv"]]
                same = sum(a == b for a, b in zip(ours, cycles, strict=True))
                run.update(
                    scalesim_s=theirs.wall_s,
                    scalesim_peak_mib=theirs.peak_rss_mib,
                    speedup=theirs.wall_s / est_s,
                    layers_equal=same,
                    layers=len(ours),
                )
                print(
                    f"{df:4}  {theirs.wall_s:10.1f}  {theirs.peak_rss_mib:12.0f}  {est_s * 1e3:11.3f}  "
                    f"{est_mib:12.3f}  {theirs.wall_s / est_s:9.0f}  {same}/{len(ours)} layers equal "
                    f"(total {sum(ours)})"
                )
            else:
                dash = "-"
                print(
                    f"{df:4}  {dash:>10}  {dash:>12}  {est_s * 1e3:11.3f}  {est_mib:12.3f}  {dash:>9}  "
                    f"total {sum(ours)}"
                )
            results["runs"].append(run)
    resnet50 = Workload.from_scalesim_topology(SHARED / "conv_nets" / "Resnet50.csv")
    step = resnet50.training_step(swa_cycle=4)
    formats = {r: "bfp8" for r in ("weights", "activations", "errors", "gradients", "state")}
    tpu = Accelerator.preset("tpu_v1")
    step_s, step_mib = time_estimate(step, tpu, formats, repeat=args.repeat)
    report = estimate(step, tpu, formats)
    cmp = report.compare("fp32")
    results["resnet50_training_step"] = {
        "layers": len(step),
        "gmac": step.macs / 1e9,
        "estimate_s": step_s,
        "estimate_peak_mib": step_mib,
        "speedup_vs_fp32": cmp.total_speedup,
        "energy_ratio_vs_fp32": cmp.total_energy_ratio,
    }
    print(
        f"ResNet-50 training step ({len(step)} layers, {step.macs / 1e9:.1f} GMAC) on tpu_v1, bfp8: "
        f"estimate {step_s * 1e3:.2f} ms (peak {step_mib:.2f} MiB); "
        f"vs fp32: speedup {cmp.total_speedup:.2f}x, energy ratio {cmp.total_energy_ratio:.2f}x"
    )
    print(f"at the end: {load_line()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
