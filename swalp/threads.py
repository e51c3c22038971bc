"""Run torch and Numba on one thread, restoring the previous settings afterwards.

Training runs are single-threaded so that several runs share a machine (one run per core)
and so that results do not depend on the thread count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba
import torch


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Within the block torch and Numba use one thread."""
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        numba.set_num_threads(numba_threads)
