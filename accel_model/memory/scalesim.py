"""SCALE-Sim 3.0.0's memory system, reproduced exactly: ``Total Cycles`` and ``Stall Cycles`` per layer.

SCALE-Sim walks the demand matrices one line (one cycle) at a time and asks three buffers for
each line's addresses (``memory/double_buffered_scratchpad_mem.py`` ``service_memory_requests``,
lines 234-307). Line ``i`` is issued at cycle ``c_i = i + (stalls so far)``; the line's stall is
``int(max(ifmap lateness, filter lateness, ofmap lateness))`` (line 279), read lateness being the
serviced cycle minus ``c_i`` minus the hit latency 1, ofmap lateness the serviced cycle minus
``c_i``. ``Total Cycles`` is the largest ofmap serviced cycle (line 307): the initial fill of the
read buffers and the final ofmap drain are not in it.

Read buffers (``memory/read_buffer.py``), USER mode only (CALC mode uses
``read_buffer_estimate_bw``, which never makes a line late):

* sizes: ``active = ceil(words / 2)``, ``prefetch = words - active`` (lines 84-86);
* the prefetch stream (:func:`~accel_model.memory.scalesim_streams.prefetch_stream`) is cut into
  sets of ``E = ceil(words / 100)`` valid entries, plus a last (possibly empty) set: ``n`` sets
  (``prepare_hashed_buffer``, lines 173-222); the window holds ``A = min(n, ceil(active / E))``
  sets and each prefetch slides it ``P = min(n - A, ceil(prefetch / E))`` sets, circularly
  (``new_prefetch``, lines 464-472); an address hits when some set of the window holds it
  (``active_buffer_hit``, lines 253-271);
* timing: the initial fill completes at cycle ``-1`` (``prefetch_active_buffer``, lines 411-423:
  requests at ``c_0 - lines + i - 1``, port latency 1) and the k-th prefetch at
  ``T_k = -1 + k * (ceil(prefetch / bandwidth) + 1)`` (lines 505-517), whatever the cycle of
  the miss; the bandwidth is ``IfmapSRAMBankBandwidth`` / ``FilterSRAMBankBandwidth``
  (``single_layer_sim.py`` lines 250-254);
* a line's lateness: ``offset`` starts at 1; for every address that misses, prefetches repeat
  until it hits, each doing ``p = T_k - (c_i + offset); offset += p; if p > 0: offset += p``
  (lines 359-364): a late prefetch counts twice, an early one pulls ``offset`` back to
  ``T_k - c_i``. This quirk is reproduced here, not copied into our own model.

Which prefetches happen on which line does not depend on time, only the lateness does: misses are
found first, over compressed address streams (a count per address of the window's sets holding
it, updated as the window slides, checked on chunks of the demand stream with numpy), then the
lines are walked once in time order, visiting only lines with a miss or a write-buffer event.

Write buffer (``memory/write_buffer.py``), bandwidth ``Bandwidth`` (first entry) in USER mode,
the array width in CALC mode: each write is stored (``free -= 1``) and, at the line's cycle
``cur``, if a drain is running (``cur < drain_end``) and ``free <= 0`` the line waits for its end
(``cur = drain_end``, lines 214-217); else if more than ``words - active`` are held a drain starts
at ``cur`` (lines 219-221): the partly filled line is closed, the next ``ceil(drain / bandwidth)``
lines of ``bandwidth`` words are drained in that many cycles (``drain_end = cur + lines - 1``) and
their words are credited at once, the last line's unused slots excepted (lines 238-273; a partly
filled line inside the drained range counts as full, as there).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from accel_model.memory.scalesim_streams import (
    Geometry,
    demand_matrix,
    filter_matrix,
    ifmap_matrix,
    ofmap_line_counts,
    prefetch_stream,
)


@dataclass(frozen=True)
class Buffers:
    """SCALE-Sim's three SRAMs in words (a word is a byte) and their interface bandwidths.

    ``ifmap_bw``/``filter_bw``/``ofmap_bw`` are words per cycle in USER mode; ``None`` for all
    three is CALC mode (reads never late, ofmap drained at the array width).
    """

    ifmap_words: int
    filter_words: int
    ofmap_words: int
    ifmap_bw: int | None = None
    filter_bw: int | None = None
    ofmap_bw: int | None = None

    @property
    def user_mode(self) -> bool:
        return self.ofmap_bw is not None


@dataclass(frozen=True)
class LayerCycles:
    """SCALE-Sim's ``Total Cycles`` and ``Stall Cycles`` of a layer, and its demand lines."""

    total_cycles: int
    stall_cycles: int
    lines: int


