"""The schedule tuner: it times the default and a seeded sample of the space, keeps the fastest,
stores the choice atomically per CPU, and bitserial_conv2d(schedule="auto") uses it."""

from __future__ import annotations

import dataclasses
import json

import numba
import numpy as np
import pytest

from lpformats import Schedule, bitserial_conv2d, tune_conv2d
from lpformats.bitserial_conv import DEFAULT, cache_root, cpu_key, schedule_space, set_cache_root, tuner
from lpformats.bitserial_conv import operator as operator_module
from lpformats.bitserial_conv.tuner import FILE_NAME, lookup
from tests.lpformats.bitserial_conv.oracle import conv2d_int64, random_codes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The tuner's store in a fresh folder (generated kernels stay in the user cache, compiled once)."""
    monkeypatch.setattr(tuner, "_store_path", lambda: tmp_path / FILE_NAME)
    return tmp_path


def test_the_cache_folder_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFORMATS_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    set_cache_root(tmp_path / "set")
    try:
        assert cache_root() == tmp_path / "set"
    finally:
        set_cache_root(None)
    monkeypatch.delenv("LPFORMATS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "lpformats"


def operands(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return random_codes(rng, (1, 64, 6, 6), 2, "unsigned"), random_codes(rng, (8, 64, 3, 3), 1, "bipolar")


ARGS = {"stride": 1, "padding": 1, "signed": ("unsigned", "bipolar")}


def test_tuning_picks_the_fastest_timed_schedule_and_stores_it(cache):
    x, w = operands()
    result = tune_conv2d(x, w, 2, 1, budget=4, repeat=1, **ARGS)
    assert not result.from_cache and result.tried == 4 and result.cpu == cpu_key()
    assert result.threads == numba.get_num_threads()
    assert result.seconds <= result.default_seconds and result.search_seconds > 0
    assert result.workload == "n1_h6_w6_c64_o8_k3x3_s1x1_p1x1_a2unsigned_w1bipolar"
    stored = json.loads((cache / FILE_NAME).read_text())
    record = stored[cpu_key()][f"{result.workload}_t{result.threads}"]
    assert Schedule(**record["schedule"]) == result.schedule
    again = tune_conv2d(x, w, 2, 1, budget=4, repeat=1, **ARGS)
    assert (
        again.from_cache
        and again.schedule == result.schedule
        and again.search_seconds == result.search_seconds
    )
    assert not list(cache.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_auto_schedule_uses_the_stored_choice(cache, monkeypatch):
    x, w = operands(1)
    chosen = Schedule(tile_oh=1, tile_ow=2, tile_co=3, parallel="channels", order="planes_inner", unroll=2)
    used = []
    real_run = operator_module.run_packed
    monkeypatch.setattr(operator_module, "run_packed", lambda *args: used.append(args[-1]) or real_run(*args))
    bitserial_conv2d(x, w, 2, 1, **ARGS)
    assert used[-1] == DEFAULT  # nothing stored yet
    result = tune_conv2d(x, w, 2, 1, budget=1, repeat=1, **ARGS)
    assert result.schedule == DEFAULT  # a budget of 1 times the default only
    path = cache / FILE_NAME
    data = json.loads(path.read_text())
    data[cpu_key()][f"{result.workload}_t{result.threads}"]["schedule"] = chosen.to_dict()
    path.write_text(json.dumps(data))
    got = bitserial_conv2d(x, w, 2, 1, **ARGS)
    assert used[-1] == chosen
    np.testing.assert_array_equal(got, conv2d_int64(x, w, (1, 1), (1, 1)))


def test_choices_are_kept_per_cpu_and_merged_with_other_writers(cache, monkeypatch):
    x, w = operands(2)
    first = tune_conv2d(x, w, 2, 1, budget=2, repeat=1, **ARGS)
    with monkeypatch.context() as patch:
        patch.setattr(tuner, "cpu_key", lambda: "haswell-0123456789ab")
        other = tune_conv2d(x, w, 2, 1, budget=2, repeat=1, **ARGS)
    assert not other.from_cache  # another CPU: searched again
    data = json.loads((cache / FILE_NAME).read_text())
    assert set(data) == {cpu_key(), "haswell-0123456789ab"}
    stored = lookup(operator_module.prepare(x, w, 2, 1, 1, 1, ARGS["signed"], "NCHW").workload)
    assert stored == dataclasses.replace(first, from_cache=True)


def test_a_damaged_store_is_ignored_and_rewritten(cache):
    (cache / FILE_NAME).write_text("{not json")
    x, w = operands(3)
    assert bitserial_conv2d(x, w, 2, 1, **ARGS).shape == (1, 8, 6, 6)
    result = tune_conv2d(x, w, 2, 1, budget=1, repeat=1, **ARGS)
    assert not result.from_cache
    assert cpu_key() in json.loads((cache / FILE_NAME).read_text())


def test_refresh_searches_again_and_the_sample_is_seeded(cache):
    x, w = operands(4)
    a = tune_conv2d(x, w, 2, 1, budget=3, repeat=1, seed=5, **ARGS)
    b = tune_conv2d(x, w, 2, 1, budget=3, repeat=1, seed=5, refresh=True, **ARGS)
    assert not b.from_cache and b.tried == a.tried == 3


def test_schedule_space_covers_every_axis():
    space = schedule_space(14, 14, 256)
    assert len(space) == 5 * 3 * 5 * 2 * 2 * 3 * 2  # tiles (rows, columns, channels) x the other choices
    for name in ("parallel", "order", "unroll", "layout"):
        assert len({getattr(s, name) for s in space}) > 1
    assert {s.tile_co for s in space} == {16, 32, 64, 128, 256}
    assert {s.tile_oh for s in space} == {1, 2, 4, 8, 14}


def test_bad_budget_is_refused(cache):
    x, w = operands()
    with pytest.raises(ValueError, match="budget must be an integer >= 1; got 0"):
        tune_conv2d(x, w, 2, 1, budget=0, **ARGS)
