"""Cached diagonal-network runs: a damaged record is one line naming it, before anything is
computed; --force computes it again."""

import pytest

from swalp.diagnet.records import cached_run
from swalp.diagnet.trainer import Run, TrainConfig
from swalp.runio.readback import DamagedFileError

IDENTITY = {"data": {"seed": 0}, "train": {"alpha": 0.1}}


def computed():
    return Run(TrainConfig(alpha=0.1), [{"loss": 0.5}], "converged", 10, 0.0)


def never():
    raise AssertionError("a damaged record must stop before anything is computed")


@pytest.mark.parametrize(("content", "problem"), [
    (b"[]", "holds an array where a JSON object belongs"),
    (b"{", "is not valid JSON"),
    (b"", r"is empty \(0 bytes\)"),
    (b'{"identity": {}}', "lacks the field 'run'"),
])
def test_a_damaged_record_is_refused_naming_it_and_force_computes_it_again(tmp_path, content, problem):
    path = tmp_path / "runs" / "k.json"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(DamagedFileError, match=rf"k\.json: {problem}.*; delete it to compute that run again"):
        cached_run(tmp_path, "k", IDENTITY, never)
    run, reused = cached_run(tmp_path, "k", IDENTITY, computed, force=True)
    assert not reused and run.stop == "converged"
    again, reused = cached_run(tmp_path, "k", IDENTITY, never)
    assert reused and again.to_dict() == run.to_dict()
