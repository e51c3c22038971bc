"""``accel-model``: estimate a SCALE-Sim topology or a torch model; write SCALE-Sim-style reports.

Examples::

    accel-model --config google.cfg --topology Resnet18.csv --out out/ --formats bfp8 --compare fp32
    accel-model --torch mypkg.models:small_cnn --input 8,3,32,32 --training --swa-cycle 4 \\
        --preset tpu_v1 --formats weights=bfp8 activations=bfp8 --rounding stochastic --out out/

Files written to ``--out`` (see ``write_reports``): ``COMPUTE_REPORT.csv``,
``BANDWIDTH_REPORT.csv``, ``DETAILED_ACCESS_REPORT.csv`` (SCALE-Sim's column names, the columns we
model), ``ENERGY_REPORT.csv``, ``report.csv`` and ``report.json`` (everything), and
``comparison.csv`` with ``--compare``. The table is printed to stdout.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from pathlib import Path

from accel_model.energy import EnergyTable
from accel_model.estimate import estimate
from accel_model.hardware import DATAFLOWS, MEMORY_MODELS, PE_MODES, PRESETS, Accelerator
from accel_model.report import ENERGY_PARTS, Comparison, Report
from accel_model.workload import Workload


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``accel-model``."""
    p = argparse.ArgumentParser(prog="accel-model", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--topology", type=Path, help="SCALE-Sim topology CSV (conv or GEMM layout)")
    src.add_argument("--torch", metavar="MODULE:FACTORY", help="callable returning a torch.nn.Module")
    p.add_argument("--layout", choices=("auto", "conv", "gemm"), default="auto", help="topology CSV layout")
    p.add_argument("--input", help="example input shape for --torch, e.g. 1,3,32,32")
    p.add_argument("--skip-unsupported", action="store_true", help="leave unsupported torch layers out")
    hw = p.add_mutually_exclusive_group()
    hw.add_argument("--config", type=Path, help="SCALE-Sim .cfg of the accelerator")
    hw.add_argument("--preset", choices=sorted(PRESETS), help="named accelerator (default: tpu_v1)")
    p.add_argument("--dataflow", choices=DATAFLOWS, help="override the dataflow")
    p.add_argument("--pe-mode", choices=PE_MODES, help="override the PE mode")
    p.add_argument("--clock-mhz", type=float, help="clock (default: preset's, or 1000 MHz for --config)")
    p.add_argument("--energy-table", type=Path, help="TOML file overriding entries of the energy table")
    p.add_argument(
        "--formats",
        nargs="+",
        metavar="FMT|ROLE=FMT",
        help="one format for all roles, or role=format pairs (e.g. weights=bfp8)",
    )
    p.add_argument("--rounding", choices=("nearest", "stochastic"), default="nearest")
    p.add_argument("--training", action="store_true", help="estimate one training step")
    p.add_argument("--swa-cycle", type=int, help="SWA averaging every N steps (with --training)")
    p.add_argument(
        "--memory",
        choices=MEMORY_MODELS,
        help="memory model (default: scalesim with --config, physical otherwise)",
    )
    p.add_argument(
        "--compare",
        metavar="BASELINE",
        help="baseline: fp32 (native fp32 MACs on the same array), fp32-emulated (fp32 on this "
        "accelerator, multi-pass), native, or a format for every role",
    )
    p.add_argument("--out", type=Path, help="folder for the reports")
    return p


def parse_formats(items: list[str] | None) -> dict[str, str] | str | None:
    """``["bfp8"]`` -> ``"bfp8"``; ``["weights=bfp8", ...]`` -> ``{"weights": "bfp8", ...}``."""
    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    out = {}
    for item in items:
        role, sep, fmt = item.partition("=")
        if not sep or not role or not fmt:
            raise ValueError(f"--formats: expected ROLE=FORMAT, got {item!r}")
        out[role.strip()] = fmt.strip()
    return out


def parse_shape(text: str | None) -> tuple[int, ...]:
    """``"1,3,32,32"`` -> ``(1, 3, 32, 32)``."""
    if not text:
        raise ValueError("--input is required with --torch (e.g. --input 1,3,32,32)")
    try:
        shape = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--input must be comma-separated positive integers, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise ValueError(f"--input must be comma-separated positive integers, got {text!r}")
    return shape


def load_factory(spec: str):
    """Import ``MODULE:FACTORY`` and call it; it must return a ``torch.nn.Module``."""
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"--torch must be MODULE:FACTORY, got {spec!r}")
    try:
        factory = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--torch {spec}: cannot load ({exc})") from None
    return factory()


def make_accelerator(args: argparse.Namespace) -> Accelerator:
    """The accelerator from --config or --preset plus overrides."""
    if args.config is not None:
        accel = Accelerator.from_scalesim_cfg(args.config, clock_mhz=args.clock_mhz or 1000.0)
    else:
        accel = Accelerator.preset(args.preset or "tpu_v1")
        if args.clock_mhz:
            accel = accel.with_(clock_mhz=args.clock_mhz)
    changes: dict[str, object] = {}
    if args.dataflow:
        changes["dataflow"] = args.dataflow
    if args.pe_mode:
        changes["pe_mode"] = args.pe_mode
    if args.energy_table:
        changes["energy"] = EnergyTable.load(override=args.energy_table)
    return accel.with_(**changes) if changes else accel


