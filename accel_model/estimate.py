"""``estimate``: cycles, stalls, memory traffic and energy of a workload on an accelerator.

Per GEMM layer (all repetitions):

* compute cycles: SCALE-Sim's count (:mod:`accel_model.systolic`) for the GEMM with its reduction
  dimension scaled by the PE mode's cost per MAC, ``K' = ceil(K * factor)``
  (:func:`accel_model.precision.mac_cost_factor`; ``K' = K`` at native width in ``fixed`` mode);
* SRAM traffic: SCALE-Sim's access counts (elements) times each operand's bits per element;
* DRAM traffic and stall cycles: by the memory model (:mod:`accel_model.memory`), ``memory=``
  or the accelerator's default. ``"scalesim"``: SCALE-Sim 3.0.0's buffers simulated exactly
  (its ``Total Cycles`` and ``Stall Cycles``), DRAM counted as SCALE-Sim does (every ofmap write
  of every fold). ``"physical"``: partial sums stay on chip when they fit, per-buffer
  bandwidths, transfers overlapping compute. Both fetch distinct ifmap and filter elements once
  when they fit in half their SRAM (double buffering), else once per fold of the other spatial
  dimension that re-streams them; both give no stalls with ideal bandwidth (CALC mode);
* energy (pJ): ``mac`` = MACs x (multiply at the wider operand + add at the accumulator),
  ``sram``/``dram`` = bytes x per-byte energy, ``quantization`` = rounding each output element
  from the accumulator to the output role's format (a max-reduction first for block formats,
  random bits for stochastic rounding); no quantization cost when the formats are equal.

Element-wise layers run on a vector unit with one lane per array column: cycles
``ceil(elements * ops * per_step / cols)``; their arithmetic runs at the accumulator precision
(SWA averaging at the ``average`` role's); operands stream DRAM -> SRAM -> unit and back.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from accel_model.hardware import MEMORY_MODELS, Accelerator
from accel_model.memory import physical
from accel_model.precision import Operand, mac_cost_factor, resolve
from accel_model.report import Cost, Report
from accel_model.systolic import map_gemm, sram_accesses
from accel_model.workload import ELEMENTWISE_OPS, ROLES, Layer, Workload

ROUNDINGS = ("nearest", "stochastic")


def estimate(
    workload: Workload,
    accelerator: Accelerator,
    formats: Mapping[str, Any] | str | Any | None = None,
    *,
    rounding: Mapping[str, str] | str = "nearest",
    random_bits: int = 8,
    memory: str | None = None,
) -> Report:
    """Estimate ``workload`` on ``accelerator`` with tensor ``formats``; see the module docstring.

    Args:
        workload: a :class:`Workload`.
        accelerator: an :class:`Accelerator`.
        formats: role -> lpformats format or spelling (roles ``weights``, ``activations``,
            ``errors``, ``gradients``, ``accumulators``, ``state``, ``average``), or one format for
            all roles but accumulators; roles left out use the accelerator's native widths
            (:mod:`accel_model.precision`).
        rounding: ``"nearest"`` or ``"stochastic"``, for all roles or per role: stochastic
            rounding costs ``random_bits`` random bits per rounded element.
        random_bits: random bits drawn per stochastically rounded element (>= 1).
        memory: ``"scalesim"`` or ``"physical"`` (:mod:`accel_model.memory`); None: the
            accelerator's ``memory`` (``"scalesim"`` when read from a SCALE-Sim cfg).
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    if not isinstance(accelerator, Accelerator):
        raise TypeError(f"accelerator must be an Accelerator, got {type(accelerator).__name__}")
    if isinstance(random_bits, bool) or not isinstance(random_bits, int) or random_bits < 1:
        raise ValueError(f"random_bits must be an int >= 1, got {random_bits!r}")
    memory = accelerator.memory if memory is None else memory
    if memory not in MEMORY_MODELS:
        raise ValueError(f"memory must be one of {MEMORY_MODELS} or None, got {memory!r}")
    roundings = _roundings(rounding)
    operands = resolve(formats, accelerator)
    ctx = _Context(accelerator, operands, roundings, random_bits, memory)
    costs = [ctx.layer_cost(layer) for layer in workload.layers]
    return Report(
        costs,
        workload=workload,
        accelerator=accelerator,
        operands=operands,
        formats=formats,
        options={"rounding": roundings, "random_bits": random_bits, "memory": memory},
    )


def _roundings(rounding: Mapping[str, str] | str) -> dict[str, str]:
    if isinstance(rounding, str):
        rounding = {role: rounding for role in ROLES}
    out = {role: "nearest" for role in ROLES}
    for role, mode in rounding.items():
        if role not in ROLES:
            raise ValueError(f"rounding: unknown role {role!r}; roles are {', '.join(ROLES)}")
        if mode not in ROUNDINGS:
            raise ValueError(f"rounding for role {role!r} must be one of {ROUNDINGS}, got {mode!r}")
        out[role] = mode
    return out


