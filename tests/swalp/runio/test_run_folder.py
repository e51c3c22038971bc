"""``swalp train --out``: damaged files give one line (file, problem, what to do) and exit 2
before anything is overwritten; a damaged latest checkpoint resumes from the previous one and
ends as an uninterrupted run; a second writer is refused; kill -9 loses nothing."""

import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from swalp import experiments
from swalp.cli import main
from swalp.experiments import RunConfig, run_experiment
from swalp.runio.lock import LOCK_NAME

ROOT = Path(__file__).resolve().parents[3]
LINREG = dict(task="linreg", method="swalp", epochs=3, swa_start=1, batch_size=64)
ARGS = ["train", "--task", "linreg", "--method", "swalp", "--epochs", "3", "--swa-start", "1",
        "--batch-size", "64"]


def final(record):
    return {k: v for k, v in record["final"].items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted run, and a run killed in its third epoch (checkpoints of epochs 1 and 2)."""
    base = tmp_path_factory.mktemp("runs")
    whole = run_experiment(RunConfig(**LINREG), base / "whole")
    original, calls = experiments.Run.run_epoch, {"n": 0}

    def killed_in_third(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(experiments.Run, "run_epoch", killed_in_third)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(RunConfig(**LINREG), base / "killed")
    return whole, base / "killed"


@pytest.fixture
def killed(runs, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(runs[1], out)
    return out


def snapshot(folder):
    return {p.name: p.read_bytes() if p.is_file() else None for p in folder.iterdir() if p.name != LOCK_NAME}


def flip_one_byte(data):
    """One bit of one byte inside the saved state (not the file's framing), as a bad disk would."""
    weights = torch.load(io.BytesIO(data), weights_only=True)["model"]["weight"].numpy().tobytes()
    bad = bytearray(data)
    bad[data.index(weights) + len(weights) // 2] ^= 0x04
    return bytes(bad)


CHECKPOINT_DAMAGE = {
    "truncated": (lambda d: d[:1000], "is not a readable checkpoint, truncated or overwritten"),
    "empty": (lambda d: b"", r"is empty \(0 bytes\)"),
    "random bytes": (lambda d: random.Random(1).randbytes(len(d)), "is not a readable checkpoint"),
    "one flipped byte": (flip_one_byte, "fails its integrity check"),
}


@pytest.mark.parametrize("case", CHECKPOINT_DAMAGE)
def test_resume_with_a_damaged_latest_checkpoint_continues_from_the_previous_one(runs, killed, capsys, case):
    damage, problem = CHECKPOINT_DAMAGE[case]
    latest = killed / "checkpoint.pt"
    latest.write_bytes(damage(latest.read_bytes()))
    assert main([*ARGS, "--out", str(killed), "--resume"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("swalp:")]
    assert len(notes) == 1
    assert notes[0].startswith(f"swalp: {latest}: ")
    assert re.search(
        rf"{problem}.*; resuming from the previous checkpoint checkpoint\.prev\.pt \(epoch 1\); the damaged "
        r"file is kept as checkpoint\.damaged\.pt$", notes[0])
    record = json.loads((killed / "record.json").read_text())
    assert record["status"] == "finished" and final(record) == final(runs[0])  # as if never damaged


def test_resume_with_both_checkpoints_damaged_is_refused_and_changes_nothing(killed, capsys):
    (killed / "checkpoint.pt").write_bytes(b"")
    prev = killed / "checkpoint.prev.pt"
    prev.write_bytes(prev.read_bytes()[:-100])
    before = snapshot(killed)
    assert main([*ARGS, "--out", str(killed), "--resume"]) == 2
    err = capsys.readouterr().err
    size = len(prev.read_bytes())
    assert re.fullmatch(rf"swalp train: error: {killed / 'checkpoint.pt'}: is empty \(0 bytes\), and the "
                        r"previous checkpoint checkpoint\.prev\.pt is not a readable checkpoint, truncated "
                        rf"or overwritten \({size} bytes; \w+\); pass --force without --resume to start the "
                        r"run over\n", err)
    assert snapshot(killed) == before


RECORD_DAMAGE = {
    "wrong JSON type": (b"[]", "holds an array where a JSON object belongs"),
    "invalid JSON": (b'{"status": "runn', r"is not valid JSON \(Unterminated string"),
    "empty": (b"", r"is empty \(0 bytes\)"),
    "random bytes": (bytes(range(256)), "is not UTF-8 text"),
    "missing field": (b'{"epochs_done": 2}', "lacks the field 'status'"),
}


@pytest.mark.parametrize("case", RECORD_DAMAGE)
@pytest.mark.parametrize("resume", [False, True])
def test_a_damaged_record_is_refused_with_one_line_before_anything_is_written(killed, capsys, case, resume):
    content, problem = RECORD_DAMAGE[case]
    (killed / "record.json").write_bytes(content)
    before = snapshot(killed)
    assert main([*ARGS, "--out", str(killed), *(["--resume"] if resume else [])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.match(
        rf"swalp train: error: {killed / 'record.json'}: {problem}.*; pass --force to overwrite it \(with "
        r"--resume the run continues from its checkpoint\)$", err)
    assert snapshot(killed) == before


@pytest.mark.parametrize("name", ["record.json", "checkpoint.pt", "checkpoint.prev.pt"])
def test_a_directory_in_place_of_a_file_is_refused_before_any_epoch_even_with_force(killed, capsys, name):
    target = killed / name
    target.unlink()
    target.mkdir()
    before = snapshot(killed)
    assert main([*ARGS, "--out", str(killed), "--force"]) == 2
    assert capsys.readouterr().err == (f"swalp train: error: {target}: is a directory, where a file belongs; "
                                       "remove it or choose another --out\n")
    assert snapshot(killed) == before


def test_an_unfinished_run_needs_resume_or_force(runs, killed, capsys):
    before = snapshot(killed)
    assert main([*ARGS, "--out", str(killed)]) == 2
    assert capsys.readouterr().err == (f"swalp train: error: {killed} holds an unfinished run (2 epochs "
                                       "done); pass resume=True (--resume) to continue it or force=True "
                                       "(--force) to start over\n")
    assert snapshot(killed) == before
    assert main([*ARGS, "--out", str(killed), "--force"]) == 0
    assert final(json.loads((killed / "record.json").read_text())) == final(runs[0])


def test_resume_removes_stale_temporaries_follows_the_umask_and_adds_up_wall_time(runs, killed):
    stale = [killed / ".checkpoint.pt.a1b2c3d4.tmp", killed / ".record.json.zz_yy_xx.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    segment = json.loads((killed / "record.json").read_text())
    old = os.umask(0o027)
    try:
        record = run_experiment(RunConfig(**LINREG), killed, resume=True)
    finally:
        os.umask(old)
    assert not any(p.exists() for p in stale)
    modes = {p.name: p.stat().st_mode & 0o777 for p in killed.iterdir() if p.name != LOCK_NAME}
    assert modes == {"record.json": 0o640, "checkpoint.pt": 0o640,  # written now
                     "checkpoint.prev.pt": 0o666 & ~old}  # written by the killed segment
    assert record["epochs"][:2] == segment["epochs"]  # the killed segment's epochs, times included
    assert record["wall_time_s"] == record["epochs"][-1]["time_s"] > segment["wall_time_s"]


LONG = dict(task="linreg", method="swalp", epochs=10, swa_start=2, batch_size=128)
ARGS_LONG = ["train", "--task", "linreg", "--method", "swalp", "--epochs", "10", "--swa-start", "2",
             "--batch-size", "128"]
#: ``swalp train`` with epochs slowed down by 0.5 s, so that it is surely still running when killed.
SLOW_TRAIN = textwrap.dedent("""
    import sys, time
    from swalp import experiments
    from swalp.cli import main
    run_epoch = experiments.Run.run_epoch
    def slow_epoch(self):
        time.sleep(0.5)
        return run_epoch(self)
    experiments.Run.run_epoch = slow_epoch
    sys.exit(main(sys.argv[1:]))
""")


def test_a_second_writer_is_refused_naming_the_first_and_kill_9_loses_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-c", SLOW_TRAIN, *ARGS_LONG, "--out", str(out)], cwd=ROOT,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.prev.pt").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert main([*ARGS_LONG, "--out", str(out), "--resume"]) == 2
        err = capsys.readouterr().err
        busy = f"swalp train: error: {out} is in use by another swalp process (pid {first.pid} on "
        assert err.startswith(busy)
        assert err.endswith("wait for it to finish or choose another --out\n") and err.count("\n") == 1
        time.sleep(random.Random(0).uniform(0.0, 0.6))  # somewhere in an epoch
        assert first.poll() is None, "the first run ended before it could be killed"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert main([*ARGS_LONG, "--out", str(out), "--resume"]) == 0
    resumed = json.loads((out / "record.json").read_text())
    whole = run_experiment(RunConfig(**LONG))
    assert resumed["status"] == "finished" and final(resumed) == final(whole)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
