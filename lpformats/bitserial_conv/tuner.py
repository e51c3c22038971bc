"""Per-layer schedule search for :func:`bitserial_conv2d`, remembered on disk per CPU.

``tune_conv2d`` times (one thread: CPU time of the calling thread, so that other processes on a
shared machine do not decide; several threads: wall time) the default schedule and a seeded
random sample of the schedule space
(:func:`~lpformats.bitserial_conv.schedule_space`) on the caller's own operands, checks that
every candidate's output equals the default's bit for bit, times the default and the
``FINALISTS`` fastest again with twice the calls, and keeps the fastest. The paper's
flow (AutoTVM) searches the same kind of space with a learned cost model; ours measures every
candidate it draws, within ``budget`` candidates.

Choices are stored in ``<cache dir>/bitserial_conv_schedules.json`` (see
:mod:`~lpformats.bitserial_conv.cachedir`), under the key of the CPU Numba compiles for (its
LLVM CPU name and a digest of its feature string: ``NUMBA_CPU_NAME=haswell`` gets its own
entries) and, within it, the workload (shape, bits, modes) and thread count. Writes are
atomic (a temporary file renamed over the old one, under a lock, merged with what other
processes stored meanwhile). ``bitserial_conv2d(..., schedule="auto")`` reads them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from lpformats.bitserial import SignedSpec
from lpformats.bitserial_conv.cachedir import cache_root
from lpformats.bitserial_conv.operator import Workload, prepare
from lpformats.bitserial_conv.schedule import DEFAULT, Schedule, schedule_space

FILE_NAME = "bitserial_conv_schedules.json"
#: Fastest schedules of the first round timed again, with the default, before the choice.
FINALISTS = 3


def cpu_key() -> str:
    """The CPU Numba compiles for: LLVM CPU name and a digest of its feature string
    (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` when set, as Numba itself reads them: an empty
    feature string means the named CPU's own features)."""
    import llvmlite.binding as llvm

    name = numba.config.CPU_NAME or llvm.get_host_cpu_name()
    features = numba.config.CPU_FEATURES
    if features is None:
        features = llvm.get_host_cpu_features().flatten()
    return f"{name}-{hashlib.sha256(features.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class TuneResult:
    """The outcome of one search: the schedule chosen and how long things took (seconds).

    ``seconds``/``default_seconds``: best time of the chosen and of the default schedule
    (thread CPU time on one thread, wall time on several: see :func:`best_time`);
    ``tried``: schedules timed; ``search_seconds``: wall time of the whole search (first-call
    compilation of new kernel variants included); ``from_cache``: True when no search ran."""

    workload: str
    cpu: str
    threads: int
    schedule: Schedule
    seconds: float
    default_seconds: float
    tried: int
    search_seconds: float
    from_cache: bool = False

    @property
    def speedup_over_default(self) -> float:
        return self.default_seconds / self.seconds

    def to_dict(self) -> dict:
        record = dataclasses.asdict(self)
        record.pop("from_cache")
        return record

    @classmethod
    def from_dict(cls, record: dict) -> TuneResult:
        return cls(**{**record, "schedule": Schedule(**record["schedule"]), "from_cache": True})


def _store_path() -> Path:
    return cache_root() / FILE_NAME


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged store is rebuilt by the next tuning run
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _store(result: TuneResult) -> None:
    path = _store_path()
    with _locked(path):
        data = _read(path)
        entries = data.setdefault(result.cpu, {})
        entries[f"{result.workload}_t{result.threads}"] = result.to_dict()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _MEMO.clear()


_MEMO: dict[tuple[str, int, int], dict] = {}


def lookup(workload: Workload, threads: int | None = None) -> TuneResult | None:
    """The stored choice for ``workload`` on this CPU and thread count, if any."""
    path = _store_path()
    try:
        status = path.stat()
        stamp = (str(path), status.st_mtime_ns, status.st_size)
    except OSError:
        return None
    if stamp not in _MEMO:
        _MEMO.clear()
        _MEMO[stamp] = _read(path)
    threads = numba.get_num_threads() if threads is None else threads
    record = _MEMO[stamp].get(cpu_key(), {}).get(f"{workload.key()}_t{threads}")
    try:
        return None if record is None else TuneResult.from_dict(record)
    except (TypeError, ValueError):
        return None


def cached_schedule(workload: Workload) -> Schedule:
    """The tuned schedule for ``workload`` on this CPU, else :data:`DEFAULT`."""
    found = lookup(workload)
    return DEFAULT if found is None else found.schedule


def best_time(fn: Any, repeat: int, *, warm_up: bool = False) -> float:
    """Best of ``repeat`` calls of ``fn`` in seconds (after one untimed call if ``warm_up``): the
    calling thread's CPU time when Numba runs one thread (the kernels then run on this thread;
    other processes' use of the cores does not count), else wall time."""
    clock = time.thread_time if numba.get_num_threads() == 1 else time.perf_counter
    if warm_up:
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def tune_conv2d(
    x_codes: Any,
    w_codes: Any,
    x_bits: int,
    w_bits: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    signed: SignedSpec = False,
    layout: str = "NCHW",
    *,
    budget: int = 48,
    repeat: int = 3,
    seed: int = 0,
    refresh: bool = False,
) -> TuneResult:
    """Find the fastest schedule for this convolution on this CPU and remember it.

    Args:
        x_codes, w_codes, x_bits, w_bits, stride, padding, signed, layout: as for
            :func:`bitserial_conv2d` (representative operands: the timing uses them).
        budget: schedules to time, the default included (>= 1).
        repeat: timed calls per schedule after one warm-up call (the best is kept).
        seed: seed of the random sample of the schedule space.
        refresh: search again even when a choice is stored.

    Returns:
        :class:`TuneResult`; the choice is stored on disk (module docstring) and used by
        ``bitserial_conv2d(..., schedule="auto")`` at the same thread count.

    Raises:
        ValueError: bad ``budget``/``repeat``, or any argument :func:`bitserial_conv2d` refuses;
        AssertionError: a schedule whose output differs from the default's (a kernel bug).
    """
    for name, value in (("budget", budget), ("repeat", repeat)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    call = prepare(x_codes, w_codes, x_bits, w_bits, stride, padding, signed, layout)
    workload = call.workload
    threads = numba.get_num_threads()
    if not refresh:
        found = lookup(workload, threads)
        if found is not None:
            return found
    start = time.perf_counter()

    space = [s for s in schedule_space(*call.out_hw, call.packed.out_channels) if s != DEFAULT]
    candidates = [DEFAULT, *random.Random(seed).sample(space, min(budget - 1, len(space)))]
    reference = call.run(DEFAULT)
    times = {}
    for schedule in candidates:
        got = call.run(schedule)  # warm-up (compiles a new kernel variant) and the bit-identity check
        if not np.array_equal(got, reference):
            raise AssertionError(f"schedule {schedule} differs from the default's result (a kernel bug)")
        times[schedule] = best_time(lambda schedule=schedule: call.run(schedule), repeat)
    finalists = {DEFAULT, *sorted(candidates, key=times.__getitem__)[:FINALISTS]}
    for schedule in finalists:  # a second, longer round for the leaders: one lucky call does not decide
        again = best_time(lambda schedule=schedule: call.run(schedule), 2 * repeat)
        times[schedule] = min(times[schedule], again)
    best = min(candidates, key=times.__getitem__)
    result = TuneResult(
        workload.key(),
        cpu_key(),
        threads,
        best,
        times[best],
        times[DEFAULT],
        len(candidates),
        time.perf_counter() - start,
    )
    _store(result)
    return result