class _Context:
    """Per-call constants: accelerator, resolved operands, rounding."""

    def __init__(
        self,
        accel: Accelerator,
        operands: dict[str, Operand],
        roundings: dict[str, str],
        random_bits: int,
        memory: str,
    ) -> None:
        self.accel = accel
        self.memory = memory
        self.ops = operands
        self.roundings = roundings
        self.random_bits = random_bits
        e = accel.energy
        self.sram_pj = {
            "ifmap": e.sram_pj_per_byte(accel.ifmap_sram_kib),
            "filter": e.sram_pj_per_byte(accel.filter_sram_kib),
            "ofmap": e.sram_pj_per_byte(accel.ofmap_sram_kib),
        }
        self.dram_pj = e.dram_pj_per_byte

    def quant_pj(self, source: Operand, target: Operand) -> float:
        """Energy to round one element from ``source`` precision to ``target``'s format."""
        if source.label == target.label:
            return 0.0
        e = self.accel.energy
        pj = e.add_pj(target.kind, target.width)
        if target.shared_scale:
            pj += e.add_pj(source.kind, source.width)
        if self.roundings[target.role] == "stochastic":
            pj += self.random_bits * e.rng_pj_per_bit
        return pj

    def stall(self, dram_bytes: float, compute_cycles: int) -> int:
        if math.isinf(self.accel.dram_bandwidth):
            return 0
        return max(0, math.ceil(dram_bytes / self.accel.dram_bandwidth) - compute_cycles)

    def layer_cost(self, layer: Layer) -> Cost:
        return self.gemm_cost(layer) if layer.is_gemm else self.elementwise_cost(layer)

    def gemm_cost(self, layer: Layer) -> Cost:
        accel, e = self.accel, self.accel.energy
        a, w, o = self.ops[layer.ifmap_role], self.ops[layer.filter_role], self.ops[layer.ofmap_role]
        acc = self.ops["accumulators"]
        k_eff = max(1, math.ceil(layer.K * mac_cost_factor(a, w, accel) - 1e-9))
        mapping = map_gemm(layer.M, layer.N, k_eff, accel.rows, accel.cols, accel.dataflow, layer.repeat)
        reads_a, reads_w, writes_o = sram_accesses(layer.M, layer.N, layer.K, mapping, accel.dataflow)
        bpe = {
            "ifmap": a.bits_per_element((layer.M, layer.K)),
            "filter": w.bits_per_element((layer.K, layer.N)),
            "ofmap": o.bits_per_element((layer.M, layer.N)),
        }
        rep = layer.repeat
        sram_words = {"ifmap": reads_a * rep, "filter": reads_w * rep, "ofmap": writes_o * rep}
        sram_bytes = {k: sram_words[k] * bpe[k] / 8 for k in sram_words}
        dram_words = {k: v * rep for k, v in self._dram_elements(layer, mapping, bpe).items()}
        dram_bytes = {k: dram_words[k] * bpe[k] / 8 for k in dram_words}
        if self.memory == "scalesim":
            dram_words["ofmap"], dram_bytes["ofmap"] = writes_o * rep, writes_o * rep * bpe["ofmap"] / 8
            cycles = scalesim_layer(layer, k_eff, accel)
            compute, stall = rep * (cycles.total_cycles - cycles.stall_cycles), rep * cycles.stall_cycles
        else:
            fits = physical.partial_sums_fit(
                layer.M, layer.N, accel.cols, accel.dataflow, acc.bits, accel.ofmap_sram_kib
            )
            words, nbytes = physical.ofmap_traffic(
                layer.M, layer.N, mapping.row_folds, fits, bpe["ofmap"], acc.bits
            )
            dram_words["ofmap"], dram_bytes["ofmap"] = words * rep, nbytes * rep
            compute = mapping.cycles
            stall = physical.stall_cycles(dram_bytes, compute, accel)
        mult_kind = "float" if "float" in (a.kind, w.kind) else "int"
        mac_pj = e.mult_pj(mult_kind, max(a.width, w.width)) + e.add_pj(acc.kind, acc.width)
        energy = {
            "mac": layer.macs * mac_pj,
            "sram": sum(sram_bytes[k] * self.sram_pj[k] for k in sram_bytes),
            "dram": sum(dram_bytes.values()) * self.dram_pj,
            "quantization": layer.M * layer.N * rep * self.quant_pj(acc, o),
        }
        return Cost.build(
            layer,
            accel,
            compute_cycles=compute,
            stall_cycles=stall,
            mapping_efficiency=mapping.mapping_efficiency,
            compute_utilization=mapping.compute_utilization,
            sram_words=sram_words,
            sram_bytes=sram_bytes,
            dram_words=dram_words,
            dram_bytes=dram_bytes,
            energy=energy,
        )

    def _dram_elements(self, layer: Layer, mapping: Any, bpe: dict[str, float]) -> dict[str, int]:
        accel = self.accel
        fits_a = layer.ifmap_elements * bpe["ifmap"] / 8 <= accel.ifmap_sram_kib * 512
        fits_w = layer.filter_elements * bpe["filter"] / 8 <= accel.filter_sram_kib * 512
        ifmap, filt = layer.ifmap_elements, layer.filter_elements
        if accel.dataflow == "ws":
            ifmap *= 1 if fits_a else mapping.col_folds
        elif accel.dataflow == "os":
            ifmap *= 1 if fits_a else mapping.col_folds
            filt *= 1 if fits_w else mapping.row_folds
        else:
            filt *= 1 if fits_w else mapping.col_folds
        return {"ifmap": ifmap, "filter": filt}

    def elementwise_cost(self, layer: Layer) -> Cost:
        accel, e = self.accel, self.accel.energy
        mults, adds, vec_ops = ELEMENTWISE_OPS[layer.op]
        n = layer.elements * layer.per_step
        quant = 0.0
        if layer.op == "quantize":
            quant = n * self.quant_pj(self.ops["accumulators"], self.ops[layer.ofmap_role])
            vec_ops = vec_ops if quant else 0  # nothing to round when the formats are equal
        cycles = math.ceil(n * vec_ops / accel.cols)
        arith = self.ops["average"] if layer.op == "swa" else self.ops["accumulators"]
        shape = (layer.elements, 1)
        read_bytes = sum(n * self.ops[r].bits_per_element(shape) / 8 for r in layer.reads)
        write_bytes = sum(n * self.ops[r].bits_per_element(shape) / 8 for r in layer.writes)
        read_words = math.ceil(n) * len(layer.reads)
        write_words = math.ceil(n) * len(layer.writes)
        sram_words = {"ifmap": read_words, "filter": 0, "ofmap": write_words}
        sram_bytes = {"ifmap": read_bytes, "filter": 0.0, "ofmap": write_bytes}
        energy = {
            "mac": n
            * (mults * e.mult_pj(arith.kind, arith.width) + adds * e.add_pj(arith.kind, arith.width)),
            "sram": read_bytes * self.sram_pj["ifmap"] + write_bytes * self.sram_pj["ofmap"],
            "dram": (read_bytes + write_bytes) * self.dram_pj,
            "quantization": quant,
        }
        return Cost.build(
            layer,
            accel,
            compute_cycles=cycles,
            stall_cycles=self.stall(read_bytes + write_bytes, cycles),
            mapping_efficiency=0.0,
            compute_utilization=0.0,
            sram_words=sram_words,
            sram_bytes=sram_bytes,
            dram_words=dict(sram_words),
            dram_bytes=dict(sram_bytes),
            energy=energy,
        )