class _ReadWindow:
    """The set window of one read buffer (time-independent part)."""

    def __init__(self, words: int, bandwidth: int, valid_prefetch: int) -> None:
        active = math.ceil(words * 0.5)
        prefetch = words - active
        self.set_size = math.ceil(words / 100)
        self.sets = valid_prefetch // self.set_size + 1
        self.active_sets = min(self.sets, math.ceil(active / self.set_size))
        self.step_sets = min(self.sets - self.active_sets, math.ceil(prefetch / self.set_size))
        self.prefetch_cycles = math.ceil(prefetch / bandwidth) + 1

    @property
    def holds_everything(self) -> bool:
        return self.active_sets == self.sets

    def misses(self, prefetch: np.ndarray, demand: np.ndarray) -> dict[int, tuple[int, int]]:
        """Line -> (index of its first prefetch, number of prefetches) for the demand matrix."""
        valid = demand != -1
        stream = demand[valid]
        lines = np.nonzero(valid)[0]
        size = int(max(prefetch.max(initial=0), stream.max(initial=0))) + 1
        present = np.zeros(size, dtype=bool)
        present[prefetch] = True
        if not present[stream].all():
            raise ValueError("demand address missing from the prefetch stream (SCALE-Sim would loop)")
        # occurrences of each address in the window's sets: a hit is a count > 0
        count = np.zeros(size, dtype=np.int32)
        n_sets, per_set, wanted = self.sets, self.set_size, stream

        def update(first: int, how_many: int, delta: int) -> None:
            for lo, hi in _circular(first, how_many, n_sets):
                np.add.at(count, prefetch[lo * per_set : hi * per_set], np.int32(delta))

        update(0, self.active_sets, 1)
        start, k, pos, chunk = 0, 0, 0, 4096
        events: dict[int, list[int]] = {}
        while pos < len(wanted):
            seg = wanted[pos : pos + chunk]
            miss = np.flatnonzero(count[seg] == 0)
            if len(miss) == 0:
                pos += len(seg)
                chunk = min(chunk * 2, 1 << 20)
                continue
            t = pos + int(miss[0])
            addr = wanted[t]
            while count[addr] == 0:
                update(start, self.step_sets, -1)
                update(start + self.active_sets, self.step_sets, 1)
                start = (start + self.step_sets) % n_sets
                k += 1
                events.setdefault(int(lines[t]), []).append(k)
            pos = t + 1
            chunk = max(256, int(miss[0]) * 2)
        return {line: (ks[0], len(ks)) for line, ks in events.items()}

    def lateness(self, event: tuple[int, int] | None, cycle: int) -> int:
        """Read lateness of a line issued at ``cycle`` with ``event`` prefetches (read_buffer.py 359-364)."""
        offset = 1
        if event is not None:
            first, count = event
            for k in range(first, first + count):
                done = -1 + k * self.prefetch_cycles
                p = done - (cycle + offset)
                offset += p
                if p > 0:
                    offset += p
        return offset - 1


def _circular(first: int, how_many: int, n: int) -> list[tuple[int, int]]:
    first %= n
    end = first + how_many
    return [(first, end)] if end <= n else [(first, n), (0, end - n)]


