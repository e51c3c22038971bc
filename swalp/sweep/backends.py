"""Where sweep points run: a local process pool, or Ray tasks (local instance or a cluster).

A *run function* takes a point's configuration dict and returns a JSON-serializable record;
it must be importable by name (a module-level function) so that worker processes can load
it. :func:`execute_point` wraps it: one torch/Numba thread, wall time, and any exception
caught and returned as a failed record, so one bad point never stops the others.

Both backends yield ``(key, record)`` pairs as points finish. Results do not depend on the
backend: every run is single-threaded and seeded by its configuration.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

RunFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]
BACKENDS = ("local", "ray")
#: Seconds to wait for a TCP connection to a Ray address before calling it unreachable.
PROBE_TIMEOUT_S = 3.0


def _single_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)


def execute_point(run_fn: RunFn, point: Mapping[str, Any]) -> dict[str, Any]:
    """Run one point on one thread; returns its record (status ``ok`` with ``result``, or
    ``failed`` with ``error`` and ``traceback``) including ``wall_time_s`` (seconds)."""
    _single_thread()
    start = time.perf_counter()
    record: dict[str, Any] = {"key": point["key"], "label": point["label"],
                              "varied_roles": point["varied_roles"], "config": point["config"]}
    try:
        result = dict(run_fn(point["config"]))
        record.update(status="ok", result=result)
    except Exception as exc:  # a failing point is recorded, not raised
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["wall_time_s"] = time.perf_counter() - start
    record["finished_at"] = time.time()
    return record


def _crashed(point: Mapping[str, Any], exc: BaseException) -> dict[str, Any]:
    return {"key": point["key"], "label": point["label"], "varied_roles": point["varied_roles"],
            "config": point["config"], "status": "failed",
            "error": f"worker crashed: {type(exc).__name__}: {exc}", "finished_at": time.time()}


class LocalBackend:
    """A process pool of ``workers`` processes (default: all cores), one thread each.

    Workers are started with ``spawn`` (fresh interpreters: safe whatever threads the parent
    runs) and reused across points.
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive integer or None (all cores), got {workers!r}")
        self.workers = workers or os.cpu_count() or 1

    def run(self, run_fn: RunFn, points: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
        if not points:
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.workers, len(points)), mp_context=ctx) as pool:
            pending: dict[Future, dict[str, Any]] = {pool.submit(execute_point, run_fn, p): p for p in points}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    point = pending.pop(fut)
                    try:
                        yield point["key"], fut.result()
                    except Exception as exc:  # the worker died (e.g. killed, out of memory)
                        yield point["key"], _crashed(point, exc)

    def close(self) -> None:
        """Nothing to release: the pool lives only inside :meth:`run`."""


def probe_address(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Check within ``timeout`` seconds that a Ray address (``host:port`` or
    ``ray://host:port``) accepts TCP connections; ``auto`` is not probed.

    Raises:
        ValueError: the address is not ``host:port``.
        ConnectionError: nothing answers there.
    """
    if address == "auto":
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"address must be host:port or ray://host:port (or 'auto'), got {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConnectionError(
            f"cannot reach a Ray cluster at {address!r} within {timeout:g} s ({exc}); is `ray start --head` "
            "running there and the port open?"
        ) from None


def import_ray() -> Any:
    """The ``ray`` module, or ImportError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError("the ray backend needs Ray, which is not installed: pip install 'lowprec[cluster]' "
                          "(or pip install 'ray[default]')") from None
    return ray


class RayBackend:
    """Each point a Ray task needing one CPU.

    Args:
        address: None starts a local Ray instance (``workers`` CPUs, default all cores) that is
            shut down by :meth:`close`; ``host:port``/``ray://host:port``/``auto`` joins an
            existing cluster (probed first, so an unreachable address fails within seconds).
            If Ray is already initialized in this process it is used as is.
        workers: CPUs of a local instance.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.ray = import_ray()
        self.started = False
        if address is not None:
            probe_address(address)
        if self.ray.is_initialized():
            return
        if address is not None:
            self.ray.init(address=address, log_to_driver=False)
        else:
            # Workers of a local instance import the same code as this process.
            env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            self.ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                          log_to_driver=False, runtime_env={"env_vars": env})
        self.started = True

    def run(self, run_fn: RunFn, points: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
        if not points:
            return
        remote = self.ray.remote(num_cpus=1, max_retries=0)(execute_point)
        fn_ref = self.ray.put(run_fn)
        pending = {remote.remote(fn_ref, p): p for p in points}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in done:
                point = pending.pop(ref)
                try:
                    yield point["key"], self.ray.get(ref)
                except Exception as exc:  # the task's worker died
                    yield point["key"], _crashed(point, exc)

    def close(self) -> None:
        """Shut down the Ray instance this backend started (not one it joined or found)."""
        if self.started:
            self.ray.shutdown()
            self.started = False


def make_backend(name: str, *, workers: int | None = None, address: str | None = None) -> Any:
    """A backend by name: ``local`` (``address`` must be None) or ``ray``."""
    if name == "local":
        if address is not None:
            raise ValueError("address is for the ray backend; use --backend ray with --address")
        return LocalBackend(workers)
    if name == "ray":
        return RayBackend(address, workers)
    raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")


__all__ = ["BACKENDS", "LocalBackend", "RayBackend", "execute_point", "import_ray", "make_backend",
           "probe_address"]