def scalesim_layer(layer: Layer, k: int, accel: Accelerator) -> Any:
    """SCALE-Sim 3.0.0's cycles of one repetition of GEMM ``layer`` (reduction ``k``) on ``accel``.

    The convolution's own address pattern when ``k`` is its window (``layer.conv``), else
    SCALE-Sim's GEMM layout. Raises ValueError when the accelerator is not expressible in
    SCALE-Sim (fractional SRAM KiB or bandwidths).
    """
    from accel_model.memory.scalesim_streams import Geometry

    if layer.conv is not None and k == layer.K:
        geometry = Geometry(*layer.conv)
    else:
        geometry = Geometry.gemm(layer.M, layer.N, k)
    return _scalesim_cycles(geometry, accel.dataflow, accel.rows, accel.cols, _scalesim_buffers(accel))


def _whole(value: float, what: str) -> int:
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"memory='scalesim' needs a whole number for {what}, got {value}")
    return int(value)


def _scalesim_buffers(accel: Accelerator) -> Any:
    from accel_model.memory.scalesim import Buffers

    words = [
        _whole(kib * 1024, f"{op} SRAM bytes")
        for op, kib in (
            ("ifmap", accel.ifmap_sram_kib),
            ("filter", accel.filter_sram_kib),
            ("ofmap", accel.ofmap_sram_kib),
        )
    ]
    own = (accel.ifmap_bandwidth, accel.filter_bandwidth, accel.ofmap_bandwidth)
    if math.isinf(accel.dram_bandwidth) and all(bw is None for bw in own):
        return Buffers(*words)
    bws = [
        _whole(accel.dram_bandwidth if bw is None else bw, f"{op} bandwidth (bytes per cycle)")
        for op, bw in zip(("ifmap", "filter", "ofmap"), own, strict=True)
    ]
    return Buffers(*words, *bws)


@functools.lru_cache(maxsize=4096)
def _scalesim_cycles(geometry: Any, dataflow: str, rows: int, cols: int, buffers: Any) -> Any:
    from accel_model.memory.scalesim import simulate

    return simulate(geometry, dataflow, rows, cols, buffers)
