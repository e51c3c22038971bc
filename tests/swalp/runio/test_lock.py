"""One writer per folder: a second one is refused with the holder named; a holder killed with
kill -9 leaves nothing stuck."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from swalp.runio.lock import FolderBusyError, FolderLock

ROOT = Path(__file__).resolve().parents[3]

HOLDER = textwrap.dedent("""
    import sys, time
    from swalp.runio.lock import FolderLock
    with FolderLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_writer_in_this_process_is_refused_until_the_first_lets_go(tmp_path):
    named = rf"out is in use by another swalp process \(pid {os.getpid()} on {socket.gethostname()} since"
    with FolderLock(tmp_path / "out"), pytest.raises(FolderBusyError, match=rf"{named} .* UTC: .*\); wait"):
        FolderLock(tmp_path / "out").acquire()
    with FolderLock(tmp_path / "out"):
        pass


def test_another_process_holding_the_folder_is_named_and_kill_9_frees_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(FolderBusyError, match=rf"pid {holder.pid} on .*-c"):
            FolderLock(tmp_path, option="--out").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with FolderLock(tmp_path):  # the kernel released the dead holder's lock
        pass
