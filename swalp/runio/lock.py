"""One writer per output folder: an advisory ``flock`` on ``FOLDER/.swalp.lock``.

The kernel drops a ``flock`` when its holder exits in any way, ``kill -9`` included, so the
lock cannot get stuck; a lock file left behind is free to take. The holder writes its pid,
host, command and start time into the file, only so that a refused second writer can say
who holds the folder. The descriptor is not inherited by child processes (Python's default),
so worker processes never keep a folder locked after their parent died.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

LOCK_NAME = ".swalp.lock"
#: Longest command line written into the lock file (characters).
COMMAND_CHARS = 300
#: Seconds a refused writer waits for the holder's description to appear in the lock file.
HOLDER_WAIT_S = 2.0


class FolderBusyError(RuntimeError):
    """Another process holds the folder's lock (the message names it)."""


class FolderLock:
    """Exclusive use of ``folder`` (created if missing) while the ``with`` block runs.

    Raises (on entry):
        FolderBusyError: another process holds it; the message names its pid, host, start
            time and command, and says what to do.
    """

    def __init__(self, folder: str | os.PathLike[str], option: str = "--out") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.option = option
        self._fd: int | None = None

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderBusyError(
                f"{self.folder} is in use by another swalp process ({holder}); wait for it to finish or "
                f"choose another {self.option}") from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                "command": " ".join(sys.argv)[:COMMAND_CHARS]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go of the folder (the lock file stays; it is free to take)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _holder(fd: int) -> str:
    """The holder as its lock file describes it, waiting up to ``HOLDER_WAIT_S`` for a holder
    that has just taken the lock to write it."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info["since"])))
            return f"pid {int(info['pid'])} on {info['host']} since {since}: {info['command']}"
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() > deadline:
                return "its pid not written yet"
            time.sleep(0.02)


__all__ = ["LOCK_NAME", "FolderBusyError", "FolderLock"]
