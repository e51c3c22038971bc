"""Results of ``estimate``: per-layer and total costs, comparison against a baseline, CSV/JSON/table output.

Units: cycles of the accelerator clock; bytes; picojoules (pJ); seconds. ``utilization`` is MACs
done / (PEs x total cycles), a fraction in [0, 1] (SCALE-Sim's ``Overall Util %`` / 100).
Ratios in :class:`Comparison` are baseline / ours: above 1 means ours is faster (speedup) or uses
less energy (energy ratio).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENERGY_PARTS = ("mac", "sram", "dram", "quantization")
OPERANDS = ("ifmap", "filter", "ofmap")


@dataclass
class Cost:
    """Cost of one layer (or the total, ``name == "total"``).

    Attributes:
        name, kind, op: the layer's (``kind == "total"`` for the total row).
        M, N, K, repeat, macs: GEMM size (0 for element-wise and the total), MACs.
        compute_cycles, stall_cycles, total_cycles: cycles; total = compute + stall.
        utilization: MACs / (PEs x total cycles).
        mapping_efficiency, compute_utilization: SCALE-Sim's (fractions; total: MAC-weighted mean).
        latency_s: total cycles / clock.
        sram_words, dram_words: elements read (ifmap, filter) and written (ofmap) per operand;
            element-wise layers put their reads under ifmap and writes under ofmap.
        sram_bytes_by_operand, dram_bytes_by_operand: the same in bytes (bits per element / 8).
        energy_by_part: pJ by part (mac, sram, dram, quantization).
    """

    name: str
    kind: str
    op: str
    M: int
    N: int
    K: int
    repeat: int
    macs: int
    compute_cycles: int
    stall_cycles: int
    utilization: float
    mapping_efficiency: float
    compute_utilization: float
    latency_s: float
    sram_words: dict[str, int] = field(default_factory=dict)
    dram_words: dict[str, int] = field(default_factory=dict)
    sram_bytes_by_operand: dict[str, float] = field(default_factory=dict)
    dram_bytes_by_operand: dict[str, float] = field(default_factory=dict)
    energy_by_part: dict[str, float] = field(default_factory=dict)

    @property
    def total_cycles(self) -> int:
        """Compute plus stall cycles."""
        return self.compute_cycles + self.stall_cycles

    @property
    def sram_bytes(self) -> float:
        """SRAM bytes read and written, all operands."""
        return sum(self.sram_bytes_by_operand.values())

    @property
    def dram_bytes(self) -> float:
        """DRAM bytes read and written, all operands."""
        return sum(self.dram_bytes_by_operand.values())

    @property
    def energy_pj(self) -> float:
        """Energy of all parts, pJ."""
        return sum(self.energy_by_part.values())

    @classmethod
    def build(
        cls,
        layer: Any,
        accel: Any,
        *,
        compute_cycles: int,
        stall_cycles: int,
        mapping_efficiency: float,
        compute_utilization: float,
        sram_words: dict,
        sram_bytes: dict,
        dram_words: dict,
        dram_bytes: dict,
        energy: dict,
    ) -> Cost:
        """The cost row of ``layer`` on ``accel`` from its computed parts."""
        total = compute_cycles + stall_cycles
        return cls(
            name=layer.name,
            kind=layer.kind,
            op=layer.op,
            M=layer.M,
            N=layer.N,
            K=layer.K,
            repeat=layer.repeat,
            macs=layer.macs,
            compute_cycles=compute_cycles,
            stall_cycles=stall_cycles,
            utilization=layer.macs / (accel.pes * total) if total else 0.0,
            mapping_efficiency=mapping_efficiency,
            compute_utilization=compute_utilization,
            latency_s=total / (accel.clock_mhz * 1e6),
            sram_words=sram_words,
            dram_words=dram_words,
            sram_bytes_by_operand=sram_bytes,
            dram_bytes_by_operand=dram_bytes,
            energy_by_part=energy,
        )

    @classmethod
    def sum(cls, costs: list[Cost], accel: Any) -> Cost:
        """The total of ``costs``."""

        def add(attr: str) -> dict:
            out: dict = {}
            for c in costs:
                for k, v in getattr(c, attr).items():
                    out[k] = out.get(k, 0) + v
            return out

        compute = sum(c.compute_cycles for c in costs)
        stall = sum(c.stall_cycles for c in costs)
        macs = sum(c.macs for c in costs)
        weight = macs or 1
        return cls(
            name="total",
            kind="total",
            op="",
            M=0,
            N=0,
            K=0,
            repeat=1,
            macs=macs,
            compute_cycles=compute,
            stall_cycles=stall,
            utilization=macs / (accel.pes * max(1, compute + stall)),
            mapping_efficiency=sum(c.mapping_efficiency * c.macs for c in costs) / weight,
            compute_utilization=sum(c.compute_utilization * c.macs for c in costs) / weight,
            latency_s=(compute + stall) / (accel.clock_mhz * 1e6),
            sram_words=add("sram_words"),
            dram_words=add("dram_words"),
            sram_bytes_by_operand=add("sram_bytes_by_operand"),
            dram_bytes_by_operand=add("dram_bytes_by_operand"),
            energy_by_part=add("energy_by_part"),
        )

    def flat(self) -> dict[str, Any]:
        """One flat dict (CSV row): scalar fields, then per-operand and per-part columns."""
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "name",
                "kind",
                "op",
                "M",
                "N",
                "K",
                "repeat",
                "macs",
                "compute_cycles",
                "stall_cycles",
                "total_cycles",
                "utilization",
                "mapping_efficiency",
                "compute_utilization",
                "latency_s",
                "sram_bytes",
                "dram_bytes",
                "energy_pj",
            )
        }
        for prefix, attr in (
            ("sram_words", "sram_words"),
            ("dram_words", "dram_words"),
            ("sram_bytes", "sram_bytes_by_operand"),
            ("dram_bytes", "dram_bytes_by_operand"),
        ):
            for op in OPERANDS:
                out[f"{prefix}_{op}"] = getattr(self, attr).get(op, 0)
        for part in ENERGY_PARTS:
            out[f"energy_{part}_pj"] = self.energy_by_part.get(part, 0.0)
        return out


class Report:
    """Per-layer costs (``layers``), their ``total``, and what produced them."""

    def __init__(
        self,
        layers: list[Cost],
        *,
        workload: Any,
        accelerator: Any,
        operands: dict,
        formats: Any,
        options: dict,
    ) -> None:
        self.layers = layers
        self.total = Cost.sum(layers, accelerator)
        self.workload = workload
        self.accelerator = accelerator
        self.operands = operands
        self.formats = formats
        self.options = options

    def compare(self, baseline: Any = "fp32") -> Comparison:
        """Compare with ``baseline`` (ratios are baseline / ours); ``baseline`` is one of

        * ``"fp32"`` (default, a fair baseline): the same workload on the same array, SRAMs and
          links with native fp32 MACs (:meth:`Accelerator.native_fp32`): one cycle per MAC, the
          energy table's fp32 multiply and add, 4-byte words in SRAM and DRAM;
        * ``"fp32-emulated"``: every role in fp32 on this accelerator as it is (on an int8 array
          in ``fixed`` mode: 16 passes per MAC), what an int8 accelerator would pay to run fp32;
        * ``"native"``: this accelerator's native widths; another format (object, spelling) for
          every role, accumulators included, or a role mapping, on this accelerator;
        * a :class:`Report`.
        """
        if isinstance(baseline, Report):
            return Comparison(baseline, self, "the given report")
        from accel_model.estimate import estimate
        from accel_model.workload import ROLES

        accel = self.accelerator
        if isinstance(baseline, str) and baseline == "fp32":
            accel, formats = accel.native_fp32(), dict.fromkeys(ROLES, "fp32")
            label = f"fp32: native fp32 MACs on the same array ({accel.name})"
        elif isinstance(baseline, str) and baseline == "fp32-emulated":
            formats = dict.fromkeys(ROLES, "fp32")
            label = f"fp32-emulated: every role in fp32 on {accel.name} (multi-pass MACs)"
        elif isinstance(baseline, str) and baseline == "native":
            formats, label = None, f"native widths of {accel.name}"
        elif isinstance(baseline, dict):
            formats, label = baseline, f"formats {baseline} on {accel.name}"
        else:
            formats, label = dict.fromkeys(ROLES, baseline), f"{baseline} for every role on {accel.name}"
        return Comparison(estimate(self.workload, accel, formats, **self.options_for_rerun()), self, label)

    def options_for_rerun(self) -> dict:
        """Keyword arguments that reproduce this report's rounding options."""
        return {
            "rounding": dict(self.options["rounding"]),
            "random_bits": self.options["random_bits"],
            "memory": self.options["memory"],
        }

    def format_labels(self) -> dict[str, str]:
        """Role -> format spelling used."""
        return {role: op.label for role, op in self.operands.items()}

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows: every layer, then the total."""
        return [c.flat() for c in self.layers] + [self.total.flat()]

    def to_csv(self, path: str | Path) -> Path:
        """Write one CSV row per layer plus a ``total`` row; returns the path."""
        path = Path(path)
        rows = self.rows()
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return path

    def as_dict(self) -> dict[str, Any]:
        """Plain data: accelerator, formats, options, skipped layers, layers, total."""
        acc = self.accelerator
        accel = {k: getattr(acc, k) for k in acc.__dataclass_fields__ if k != "energy"}
        accel["dram_bandwidth"] = None if accel["dram_bandwidth"] == float("inf") else accel["dram_bandwidth"]
        accel["energy_table"] = acc.energy.name
        return {
            "workload": getattr(self.workload, "name", ""),
            "accelerator": accel,
            "formats": self.format_labels(),
            "options": self.options,
            "skipped": list(getattr(self.workload, "skipped", [])),
            "layers": [c.flat() for c in self.layers],
            "total": self.total.flat(),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`as_dict` as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.as_dict(), indent=1))
        return path

    def __str__(self) -> str:
        acc = self.accelerator
        bw = "ideal" if acc.dram_bandwidth == float("inf") else f"{acc.dram_bandwidth:g} B/cycle"
        head = [
            f"accel_model: {getattr(self.workload, 'name', '')} on {acc.name} {acc.rows}x{acc.cols} "
            f"{acc.dataflow} {acc.pe_mode}, {acc.clock_mhz:g} MHz, DRAM {bw}, "
            f"memory model {self.options['memory']}",
            "formats: " + ", ".join(f"{k}={v}" for k, v in self.format_labels().items()),
        ]
        skipped = getattr(self.workload, "skipped", [])
        if skipped:
            head.append(f"skipped (unsupported, not estimated): {', '.join(skipped)}")
        cols = (
            "layer",
            "kind",
            "M",
            "N",
            "K",
            "cycles",
            "stall",
            "util%",
            "SRAM KiB",
            "DRAM KiB",
            "energy uJ",
        )
        body = [
            (
                c.name,
                c.kind,
                *(("", "", "") if c.kind == "total" else (c.M, c.N, c.K)),
                c.compute_cycles,
                c.stall_cycles,
                f"{100 * c.utilization:.1f}",
                f"{c.sram_bytes / 1024:.1f}",
                f"{c.dram_bytes / 1024:.1f}",
                f"{c.energy_pj / 1e6:.3f}",
            )
            for c in [*self.layers, self.total]
        ]
        parts = ", ".join(f"{p} {self.total.energy_by_part.get(p, 0) / 1e6:.3f}" for p in ENERGY_PARTS)
        tail = [
            f"total: {self.total.total_cycles} cycles = {self.total.latency_s * 1e3:.4g} ms, "
            f"utilization {100 * self.total.utilization:.1f}%, energy {self.total.energy_pj / 1e6:.4g} uJ "
            f"({parts} uJ)"
        ]
        return "\n".join([*head, _table(cols, body), *tail])


@dataclass
class LayerRatio:
    """Baseline / ours for one layer (or the total)."""

    name: str
    kind: str
    baseline_cycles: int
    cycles: int
    baseline_energy_pj: float
    energy_pj: float

    @property
    def speedup(self) -> float:
        """Baseline total cycles / ours (> 1: ours is faster; 1 when both are 0, inf when only ours is)."""
        return _ratio(self.baseline_cycles, self.cycles)

    @property
    def energy_ratio(self) -> float:
        """Baseline energy / ours (> 1: ours uses less energy; 1 when both are 0, inf when only ours is)."""
        return _ratio(self.baseline_energy_pj, self.energy_pj)


def _ratio(baseline: float, ours: float) -> float:
    if ours == 0:
        return 1.0 if baseline == 0 else float("inf")
    return baseline / ours


class Comparison:
    """Per-layer and total ratios of a baseline report to ours (baseline / ours; > 1: ours is better)."""

    def __init__(self, baseline: Report, ours: Report, label: str = "the given report") -> None:
        if len(baseline.layers) != len(ours.layers):
            raise ValueError(
                f"baseline has {len(baseline.layers)} layers, ours {len(ours.layers)}: "
                "compare reports of the same workload"
            )
        self.baseline = baseline
        self.ours = ours
        #: What the baseline is (``Report.compare`` names it: e.g. native fp32 MACs on the same array).
        self.label = label
        self.layers = [
            LayerRatio(o.name, o.kind, b.total_cycles, o.total_cycles, b.energy_pj, o.energy_pj)
            for b, o in zip(baseline.layers, ours.layers, strict=True)
        ]
        bt, ot = baseline.total, ours.total
        self.total = LayerRatio(
            "total", "total", bt.total_cycles, ot.total_cycles, bt.energy_pj, ot.energy_pj
        )

    @property
    def total_speedup(self) -> float:
        """Baseline total cycles / ours."""
        return self.total.speedup

    @property
    def total_energy_ratio(self) -> float:
        """Baseline total energy / ours."""
        return self.total.energy_ratio

    @property
    def dram_ratio(self) -> float:
        """Baseline DRAM bytes / ours."""
        return self.baseline.total.dram_bytes / max(self.ours.total.dram_bytes, 1e-300)

    def __str__(self) -> str:
        base = ", ".join(f"{k}={v}" for k, v in self.baseline.format_labels().items())
        cols = ("layer", "kind", "base cycles", "cycles", "speedup", "base uJ", "uJ", "energy ratio")
        body = [
            (
                r.name,
                r.kind,
                r.baseline_cycles,
                r.cycles,
                f"{r.speedup:.2f}",
                f"{r.baseline_energy_pj / 1e6:.3f}",
                f"{r.energy_pj / 1e6:.3f}",
                f"{r.energy_ratio:.2f}",
            )
            for r in [*self.layers, self.total]
        ]
        return "\n".join(
            [
                f"baseline: {self.label}",
                f"baseline formats: {base}",
                _table(cols, body),
                f"total speedup {self.total_speedup:.3g}x, energy ratio {self.total_energy_ratio:.3g}x, "
                f"DRAM ratio {self.dram_ratio:.3g}x (baseline / ours)",
            ]
        )


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    cells = [tuple(str(x) for x in header)] + [tuple(str(x) for x in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
