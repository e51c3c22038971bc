"""The Ray backend: same results as the local pool, clear errors for a missing Ray or a dead address.

Runs for real, never skipped (Ray is in the ``dev`` extra): one local Ray instance for the module.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
import ray

from swalp.sweep import run_sweep
from swalp.sweep_backends import make_backend, probe_address
from swalp.sweep_grid import GridSpec
from swalp.sweep_store import read_csv
from tests.swalp.test_sweep_helpers import toy_run

SPEC = GridSpec(task="toy", methods=("sgd-fp", "swalp"), formats=("bfp(6)", "bfp8"), seeds=(0, 1),
                fixed={"epochs": 4})
RESULT_COLUMNS = ("key", "status", "label", "seed", "test_error", "train_loss", "cost_energy_pj_per_step",
                  "bits_per_element")


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
    yield
    ray.shutdown()


def results(csv_path):
    return [{c: r[c] for c in RESULT_COLUMNS} for r in read_csv(csv_path)]


def test_ray_and_local_backends_give_identical_results(tmp_path, ray_instance):
    local = run_sweep(SPEC, tmp_path / "local", toy_run, backend="local", workers=2, progress=False)
    on_ray = run_sweep(SPEC, tmp_path / "ray", toy_run, backend="ray", progress=False)
    assert (on_ray.finished, on_ray.failed) == (6, 0)
    assert results(on_ray.csv) == results(local.csv)
    assert ray.is_initialized()  # a Ray instance found running is left running


def test_ray_sweep_resumes_like_a_local_one(tmp_path, ray_instance):
    run_sweep(SPEC, tmp_path, toy_run, backend="local", workers=2, progress=False)
    again = run_sweep(SPEC, tmp_path, toy_run, backend="ray", progress=False)
    assert (again.skipped, again.finished) == (6, 0)


def test_an_unreachable_address_fails_within_seconds():
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"cannot reach a Ray cluster at '127\.0\.0\.1:9'"):
        make_backend("ray", address="127.0.0.1:9")
    assert time.monotonic() - start < 10


def test_a_malformed_address_is_refused():
    with pytest.raises(ValueError, match="address must be host:port"):
        probe_address("headnode")


def test_a_missing_ray_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'lowprec\[cluster\]'"):
        run_sweep(SPEC, tmp_path, toy_run, backend="ray", progress=False)
