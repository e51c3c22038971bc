"""MNIST-1D tasks: the data is generated locally, deterministically and without the network;
``train_size`` keeps the test set and extends the training set; the models are the paper's
(parameter counts from its layer sizes) with a quantizer at every GEMM input."""

import random
import socket

import numpy as np
import pytest
import torch

from swalp import data_mnist1d
from swalp.experiments import RunConfig, run_experiment
from swalp.insert import insert_quantizers
from swalp.models_1d import MNIST1DCNN, MNIST1DMLP, MNIST1DDeepMLP
from swalp.quantizer import RandomStream
from swalp.roles import role_specs
from swalp.tasks import get_task


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("MNIST-1D generation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_standard_set_is_4000_training_and_1000_test_sequences_of_40_standardized_samples(no_network):
    x_train, y_train, x_test, y_test = data_mnist1d.mnist1d()
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert set(y_train.tolist()) == set(y_test.tolist()) == set(range(10))
    both = torch.cat([x_train, x_test]).double()
    assert abs(float(both.mean())) < 1e-6 and abs(float(both.std(correction=0)) - 1) < 1e-6


def test_generation_is_deterministic_equals_the_cache_and_leaves_global_random_state_alone(no_network):
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    fresh = data_mnist1d._generate(data_mnist1d._arguments(7, 300, 0.8))  # a small set: same code path
    assert (np.random.random(), random.random()) == (expected_np, expected_py)
    data_mnist1d.generated_set(7, 300, 0.8)
    cached = data_mnist1d.generated_set(7, 300, 0.8)  # read back from the cache
    for key in ("x", "y", "x_test", "y_test"):
        np.testing.assert_array_equal(fresh[key], cached[key])


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 truncated zip", bytes(range(256))])
def test_a_damaged_cache_file_is_generated_again(no_network, tmp_path, monkeypatch, damage):
    monkeypatch.setenv(data_mnist1d.CACHE_ENV, str(tmp_path))
    fresh = data_mnist1d.generated_set(7, 300, 0.8)
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(damage)
    again = data_mnist1d.generated_set(7, 300, 0.8)
    for key in ("x", "y", "x_test", "y_test"):
        np.testing.assert_array_equal(fresh[key], again[key])
    assert [p.name for p in tmp_path.iterdir()] == [cached.name] and cached.stat().st_size > 1000


def test_train_size_takes_a_prefix_or_appends_other_seeds_and_never_changes_the_test_set(no_network):
    x4000, y4000, x_test, y_test = data_mnist1d.mnist1d()
    x10, y10, x_test10, _ = data_mnist1d.mnist1d(10)
    x_big, y_big, x_test_big, y_test_big = data_mnist1d.mnist1d(4500)
    assert torch.equal(x10, x4000[:10]) and torch.equal(y10, y4000[:10])
    assert x_big.shape == (4500, 40) and torch.equal(x_big[:4000], x4000)
    assert not torch.equal(x_big[4000:4010], x4000[:10])  # new sequences, not repeats
    assert torch.equal(x_test10, x_test) and torch.equal(x_test_big, x_test)
    assert torch.equal(y_test_big, y_test) and torch.equal(y_big[:4000], y4000)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="train_size must be a positive integer"):
            data_mnist1d.mnist1d(bad)


def test_models_have_the_papers_parameter_counts_and_map_sequences_to_ten_logits():
    # CNN: conv 1->25 k5 (150), 25->25 k3 twice (1900 each), linear 25*5 -> 10 (1260).
    # MLP: 40->100 (4100), 100->100 (10100), 100->10 (1010).
    for model, count in ((MNIST1DCNN(), 5210), (MNIST1DMLP(), 15210)):
        assert sum(p.numel() for p in model.parameters()) == count
        assert model(torch.zeros(3, 40)).shape == (3, 10)
    assert [m.out_channels for m in MNIST1DCNN().features if isinstance(m, torch.nn.Conv1d)] == [25] * 3


def test_deep_mlp_has_ten_linear_layers_of_width_64_and_refuses_bad_shapes():
    # 40->64 (2,624), eight 64->64 (4,160 each), 64->10 (650).
    model = MNIST1DDeepMLP()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 10 and sum(p.numel() for p in model.parameters()) == 36554
    assert model(torch.zeros(3, 40)).shape == (3, 10)
    assert all(float(layer.bias.detach().abs().max()) == 0 for layer in linears[:-1])
    with pytest.raises(ValueError, match="depth must be an integer >= 2"):
        MNIST1DDeepMLP(depth=1)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        MNIST1DDeepMLP(width=0)


def test_deep_mlp_keeps_the_signal_through_its_depth():
    # He initialization: the last hidden layer's activations keep the input's scale (within
    # 4x), where torch's default initialization shrinks them by about 2.4x per layer.
    torch.manual_seed(0)
    x = torch.randn(512, 40)
    model = MNIST1DDeepMLP()
    with torch.no_grad():
        ratio = float(model.features(x).pow(2).mean().sqrt() / x.pow(2).mean().sqrt())
    assert 0.25 < ratio < 4


@pytest.mark.parametrize(("model", "quantizers"), [(MNIST1DCNN, 4), (MNIST1DMLP, 3), (MNIST1DDeepMLP, 10)])
def test_low_precision_models_round_the_input_and_every_relu(model, quantizers):
    specs = role_specs("bfp8", "nearest")
    inserted = insert_quantizers(model(), specs["A"], specs["E"], RandomStream(0), quantize_input=True)
    assert len(inserted) == quantizers


def test_train_size_is_refused_for_fixed_data_sets_and_bad_values():
    with pytest.raises(ValueError, match="digits-vgg has a fixed training set; tasks with generated data: "
                                         "mnist1d-cnn, mnist1d-deepmlp, mnist1d-mlp"):
        RunConfig(task="digits-vgg", train_size=100).resolved()
    with pytest.raises(ValueError, match=r"train_size .* must be a positive integer"):
        RunConfig(task="mnist1d-cnn", train_size=0).resolved()


def test_a_short_run_trains_on_train_size_examples_and_records_it(tmp_path):
    config = RunConfig(task="mnist1d-cnn", method="swalp", formats="bfp8", epochs=2, swa_start=1,
                       train_size=200, seed=0)
    record = run_experiment(config, tmp_path)
    assert record["config"]["train_size"] == 200 and record["status"] == "finished"
    assert len(get_task("mnist1d-cnn").data(None, 200).x_train) == 200
    assert 0 <= record["final"]["swa_test_error"] <= 100
