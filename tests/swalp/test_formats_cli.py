"""``swalp formats`` and its tensor sources: distributions, files and a model's training step."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from swalp.cli import main
from swalp.insert import DEFAULT_LAYER_TYPES
from swalp.sweep.store import read_csv
from swalp.tasks import get_task
from swalp.tensor_sources import capture_step, load_tensor_source


def test_the_table_csv_and_plot_cover_every_format_of_the_ranges(tmp_path, capsys):
    status = main(["formats", "--tensor-source", "laplace", "--size", "4096", "--formats",
                   "fixed:6..8,bfp:6..8,fp8_e4m3,mxfp4", "--out", str(tmp_path)])
    assert status == 0
    text = capsys.readouterr().out
    assert "tensor source laplace: 1 tensor(s), 4096 elements" in text and "SQNR dB" in text
    rows = read_csv(tmp_path / "formats.csv")
    assert [r["format"] for r in rows] == ["fixed(6, 4)", "fixed(7, 5)", "fixed(8, 6)", "bfp(6)", "bfp(7)",
                                           "bfp8", "fp8_e4m3", "mxfp4"]
    assert [r["family"] for r in rows] == ["fixed"] * 3 + ["bfp"] * 3 + ["float", "mx"]
    bfp = [r["sqnr_db"] for r in rows if r["family"] == "bfp"]
    assert np.diff(bfp) == pytest.approx([6.02, 6.02], abs=0.3)  # one bit, about 6 dB
    for ext in ("png", "pdf"):
        assert (tmp_path / f"sqnr_vs_bits.{ext}").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--formats", "bfp:16..4"], "range 'bfp:16..4' runs downward; write it as bfp:4..16"),
        (["--formats", "fp9"], "unknown format"),
        (["--tensor-source", "cauchy"], "tensor source must be one of normal, laplace, log-uniform"),
        (["--tensor-source", "digits-vgg:Q"], "TASK:ROLE with ROLE in WAEG"),
        (["--tensor-source", "nope.npy"], "no such file"),
        (["--size", "0"], "--size must be a positive integer"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(tmp_path, capsys, args, match):
    assert main(["formats", *args, "--out", str(tmp_path / "out")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_training_step_yields_every_weight_activation_error_and_gradient_of_the_model():
    step = capture_step("digits-vgg", seed=0, batch_size=8)
    assert set(step) == {"W", "A", "E", "G"}
    model = get_task("digits-vgg").build()
    weights = [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    quantized = [n for n, m in model.named_modules() if isinstance(m, DEFAULT_LAYER_TYPES)]
    assert list(step["W"]) == list(step["G"]) == weights and len(weights) == 5  # 4 convs + classifier
    assert step["W"]["features.0.weight"].shape == (32, 1, 3, 3)
    assert list(step["A"]) == [f"{n}:out" for n in quantized] and len(quantized) >= 4
    assert list(step["E"]) == [f"{n}:grad" for n in quantized]
    first = quantized[0]
    assert step["A"][f"{first}:out"].shape == step["E"][f"{first}:grad"].shape == (8, 32, 8, 8)
    for group in step.values():
        for array in group.values():
            assert array.dtype == np.float32 and np.isfinite(array).all() and np.any(array != 0)
    # Errors are about 100x smaller than activations: why they want more exponent range (E5M2, BFP).
    mean_abs = {role: np.mean([np.abs(a).mean() for a in step[role].values()]) for role in ("A", "E")}
    assert mean_abs["E"] < 0.05 * mean_abs["A"]


def test_the_same_seed_captures_the_same_tensors_and_a_model_without_children_is_named_model():
    a = load_tensor_source("linreg:W", seed=1)
    assert list(a) == ["model.weight"] and a["model.weight"].shape == (1, 64)
    assert np.array_equal(a["model.weight"], load_tensor_source("linreg:W", seed=1)["model.weight"])
    assert not np.array_equal(a["model.weight"], load_tensor_source("linreg:W", seed=2)["model.weight"])


def test_npy_and_npz_files_are_sources(tmp_path):
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    np.save(tmp_path / "w.npy", x)
    np.savez(tmp_path / "ws.npz", a=x, b=2 * x)
    one = load_tensor_source(str(tmp_path / "w.npy"))
    assert list(one) == ["w"] and one["w"].tolist() == x.tolist()
    both = load_tensor_source(str(tmp_path / "ws.npz"))
    assert list(both) == ["a", "b"] and both["b"].dtype == np.float32
