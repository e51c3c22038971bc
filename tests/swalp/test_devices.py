"""``--device``: names resolved to a device this machine has (or a clear error), NaN checks
deferred off the CPU, and on CUDA (skipped without one) a run that resumes bit-identically."""

from __future__ import annotations

import pytest
import torch

from swalp import experiments
from swalp.devices import resolve_device
from swalp.experiments import RunConfig, run_experiment
from swalp.quantizer import NonFiniteError, RandomStream
from swalp.runio.checkpoint import load_checkpoint

CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device on this machine (these tests run where one is)")


def test_auto_picks_the_best_device_this_machine_has():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"


def test_unknown_or_missing_devices_are_refused_before_training():
    with pytest.raises(ValueError, match=r"device must be one of cpu, cuda, mps, auto; got 'tpu'"):
        RunConfig(task="logreg", device="tpu").resolved()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device 'cuda' is not available on this machine"):
            RunConfig(task="logreg", device="cuda").resolved()


def test_nan_seen_on_a_device_is_raised_when_checked_and_then_forgotten():
    stream = RandomStream(0)
    stream.record_nan(torch.ones(3), "G")
    stream.raise_if_nan_seen()  # nothing seen
    stream.record_nan(torch.tensor([1.0, float("nan")]), "E")
    stream.record_nan(torch.ones(2), "G")
    with pytest.raises(NonFiniteError, match=r"role E/G: a tensor to quantize held NaN"):
        stream.raise_if_nan_seen()
    stream.raise_if_nan_seen()


@CUDA
def test_a_cuda_run_resumes_bit_identical_to_an_uninterrupted_one(tmp_path, monkeypatch):
    config = RunConfig(task="digits-vgg", method="swalp", epochs=3, swa_start=1, batch_size=256,
                       device="cuda")
    whole = run_experiment(config, tmp_path / "whole")
    assert whole["config"]["device"] == "cuda"
    original = experiments.Run.run_epoch

    def killed_after_two(self):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(experiments.Run, "run_epoch", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "killed")
    monkeypatch.setattr(experiments.Run, "run_epoch", original)
    run_experiment(config, tmp_path / "killed", resume=True)
    a, b = (load_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("whole", "killed"))
    for key in ("model", "averager"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)


@CUDA
def test_quantizers_on_cuda_give_the_cpu_bits_for_the_same_tensor():
    from swalp.quantizer import quantize_tensor
    from swalp.roles import role_specs

    spec = role_specs("bfp8")["G"]
    x = torch.randn(64, 3, 3, 3)
    on_cpu = quantize_tensor(x, spec, RandomStream(3))
    on_cuda = quantize_tensor(x.cuda(), spec, RandomStream(3))
    assert on_cuda.device.type == "cuda" and torch.equal(on_cuda.cpu(), on_cpu)
