"""The Ray backend: same results as the local pool, clear errors for a missing Ray or a dead address.

Runs for real, never skipped (Ray is in the ``dev`` extra): one local Ray instance for the module.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import pytest
import ray

from swalp.sweep import run_sweep
from swalp.sweep.backends import make_backend, probe_address
from swalp.sweep.grid import GridSpec
from swalp.sweep.runner import run_point
from swalp.sweep.store import read_csv
from tests.swalp.sweep.helpers import failing_toy_run, toy_run

SPEC = GridSpec(task="toy", methods=("sgd-fp", "swalp"), formats=("bfp(6)", "bfp8"), seeds=(0, 1),
                fixed={"epochs": 4})


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance whose session directory (logs, sockets) lives in a temporary
    directory removed afterwards: nothing is left in the system temp folder's ``ray/``."""
    with tempfile.TemporaryDirectory(prefix="ray-") as session_root:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=session_root,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
        try:
            yield
        finally:
            ray.shutdown()


def test_real_training_runs_on_ray_equal_the_local_pool_bit_for_bit(tmp_path, ray_instance):
    spec = GridSpec(task="linreg", methods=("sgd-fp", "swalp"), formats=("bfp(6)",), seeds=(0,),
                    fixed={"epochs": 2, "swa_start": 1})
    local = run_sweep(spec, tmp_path / "local", run_point, backend="local", workers=2, progress=False)
    on_ray = run_sweep(spec, tmp_path / "ray", run_point, backend="ray", progress=False)
    columns = ("key", "status", "test_error", "swa_test_error", "train_loss", "dist_to_opt",
               "cost_energy_pj_per_step", "bits_per_element")
    ray_rows = [{c: r.get(c) for c in columns} for r in read_csv(on_ray.csv)]
    assert ray_rows == [{c: r.get(c) for c in columns} for r in read_csv(local.csv)]
    assert [r["status"] for r in ray_rows] == ["ok", "ok"] and ray_rows[1]["swa_test_error"] > 0
    assert ray.is_initialized()  # a Ray instance found running is left running


def test_a_ray_sweep_resumes_a_local_one_rerunning_only_its_failed_points(tmp_path, ray_instance):
    first = run_sweep(SPEC, tmp_path, failing_toy_run, backend="local", workers=2, progress=False)
    assert (first.finished, first.failed) == (4, 2)
    again = run_sweep(SPEC, tmp_path, toy_run, backend="ray", progress=False)
    assert (again.skipped, again.finished, again.failed) == (4, 2, 0)
    rows = read_csv(again.csv)
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)


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
