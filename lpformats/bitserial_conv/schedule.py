"""The schedule space of the generated bit-serial convolution kernels.

A :class:`Schedule` fixes how one convolution walks its output ``(N, Ho, Wo, O)``: the tile
each task computes (``tile_oh`` rows x ``tile_ow`` columns x ``tile_co`` output channels; the
channel tile is the vectorised loop, so it is also the vector length), which tile axis the
parallel loop runs over first (``parallel``), how the loops over bit planes nest with the
loops over taps (``order``), how many output pixels one pass computes together sharing each
weight-word load (``unroll``: register blocking, written out in the generated source), and the
memory layout of the packed activation planes (``layout``). Every schedule computes the same
integers: only the order of exact integer additions differs.

``order``, ``unroll`` and ``layout`` change the generated code (one compiled kernel each, see
:mod:`lpformats.bitserial_conv.codegen`); tiles and ``parallel`` are run-time arguments.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

#: Loop nests over bit planes: ``planes_outer`` counts popcounts of one (activation plane,
#: weight plane) pair over all taps, then adds them weighted (the paper's bit-serial order);
#: ``planes_inner`` visits each tap once and adds every plane pair's weighted popcount.
ORDERS = ("planes_outer", "planes_inner")
#: Which tile axis the parallel loop splits first: output rows/columns or output channels.
PARALLEL = ("pixels", "channels")
#: Output pixels per pass sharing each weight-vector load.
UNROLLS = (1, 2, 4)
#: Packed activation planes: ``pixel_planes`` = (N, Hp, Wp, P, CW) (a pixel's planes adjacent),
#: ``plane_pixels`` = (N, P, Hp, Wp, CW) (one image per plane, as a bit-plane accelerator
#: streams them).
LAYOUTS = ("pixel_planes", "plane_pixels")


@dataclass(frozen=True)
class Schedule:
    """One point of the schedule space (see the module docstring)."""

    tile_oh: int = 4
    tile_ow: int = 16
    tile_co: int = 64
    parallel: str = "pixels"
    order: str = "planes_outer"
    unroll: int = 1
    layout: str = "pixel_planes"

    def __post_init__(self) -> None:
        for name in ("tile_oh", "tile_ow", "tile_co"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Schedule.{name} must be an integer >= 1; got {value!r}")
        for name, allowed in (
            ("parallel", PARALLEL),
            ("order", ORDERS),
            ("unroll", UNROLLS),
            ("layout", LAYOUTS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Schedule.{name} must be one of {allowed}; got {getattr(self, name)!r}")

    @property
    def code_key(self) -> tuple[str, int]:
        """The parts that select generated code (the layout is an argument's memory order)."""
        return self.order, self.unroll

    def describe(self) -> str:
        return (
            f"tiles {self.tile_oh}x{self.tile_ow}x{self.tile_co} (rows x cols x channels), "
            f"parallel over {self.parallel}, {self.order}, unroll {self.unroll}, {self.layout}"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: The untuned default: one fixed schedule for every layer (the benchmark's "default" column).
DEFAULT = Schedule()


def _tile_choices(extent: int, candidates: tuple[int, ...]) -> list[int]:
    """Candidate tile sizes no larger than ``extent``, plus the whole extent."""
    return sorted({c for c in candidates if c < extent} | {extent})


def schedule_space(ho: int, wo: int, co: int) -> list[Schedule]:
    """Every schedule for an output of ``ho`` x ``wo`` pixels and ``co`` channels: tiles from
    powers of two and the whole extent, every parallel axis, order, unroll and layout."""
    tiles_oh = _tile_choices(ho, (1, 2, 4, 8))
    tiles_ow = _tile_choices(wo, (4, 8, 16, 32))
    tiles_co = _tile_choices(co, (16, 32, 64, 128, 256))
    return [
        Schedule(*point)
        for point in itertools.product(tiles_oh, tiles_ow, tiles_co, PARALLEL, ORDERS, UNROLLS, LAYOUTS)
    ]