class _WriteBuffer:
    """The ofmap write buffer (write_buffer.py), tracked by counts and trace-line segments."""

    def __init__(self, words: int, bandwidth: int) -> None:
        self.words = words
        self.drain_size = words - math.ceil(words * 0.5)
        self.bw = bandwidth
        self.lines_per_drain = math.ceil(self.drain_size / bandwidth)
        self.credited = 0
        self.drain_end = 0
        self.forced_at = 0
        self.total_lines = 0
        self.drained_lines = 0
        self.seg_first: list[int] = []
        self.seg_last_fill: list[int] = []
        self.seg_lines: list[int] = []

    def _close_line(self, stored: int) -> None:
        held = stored - self.forced_at
        if held > 0:
            lines = -(-held // self.bw)
            self.seg_first.append(self.total_lines)
            self.seg_lines.append(lines)
            self.seg_last_fill.append(held - (lines - 1) * self.bw)
            self.total_lines += lines
        self.forced_at = stored

    def _fill(self, line: int) -> int:
        seg = bisect.bisect_right(self.seg_first, line) - 1
        last = self.seg_first[seg] + self.seg_lines[seg] - 1
        return self.seg_last_fill[seg] if line == last else self.bw

    def _drain(self, cycle: int, stored: int) -> None:
        self._close_line(stored)
        end = min(self.drained_lines + self.lines_per_drain, self.total_lines)
        lines = end - self.drained_lines
        self.credited += lines * self.bw - (self.bw - self._fill(end - 1))
        self.drained_lines = end
        self.drain_end = cycle + lines - 1

    def line(self, cycle: int, first: int, stop: int) -> int:
        """Store writes ``first..stop-1`` issued at ``cycle``; returns the line's lateness."""
        cur, x = cycle, first
        while x < stop:
            if cur < self.drain_end:
                e = max(x, self.words + self.credited - 1)
                if e >= stop:
                    break
                cur, x = self.drain_end, e + 1
            else:
                e = max(x, self.drain_size + self.credited)
                if e >= stop:
                    break
                self._drain(cur, e + 1)
                x = e + 1
        return cur - cycle

    def next_event_line(self, line: int, stalls: int, cum: np.ndarray) -> int:
        """First line >= ``line`` that stalls or starts a drain, lines issued at ``i + stalls``."""
        n = len(cum) - 1
        x = int(cum[line])
        drain_done = max(line, self.drain_end - stalls)
        if line < drain_done:
            e = max(x, self.words + self.credited - 1)
            if e < cum[n]:
                at = int(np.searchsorted(cum, e, side="right")) - 1
                if at < drain_done:
                    return at
            if drain_done >= n:
                return n
            x = int(cum[drain_done])
        e = max(x, self.drain_size + self.credited)
        return int(np.searchsorted(cum, e, side="right")) - 1 if e < cum[n] else n


def simulate(g: Geometry, dataflow: str, rows: int, cols: int, buffers: Buffers) -> LayerCycles:
    """SCALE-Sim 3.0.0's ``Total Cycles`` and ``Stall Cycles`` of layer ``g`` (see module docstring)."""
    writes = ofmap_line_counts(g.M, g.n, g.K, dataflow, rows, cols)
    n = len(writes)
    cum = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(writes, out=cum[1:])
    reads: list[tuple[_ReadWindow, dict[int, tuple[int, int]]]] = []
    if buffers.user_mode:
        valid = {"ifmap": g.valid_ifmap_elements(), "filter": g.K * g.n}
        sizes = {
            "ifmap": (buffers.ifmap_words, buffers.ifmap_bw),
            "filter": (buffers.filter_words, buffers.filter_bw),
        }
        matrices = None
        for operand in ("ifmap", "filter"):
            words, bw = sizes[operand]
            window = _ReadWindow(words, bw, valid[operand])
            if not window.holds_everything:
                matrices = matrices or (ifmap_matrix(g), filter_matrix(g))
                events = window.misses(
                    prefetch_stream(*matrices, dataflow, rows, cols, operand),
                    demand_matrix(*matrices, dataflow, rows, cols, operand),
                )
                reads.append((window, events))
    write_buffer = _WriteBuffer(buffers.ofmap_words, buffers.ofmap_bw or cols)
    read_lines = sorted({line for _, events in reads for line in events})
    stalls, line, next_read, stalls_before_last, last_lateness = 0, 0, 0, None, 0
    while line < n:
        r = read_lines[next_read] if next_read < len(read_lines) else n
        at = min(r, write_buffer.next_event_line(line, stalls, cum))
        if at >= n:
            break
        cycle = at + stalls
        late_w = write_buffer.line(cycle, int(cum[at]), int(cum[at + 1]))
        late = [window.lateness(events.get(at), cycle) for window, events in reads]
        if at == r:
            next_read += 1
        if at == n - 1:
            stalls_before_last, last_lateness = stalls, late_w
        stalls += int(max([late_w, *late]))
        line = at + 1
    if stalls_before_last is None:
        stalls_before_last = stalls
    return LayerCycles(total_cycles=n - 1 + stalls_before_last + last_lateness, stall_cycles=stalls, lines=n)