def make_workload(args: argparse.Namespace) -> Workload:
    """The workload from --topology or --torch (training step with --training)."""
    if args.swa_cycle is not None and not args.training:
        raise ValueError("--swa-cycle needs --training")
    if args.topology is not None:
        workload = Workload.from_scalesim_topology(args.topology, layout=args.layout)
        return workload.training_step(args.swa_cycle) if args.training else workload
    import torch

    module = load_factory(args.torch)
    example = torch.randn(*parse_shape(args.input))
    return Workload.from_torch(
        module,
        example,
        training=args.training,
        swa_cycle=args.swa_cycle,
        skip_unsupported=args.skip_unsupported,
    )


def write_reports(report: Report, out: Path, comparison: Comparison | None = None) -> list[Path]:
    """Write the report files into ``out`` (created); returns their paths.

    SCALE-Sim-compatible columns, per layer (``LayerID`` = index): COMPUTE_REPORT ``Total Cycles``
    (compute + stall), ``Stall Cycles``, ``Overall Util %``, ``Mapping Efficiency %``,
    ``Compute Util %``; BANDWIDTH_REPORT average words per cycle over the layer's total cycles;
    DETAILED_ACCESS_REPORT SRAM and DRAM reads/writes in words. SCALE-Sim's ``Total Cycles (incl.
    prefetch)`` and the start/stop cycles of each access stream are not modelled.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def write(name: str, header: list[str], rows: list[list]) -> None:
        path = out / name
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
        written.append(path)

    layers = list(enumerate(report.layers))
    write(
        "COMPUTE_REPORT.csv",
        [
            "LayerID",
            "Layer",
            "Total Cycles",
            "Stall Cycles",
            "Overall Util %",
            "Mapping Efficiency %",
            "Compute Util %",
        ],
        [
            [
                i,
                c.name,
                c.total_cycles,
                c.stall_cycles,
                100 * c.utilization,
                100 * c.mapping_efficiency,
                100 * c.compute_utilization,
            ]
            for i, c in layers
        ],
    )
    ops = ("ifmap", "filter", "ofmap")
    write(
        "BANDWIDTH_REPORT.csv",
        [
            "LayerID",
            "Avg IFMAP SRAM BW",
            "Avg FILTER SRAM BW",
            "Avg OFMAP SRAM BW",
            "Avg IFMAP DRAM BW",
            "Avg FILTER DRAM BW",
            "Avg OFMAP DRAM BW",
        ],
        [
            [i]
            + [c.sram_words[k] / max(1, c.total_cycles) for k in ops]
            + [c.dram_words[k] / max(1, c.total_cycles) for k in ops]
            for i, c in layers
        ],
    )
    write(
        "DETAILED_ACCESS_REPORT.csv",
        [
            "LayerID",
            "SRAM IFMAP Reads",
            "SRAM Filter Reads",
            "SRAM OFMAP Writes",
            "DRAM IFMAP Reads",
            "DRAM Filter Reads",
            "DRAM OFMAP Writes",
        ],
        [[i] + [c.sram_words[k] for k in ops] + [c.dram_words[k] for k in ops] for i, c in layers],
    )
    write(
        "ENERGY_REPORT.csv",
        ["LayerID", "Layer", "Kind"]
        + [f"{p.upper()} Energy (pJ)" for p in ENERGY_PARTS]
        + ["Total Energy (pJ)", "Latency (s)"],
        [
            [i, c.name, c.kind] + [c.energy_by_part[p] for p in ENERGY_PARTS] + [c.energy_pj, c.latency_s]
            for i, c in layers
        ],
    )
    written.append(report.to_csv(out / "report.csv"))
    written.append(report.to_json(out / "report.json"))
    if comparison is not None:
        write(
            "comparison.csv",
            [
                "Layer",
                "Kind",
                "Baseline Cycles",
                "Cycles",
                "Speedup",
                "Baseline Energy (pJ)",
                "Energy (pJ)",
                "Energy Ratio",
            ],
            [
                [
                    r.name,
                    r.kind,
                    r.baseline_cycles,
                    r.cycles,
                    r.speedup,
                    r.baseline_energy_pj,
                    r.energy_pj,
                    r.energy_ratio,
                ]
                for r in [*comparison.layers, comparison.total]
            ],
        )
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on bad input, with the message on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        accel = make_accelerator(args)
        workload = make_workload(args)
        report = estimate(
            workload, accel, parse_formats(args.formats), rounding=args.rounding, memory=args.memory
        )
        comparison = report.compare(args.compare) if args.compare else None
    except (ValueError, TypeError) as exc:
        print(f"accel-model: error: {exc}", file=sys.stderr)
        return 2
    print(report)
    if comparison is not None:
        print()
        print(comparison)
    if args.out is not None:
        paths = write_reports(report, args.out, comparison)
        print(f"\nwrote {', '.join(p.name for p in paths)} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
