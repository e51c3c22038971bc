"""The accelerator: a rows x cols systolic array with three SRAMs, a DRAM link and an energy table."""

from __future__ import annotations

import configparser
import functools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from accel_model.energy import EnergyTable

DATAFLOWS = ("ws", "os", "is")
PE_MODES = ("fixed", "fusion", "bit_serial")
#: Memory models (``accel_model.memory``): SCALE-Sim 3.0.0's buffers, exactly, or our physical model.
MEMORY_MODELS = ("scalesim", "physical")


@functools.cache
def _default_energy() -> EnergyTable:
    return EnergyTable.load()


@dataclass(frozen=True)
class Accelerator:
    """A TPU-like systolic array (SCALE-Sim's model) with operand bit widths and an energy table.

    Attributes:
        rows, cols: PE array height and width (SCALE-Sim ``ArrayHeight``/``ArrayWidth``).
        dataflow: ``"ws"`` weight, ``"os"`` output or ``"is"`` input stationary.
        clock_mhz: clock frequency in MHz (latency = cycles / clock).
        ifmap_sram_kib, filter_sram_kib, ofmap_sram_kib: SRAM size per operand in KiB
            (double-buffered: half of each holds the working set, as SCALE-Sim).
        dram_bandwidth: DRAM <-> SRAM bandwidth in bytes per cycle; ``math.inf`` is SCALE-Sim's
            ideal ``CALC`` interface bandwidth (no stalls).
        ifmap_bandwidth, filter_bandwidth, ofmap_bandwidth: bytes per cycle of each buffer's own
            DRAM interface (SCALE-Sim USER mode: ``IfmapSRAMBankBandwidth``,
            ``FilterSRAMBankBandwidth``, ``Bandwidth``); ``None``: the buffer shares the
            ``dram_bandwidth`` link with the others.
        memory: default memory model of ``estimate``: ``"physical"`` (ours) or ``"scalesim"``
            (SCALE-Sim 3.0.0's buffers, exactly; the default of ``from_scalesim_cfg``).
        input_bits, weight_bits, output_bits, acc_bits: native widths of activations (ifmap),
            weights (filter), outputs/partial sums (ofmap) and the in-PE accumulator. They are
            the widths used when ``estimate`` is given no format for a role.
        pe_mode: ``"fixed"`` one MAC per PE per cycle up to the native width (wider operands take
            ``ceil(bits/native)`` passes each); ``"fusion"`` Bit Fusion: a native PE does
            ``(native_a/a) * (native_w/w)`` MACs per cycle, widths rounded up to powers of two
            >= 2; ``"bit_serial"`` (Stripes/Loom): a MAC costs ``a*w / (native_a*native_w)``
            cycles. ``fusion``/``bit_serial`` scale the reduction dimension K (see ``systolic``).
        energy: the :class:`EnergyTable` (default: Horowitz 45 nm).
        name: label used in reports.
    """

    rows: int
    cols: int
    dataflow: str = "ws"
    clock_mhz: float = 1000.0
    ifmap_sram_kib: float = 64.0
    filter_sram_kib: float = 64.0
    ofmap_sram_kib: float = 64.0
    dram_bandwidth: float = math.inf
    ifmap_bandwidth: float | None = None
    filter_bandwidth: float | None = None
    ofmap_bandwidth: float | None = None
    memory: str = "physical"
    input_bits: int = 8
    weight_bits: int = 8
    output_bits: int = 8
    acc_bits: int = 32
    pe_mode: str = "fixed"
    energy: EnergyTable = field(default_factory=_default_energy, repr=False)
    name: str = "custom"

    def __post_init__(self) -> None:
        for attr in ("rows", "cols", "input_bits", "weight_bits", "output_bits", "acc_bits"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{attr} must be an int, got {value!r}")
            if value <= 0:
                raise ValueError(f"{attr} must be > 0, got {value}")
        for attr in ("clock_mhz", "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib", "dram_bandwidth"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{attr} must be a number, got {value!r}")
            if not value > 0 or math.isnan(value):
                raise ValueError(f"{attr} must be > 0, got {value}")
        for attr in ("ifmap_bandwidth", "filter_bandwidth", "ofmap_bandwidth"):
            value = getattr(self, attr)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{attr} must be a number of bytes per cycle or None, got {value!r}")
            if not value > 0 or math.isnan(value):
                raise ValueError(f"{attr} must be > 0, got {value}")
        if self.memory not in MEMORY_MODELS:
            raise ValueError(f"memory must be one of {MEMORY_MODELS}, got {self.memory!r}")
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"dataflow must be one of {DATAFLOWS}, got {self.dataflow!r}")
        if self.pe_mode not in PE_MODES:
            raise ValueError(f"pe_mode must be one of {PE_MODES}, got {self.pe_mode!r}")
        if not isinstance(self.energy, EnergyTable):
            raise TypeError(f"energy must be an EnergyTable, got {type(self.energy).__name__}")

    @property
    def pes(self) -> int:
        """Number of processing elements (MAC units)."""
        return self.rows * self.cols

    @property
    def peak_macs_per_s(self) -> float:
        """Peak MACs per second at native width: PEs x clock."""
        return self.pes * self.clock_mhz * 1e6

    @property
    def peak_ops_per_s(self) -> float:
        """Peak operations per second (a MAC counts as 2 ops), the figure vendors quote as TOPS."""
        return 2 * self.peak_macs_per_s

    def native_fp32(self) -> Accelerator:
        """The same array, SRAMs and links with native fp32 MACs (the fair fp32 baseline).

        Every operand is 32 bits wide, so a fp32 MAC takes one cycle, its energy is the table's
        fp32 multiply plus fp32 add, and SRAM/DRAM move 4 bytes per element. An accelerator
        that is already 32 bits wide everywhere is returned as is.
        """
        if (self.input_bits, self.weight_bits, self.output_bits, self.acc_bits) == (32, 32, 32, 32):
            return self
        return replace(
            self, input_bits=32, weight_bits=32, output_bits=32, acc_bits=32, name=f"{self.name}-fp32"
        )

    def with_(self, **changes: object) -> Accelerator:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    @classmethod
    def preset(cls, name: str) -> Accelerator:
        """A named accelerator: ``tpu_v1`` or ``edge32`` (see :data:`PRESETS`)."""
        if name not in PRESETS:
            raise ValueError(f"preset name must be one of {sorted(PRESETS)}, got {name!r}")
        return cls(name=name, **PRESETS[name])

    @classmethod
    def from_scalesim_cfg(cls, path: str | Path, *, clock_mhz: float = 1000.0) -> Accelerator:
        """Read a SCALE-Sim ``.cfg`` (``[architecture_presets]`` and ``[run_presets]``).

        One SCALE-Sim word is one byte, so all operand widths are 8 bits (accumulator 32). With
        ``InterfaceBandwidth: CALC`` the DRAM bandwidth is ideal (``math.inf``); with ``USER`` the
        ifmap and filter buffers read at ``[layout] IfmapSRAMBankBandwidth`` and
        ``FilterSRAMBankBandwidth`` and the ofmap buffer writes at the first ``Bandwidth`` entry,
        words (bytes) per cycle, as SCALE-Sim 3.0.0 does (``single_layer_sim.py`` lines 250-254).
        The memory model is ``"scalesim"``. SCALE-Sim has no clock: ``clock_mhz`` sets it.
        Raises ValueError naming the file, line, section and field of any bad value
        (``"run.cfg:9: [architecture_presets] ArrayHeight must be > 0, got 0"``).
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"{path}: cannot read SCALE-Sim config file ({exc.strerror})") from None
        parser = configparser.ConfigParser()
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            raise ValueError(f"{path}: not a valid SCALE-Sim config: {exc}") from None
        lines = text.splitlines()
        arch = "architecture_presets"

        def field_at(section: str, key: str) -> str:
            return f"{cfg_location(path, lines, section, key)} [{section}] {key}"

        def get(section: str, key: str) -> str:
            if not parser.has_option(section, key):
                raise ValueError(f"{cfg_location(path, lines, section)} [{section}] is missing field {key}")
            return parser.get(section, key).strip()

        def positive_ints(section: str, key: str) -> list[int]:
            text = get(section, key)
            try:
                values = [int(x) for x in text.split(",")]
            except ValueError:
                raise ValueError(f"{field_at(section, key)} must be an integer, got {text!r}") from None
            if min(values) <= 0:
                raise ValueError(f"{field_at(section, key)} must be > 0, got {text!r}")
            return values

        def positive_int(section: str, key: str) -> int:
            values = positive_ints(section, key)
            if len(values) != 1:
                raise ValueError(f"{field_at(section, key)} must be one integer, got {get(section, key)!r}")
            return values[0]

        dataflow = get(arch, "Dataflow").lower()
        if dataflow not in DATAFLOWS:
            raise ValueError(f"{field_at(arch, 'Dataflow')} must be one of {DATAFLOWS}, got {dataflow!r}")
        mode = "CALC"
        if parser.has_section("run_presets"):
            mode = get("run_presets", "InterfaceBandwidth").upper()
        if mode not in ("CALC", "USER"):
            raise ValueError(
                f"{field_at('run_presets', 'InterfaceBandwidth')} must be CALC or USER, got {mode!r}"
            )
        # USER: Bandwidth in words per cycle (a list; SCALE-Sim uses the first for the ofmap)
        bandwidth = float(positive_ints(arch, "Bandwidth")[0]) if mode == "USER" else math.inf
        per_buffer: dict[str, float | None] = {"ifmap": None, "filter": None, "ofmap": None}
        if mode == "USER":
            per_buffer = {
                "ifmap": float(positive_int("layout", "IfmapSRAMBankBandwidth")),
                "filter": float(positive_int("layout", "FilterSRAMBankBandwidth")),
                "ofmap": bandwidth,
            }
        run_name = parser.get("general", "run_name", fallback=path.stem).strip()
        return cls(
            rows=positive_int(arch, "ArrayHeight"),
            cols=positive_int(arch, "ArrayWidth"),
            dataflow=dataflow,
            clock_mhz=clock_mhz,
            ifmap_sram_kib=float(positive_int(arch, "IfmapSramSzkB")),
            filter_sram_kib=float(positive_int(arch, "FilterSramSzkB")),
            ofmap_sram_kib=float(positive_int(arch, "OfmapSramSzkB")),
            dram_bandwidth=bandwidth,
            ifmap_bandwidth=per_buffer["ifmap"],
            filter_bandwidth=per_buffer["filter"],
            ofmap_bandwidth=per_buffer["ofmap"],
            memory="scalesim",
            name=run_name,
        )


def cfg_location(path: Path, lines: list[str], section: str, key: str | None = None) -> str:
    """``"path:line:"`` of ``key`` inside ``[section]`` of a config's ``lines`` (keys match case-blind).

    Without ``key``, or when the key is absent, the line of the section header; ``"path:"`` when the
    section is absent too.
    """
    current, header = None, None
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip()
            header = lineno if current == section else header
        elif current == section and key is not None:
            name = stripped.replace("=", ":").split(":", 1)[0].strip()
            if name.lower() == key.lower():
                return f"{path}:{lineno}:"
    return f"{path}:{header}:" if header else f"{path}:"


#: Presets. ``tpu_v1``: Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
#: Unit", ISCA 2017: 256x256 8-bit MACs at 700 MHz (92 TOPS peak), 34 GB/s DRAM = 34e9 / 700e6
#: = 48.6 bytes per cycle, 32-bit accumulators, weight stationary. Its buffers map onto the three
#: operand SRAMs as: ifmap = the 24 MiB Unified Buffer (activations), filter = the Weight FIFO
#: (four 64 KiB tiles, 256 KiB), ofmap = the 4 MiB of accumulators. (SCALE-Sim's ``google.cfg``
#: uses 6144/6144/2048 KiB instead.) ``edge32``: a small edge array (32x32 int8 at 500 MHz,
#: 64 KiB SRAMs, 8 bytes per cycle of DRAM bandwidth; illustrative, not a product).
PRESETS: dict[str, dict[str, object]] = {
    "tpu_v1": dict(
        rows=256,
        cols=256,
        dataflow="ws",
        clock_mhz=700.0,
        ifmap_sram_kib=24 * 1024.0,
        filter_sram_kib=4 * 64.0,
        ofmap_sram_kib=4 * 1024.0,
        dram_bandwidth=34e9 / 700e6,
        input_bits=8,
        weight_bits=8,
        output_bits=8,
        acc_bits=32,
    ),
    "edge32": dict(
        rows=32,
        cols=32,
        dataflow="ws",
        clock_mhz=500.0,
        ifmap_sram_kib=64.0,
        filter_sram_kib=64.0,
        ofmap_sram_kib=64.0,
        dram_bandwidth=8.0,
        input_bits=8,
        weight_bits=8,
        output_bits=8,
        acc_bits=32,
    ),
}
