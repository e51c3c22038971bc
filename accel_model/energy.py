"""Energy table: picojoules per arithmetic operation and per memory access, read from TOML.

The packaged table ``accel_model/data/energy_45nm.toml`` holds Horowitz's ISSCC 2014 45 nm
numbers, each with its source in a comment. Scaling rules for widths that are not table points
(documented in the TOML file and the README):

* integer multiplier: ``E(b) = E(b0) * (b / b0)**2`` from the table point ``b0`` nearest to ``b``
  (nearest in log2 distance, ties to the larger point); float multiplier the same with
  significand bits (hidden bit included: fp16 has 11, fp32 24);
* adders (integer, float): ``E(b) = E(b0) * b / b0`` from the nearest point;
* SRAM: energy per 64-bit access interpolated log-log in the SRAM size between table points and
  extrapolated beyond them as ``sqrt(size)``; per byte it is the 64-bit energy / 8;
* DRAM: energy per 64-bit access / 8 per byte; random bits: a constant per bit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

Points = tuple[tuple[int, float], ...]

#: TOML tables that map a width (or an SRAM size in KiB) to picojoules.
POINT_TABLES = ("int_add", "int_mult", "float_add", "float_mult", "sram_64bit")
DEFAULT_TABLE = "energy_45nm.toml"


@dataclass(frozen=True)
class EnergyTable:
    """Energy per operation (pJ) with the scaling rules of this module.

    Point tables are tuples of ``(width, pJ)`` sorted by width: ``int_add``/``int_mult`` keyed by
    operand bits, ``float_add``/``float_mult`` by significand bits (hidden bit included),
    ``sram_64bit`` by SRAM size in KiB (pJ per 64-bit access).
    """

    name: str
    int_add: Points
    int_mult: Points
    float_add: Points
    float_mult: Points
    sram_64bit: Points
    dram_pj_per_64bit: float
    rng_pj_per_bit: float

    @classmethod
    def load(cls, path: str | Path | None = None, override: str | Path | None = None) -> EnergyTable:
        """Read a table from TOML ``path`` (default: the packaged 45 nm table).

        ``override`` is a user TOML file with any subset of the same keys; its values replace the
        base table's (per width inside a point table). Raises ValueError naming file and key.
        """
        if path is None:
            text = resources.files("accel_model.data").joinpath(DEFAULT_TABLE).read_text()
            data, where = tomllib.loads(text), f"accel_model/data/{DEFAULT_TABLE}"
        else:
            data, where = _read_toml(Path(path)), str(path)
        table = cls._from_dict(data, where)
        if override is not None:
            table = table.with_overrides(_read_toml(Path(override)), str(override))
        return table

    @classmethod
    def _from_dict(cls, data: dict, where: str) -> EnergyTable:
        points = {}
        for key in POINT_TABLES:
            if key not in data:
                raise ValueError(f"{where}: missing table [{key}]")
            points[key] = _points(data[key], where, key)
        dram = _positive(data.get("dram", {}).get("pj_per_64bit"), where, "dram.pj_per_64bit")
        rng = _positive(data.get("rng", {}).get("pj_per_bit"), where, "rng.pj_per_bit")
        return cls(
            name=str(data.get("name", Path(where).stem)), dram_pj_per_64bit=dram, rng_pj_per_bit=rng, **points
        )

    def with_overrides(self, data: dict, where: str = "override") -> EnergyTable:
        """A copy with the keys of ``data`` (parsed TOML, same layout as the table file) replaced."""
        known = {*POINT_TABLES, "dram", "rng", "name", "node_nm"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
        changes: dict[str, object] = {}
        for key in POINT_TABLES:
            if key in data:
                merged = dict(getattr(self, key))
                merged.update(dict(_points(data[key], where, key)))
                changes[key] = tuple(sorted(merged.items()))
        if "dram" in data:
            changes["dram_pj_per_64bit"] = _positive(
                data["dram"].get("pj_per_64bit"), where, "dram.pj_per_64bit"
            )
        if "rng" in data:
            changes["rng_pj_per_bit"] = _positive(data["rng"].get("pj_per_bit"), where, "rng.pj_per_bit")
        changes["name"] = f"{self.name}+{Path(where).stem}"
        return replace(self, **changes)

    def mult_pj(self, kind: str, bits: int) -> float:
        """Energy of one multiply of ``kind`` ``"int"`` (operand bits) or ``"float"`` (significand bits)."""
        table = self._kind_table(kind, "mult")
        return _scaled(table, bits, power=2)

    def add_pj(self, kind: str, bits: int) -> float:
        """Energy of one add of ``kind`` ``"int"`` (operand bits) or ``"float"`` (significand bits)."""
        return _scaled(self._kind_table(kind, "add"), bits, power=1)

    def sram_pj_per_byte(self, size_kib: float) -> float:
        """Energy of reading or writing one byte of an SRAM of ``size_kib`` KiB."""
        if not size_kib > 0:
            raise ValueError(f"size_kib must be > 0 (SRAM size in KiB), got {size_kib}")
        pts = self.sram_64bit
        x = math.log(size_kib)
        if len(pts) == 1 or size_kib <= pts[0][0]:
            ref_kib, ref_pj = pts[0]
            return ref_pj * math.sqrt(size_kib / ref_kib) / 8
        if size_kib >= pts[-1][0]:
            ref_kib, ref_pj = pts[-1]
            return ref_pj * math.sqrt(size_kib / ref_kib) / 8
        for (k0, e0), (k1, e1) in itertools.pairwise(pts):
            if k0 <= size_kib <= k1:
                t = (x - math.log(k0)) / (math.log(k1) - math.log(k0))
                return math.exp(math.log(e0) + t * (math.log(e1) - math.log(e0))) / 8
        raise AssertionError("unreachable: size inside the table range")

    @property
    def dram_pj_per_byte(self) -> float:
        """Energy of moving one byte to or from DRAM."""
        return self.dram_pj_per_64bit / 8

    def _kind_table(self, kind: str, op: str) -> Points:
        if kind not in ("int", "float"):
            raise ValueError(f"kind must be 'int' or 'float', got {kind!r}")
        return getattr(self, f"{kind}_{op}")

    def as_dict(self) -> dict[str, object]:
        """Plain-data view (for JSON reports)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = {str(k): v for k, v in value} if f.name in POINT_TABLES else value
        return out


def _scaled(points: Points, bits: int, power: int) -> float:
    if not (isinstance(bits, int) and bits > 0):
        raise ValueError(f"bits must be a positive integer, got {bits!r}")
    ref_bits, ref_pj = min(points, key=lambda p: (abs(math.log2(bits / p[0])), -p[0]))
    return ref_pj * (bits / ref_bits) ** power


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"energy table file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None


def _points(table: object, where: str, key: str) -> Points:
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{where}: [{key}] must be a non-empty table of width = pJ")
    out = []
    for width, pj in table.items():
        try:
            w = int(width)
        except ValueError:
            raise ValueError(f"{where}: [{key}] key {width!r} must be an integer width") from None
        if w <= 0:
            raise ValueError(f"{where}: [{key}] key {width!r} must be > 0")
        out.append((w, _positive(pj, where, f"{key}.{width}")))
    return tuple(sorted(out))


def _positive(value: object, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {key} must be a number of picojoules, got {value!r}")
    if not value > 0:
        raise ValueError(f"{where}: {key} must be > 0 pJ, got {value}")
    return float(value)
