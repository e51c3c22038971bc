"""Run a ``nogil`` Numba kernel over a range of tasks on several threads.

The generated kernels take ``(first, last, ...)`` and release the GIL, so a contiguous split of
the task range over a thread pool is the parallel loop (``numba.get_num_threads()`` threads,
as ``numba.set_num_threads`` or ``NUMBA_NUM_THREADS`` set it); this keeps each kernel variant
a plain serial function, which Numba compiles several times faster than a ``prange`` one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba

_POOL: ThreadPoolExecutor | None = None


def split(kernel: Callable, n_tasks: int, *args: object) -> None:
    """``kernel(first, last, *args)`` over ``0 .. n_tasks - 1`` in as many contiguous ranges as
    there are threads (one call on the caller's thread when one thread is set)."""
    global _POOL
    threads = max(1, min(numba.get_num_threads(), n_tasks))
    if threads == 1:
        kernel(0, n_tasks, *args)
        return
    if _POOL is None or _POOL._max_workers < threads:
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lpformats-bitserial")
    bounds = [n_tasks * t // threads for t in range(threads + 1)]
    futures = [_POOL.submit(kernel, bounds[t], bounds[t + 1], *args) for t in range(1, threads)]
    kernel(bounds[0], bounds[1], *args)
    for future in futures:
        future.result()
