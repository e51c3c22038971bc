"""Atomic writes: whole files only, even under kill -9; modes follow the umask; a killed
writer's temporary files are removed."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from swalp.runio.files import atomic_write, remove_stale_temps, write_json, write_text

ROOT = Path(__file__).resolve().parents[3]


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "a.json"
    write_json({"v": 1}, path)
    write_json({"v": 2}, path)
    assert json.loads(path.read_text()) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "record.json", "{}")
        atomic_write(tmp_path / "checkpoint.pt", b"x")
    finally:
        os.umask(old)
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {
        "record.json": mode, "checkpoint.pt": mode}


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    stale = [tmp_path / ".checkpoint.pt.k2j_9xq1.tmp", tmp_path / ".results.csv.abcdefgh.tmp"]
    kept = [tmp_path / "checkpoint.pt", tmp_path / "notes.tmp", tmp_path / ".swalp.lock", tmp_path / ".x.tmp"]
    for path in stale + kept:
        path.write_bytes(b"")
    assert sorted(remove_stale_temps(tmp_path)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)


WRITER = textwrap.dedent("""
    import hashlib, os, sys
    from swalp.runio.files import atomic_write
    path, i = sys.argv[1], 0
    while True:
        body = os.urandom(1 << 20)
        atomic_write(path, hashlib.sha256(body).digest() + body)
        i += 1
        if i == 3:
            print("writing", flush=True)
""")


def test_kill_9_during_writes_leaves_a_whole_file_and_removable_temporaries(tmp_path):
    path = tmp_path / "data.bin"
    for kill_after in (0.05, 0.21, 0.37, 0.53):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout.readline() == b"writing\n"
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = path.read_bytes()
        assert hashlib.sha256(data[32:]).digest() == data[:32]  # never a torn file
        remove_stale_temps(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]
