"""Checkpoints carry a sha256 of their content: every damaged file is refused with one line
(truncated, empty, random bytes, one flipped byte, a directory); the previous checkpoint is
kept and used when the latest is damaged."""

import os
import random

import pytest
import torch

from swalp.runio.checkpoint import load_checkpoint, load_latest, previous_path, save_checkpoint
from swalp.runio.readback import DamagedFileError


def state(epoch):
    gen = torch.Generator().manual_seed(epoch)
    return {"epoch": epoch, "model": {"weight": torch.randn(64, generator=gen)}, "history": [{"loss": 0.5}]}


def same(a, b):
    return a["epoch"] == b["epoch"] and torch.equal(a["model"]["weight"], b["model"]["weight"])


def test_save_keeps_the_previous_checkpoint_and_load_round_trips(tmp_path):
    path = tmp_path / "checkpoint.pt"
    for epoch in (1, 2, 3):
        save_checkpoint(state(epoch), path)
    assert same(load_checkpoint(path), state(3))
    assert same(load_checkpoint(previous_path(path)), state(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]
    plain = torch.load(path, weights_only=True)  # still an ordinary torch checkpoint
    assert plain["epoch"] == 3 and plain["integrity"]["format"] == "swalp-checkpoint"


DAMAGE = {
    "truncated": (lambda data: data[: len(data) // 2], "is not a readable checkpoint, truncated or"),
    "empty": (lambda data: b"", r"is empty \(0 bytes\)"),
    "random bytes": (lambda data: random.Random(0).randbytes(len(data)), "is not a readable checkpoint"),
    "not ours": (None, "is not a swalp checkpoint with an integrity digest"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_checkpoint_is_refused_with_one_line_naming_it(tmp_path, case):
    path = tmp_path / "checkpoint.pt"
    damage, problem = DAMAGE[case]
    if damage is None:
        torch.save(state(1), path)
    else:
        save_checkpoint(state(1), path)
        path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DamagedFileError, match=rf"^{path}: {problem}.*; do this$") as err:
        load_checkpoint(path, "do this")
    assert "\n" not in str(err.value)


def test_a_directory_in_place_of_the_checkpoint_is_refused(tmp_path):
    (tmp_path / "checkpoint.pt").mkdir()
    with pytest.raises(DamagedFileError, match=r"checkpoint\.pt: is a directory, where a file belongs; do"):
        load_checkpoint(tmp_path / "checkpoint.pt", "do this")


def test_every_single_flipped_byte_is_caught_or_changes_nothing(tmp_path):
    """A flip in a tensor's bytes, a value or the digest fails the check; one in the zip framing
    either makes the file unreadable or leaves the content intact: never a silently different
    state."""
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(state(7), path)
    good = path.read_bytes()
    weights = state(7)["model"]["weight"].numpy().tobytes()
    start = good.index(weights)
    inside = range(start, start + len(weights))
    for offset in sorted({*inside, *range(0, len(good), 5)}):  # every byte of the data, a fifth of the rest
        bad = bytearray(good)
        bad[offset] ^= 0x10
        path.write_bytes(bytes(bad))
        try:
            loaded = load_checkpoint(path)
        except DamagedFileError:
            continue
        assert offset not in inside, offset  # a flip in the data is always caught
        assert same(loaded, state(7)) and loaded["history"] == state(7)["history"], offset


def test_load_latest_falls_back_to_the_previous_checkpoint_or_refuses_naming_both(tmp_path):
    path = tmp_path / "checkpoint.pt"
    assert load_latest(path, "fix") == (None, None, None)
    save_checkpoint(state(1), path)
    save_checkpoint(state(2), path)
    got, used, problem = load_latest(path, "fix")
    assert same(got, state(2)) and used == path and problem is None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    got, used, problem = load_latest(path, "fix")
    assert same(got, state(1)) and used == previous_path(path) and problem.path == path
    os.remove(path)
    got, used, problem = load_latest(path, "fix")
    assert same(got, state(1)) and problem.problem == "is missing"
    previous_path(path).write_bytes(b"")
    with pytest.raises(DamagedFileError, match=r"checkpoint.pt: is missing, and the previous checkpoint "
                                               r"checkpoint.prev.pt is empty \(0 bytes\); fix$"):
        load_latest(path, "fix")
