"""The paper's protocol per method on the CIFAR tasks, their data pipeline and evaluation,
and dropout drawn from the run's stream. CIFAR runs use a fake CIFAR directory of random
images in torchvision's format (nothing is downloaded).

Facts: ``stevenygd/SWALP`` ``exp/block_vgg_swa.sh`` (300 epochs, lr 0.05, swa_start 200,
swa_lr 0.01, wd 5e-4) and ``exp/block_resnet_swa.sh`` (225, 0.1, 150, 0.01, 3e-4), batch 128;
its ``train.py`` prints ``SGD Error`` at epoch swa_start and ``SWA Error`` at epoch
epochs - 1. ``timgaripov/swa`` ``README.md``: VGG16 SGD 200 epochs, SWA 300 from 161 to
swa_lr 0.01; PreResNet SGD 150 epochs, SWA 225 from 126 (swa_lr 0.01 CIFAR-10, 0.05
CIFAR-100). Normalization: mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010)
(SWALP's data pipeline, ``Tiiiger/QPyTorch`` ``examples/SWALP/data.py``); ImageNet's for
``timgaripov/swa`` ``models/vgg.py``.
"""

import pickle

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import update_bn

from swalp import experiments
from swalp.data import cifar
from swalp.dropout import Dropout, keep_mask
from swalp.experiments import RunConfig, run_experiment
from swalp.methods import get_method
from swalp.quantizer import RandomStream
from swalp.runio.checkpoint import load_checkpoint

TRAIN_PER_FILE = 4


def fake_cifar(root, classes=10, test_images=24):
    """Random CIFAR in torchvision's layout: 5 x 4 training images (10 classes) or 20 (100)."""
    rng = np.random.default_rng(0)
    key = b"labels" if classes == 10 else b"fine_labels"
    sub = root / ("cifar-10-batches-py" if classes == 10 else "cifar-100-python")
    sub.mkdir(parents=True)
    files = [f"data_batch_{i}" for i in range(1, 6)] if classes == 10 else ["train"]
    sizes = {name: TRAIN_PER_FILE * 5 // len(files) for name in files}
    sizes["test_batch" if classes == 10 else "test"] = test_images
    for name, n in sizes.items():
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 key: rng.integers(0, classes, n).tolist()}
        with open(sub / name, "wb") as fh:
            pickle.dump(batch, fh)
    return str(root)


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    return fake_cifar(tmp_path_factory.mktemp("data"))


def resolved(task, method, **kwargs):
    return RunConfig(task=task, method=method, data_dir="unused", **kwargs).resolved()


PAPER = {
    # (task, method): epochs, lr, weight_decay, swa_start, swa_lr, schedule
    ("cifar10-vgg16", "sgd-fp"): (200, 0.05, 5e-4, None, None, "paper"),
    ("cifar10-vgg16", "swa-fp"): (300, 0.05, 5e-4, 161, 0.01, "swa"),
    ("cifar10-vgg16", "sgd-lp"): (200, 0.05, 5e-4, None, None, "paper"),
    ("cifar10-vgg16", "swalp"): (300, 0.05, 5e-4, 200, 0.01, "paper"),
    ("cifar100-vgg16", "swa-fp"): (300, 0.05, 5e-4, 161, 0.01, "swa"),
    ("cifar100-vgg16", "swalp"): (300, 0.05, 5e-4, 200, 0.01, "paper"),
    ("cifar10-preresnet164", "sgd-fp"): (150, 0.1, 3e-4, None, None, "paper"),
    ("cifar10-preresnet164", "swa-fp"): (225, 0.1, 3e-4, 126, 0.01, "swa"),
    ("cifar10-preresnet164", "sgd-lp"): (150, 0.1, 3e-4, None, None, "paper"),
    ("cifar10-preresnet164", "swalp"): (225, 0.1, 3e-4, 150, 0.01, "paper"),
    ("cifar100-preresnet164", "swa-fp"): (225, 0.1, 3e-4, 126, 0.05, "swa"),
    ("cifar100-preresnet164", "swalp"): (225, 0.1, 3e-4, 150, 0.01, "paper"),
}


@pytest.mark.parametrize(("task", "method"), list(PAPER))
def test_paper_protocol_is_the_default_of_the_cifar_tasks_with_each_methods_settings(task, method):
    epochs, lr, wd, swa_start, swa_lr, schedule = PAPER[task, method]
    config = resolved(task, method)
    assert config.protocol == "paper"
    assert (config.epochs, config.lr, config.weight_decay, config.schedule) == (epochs, lr, wd, schedule)
    assert (config.batch_size, config.momentum) == (128, 0.9)
    if swa_start is not None:
        assert (config.swa_start, config.swa_lr) == (swa_start, swa_lr)


@pytest.mark.parametrize("model", ["vgg16", "preresnet164"])
def test_sgd_lp_paper_budget_is_the_swalp_runs_epochs_before_averaging(model):
    sgd_lp, swalp = resolved(f"cifar10-{model}", "sgd-lp"), resolved(f"cifar10-{model}", "swalp")
    assert sgd_lp.epochs == swalp.swa_start
    assert (sgd_lp.lr, sgd_lp.weight_decay, sgd_lp.schedule) == (swalp.lr, swalp.weight_decay, swalp.schedule)


def test_toolkit_protocol_gives_every_method_the_task_defaults_and_paper_needs_a_paper_task():
    float_formats = dict(formats="fp8_e5m2", rounding="nearest")  # fp8 trains in float formats only
    for method in (m for m in experiments.METHODS if not get_method(m).convex_only):
        formats = float_formats if method == "fp8" else {}
        config = resolved("cifar10-vgg16", method, protocol="toolkit", **formats)
        assert (config.epochs, config.swa_start, config.lr, config.weight_decay) == (300, 200, 0.05, 5e-4)
    assert RunConfig(task="digits-vgg").resolved().protocol == "toolkit"
    with pytest.raises(ValueError, match="task digits-vgg has no paper protocol"):
        RunConfig(task="digits-vgg", protocol="paper").resolved()
    with pytest.raises(ValueError, match="protocol must be one of paper, toolkit"):
        RunConfig(task="digits-vgg", protocol="theirs").resolved()


def test_sgd_lp_for_swa_start_epochs_is_the_swalp_run_up_to_swa_start():
    common = dict(task="digits-vgg", batch_size=256, seed=4)
    swalp = run_experiment(RunConfig(method="swalp", epochs=3, swa_start=2, **common))
    sgd_lp = run_experiment(RunConfig(method="sgd-lp", epochs=2, **common))
    for a, b in zip(sgd_lp["epochs"], swalp["epochs"][:2], strict=True):
        assert (a["lr"], a["train_loss"], a["test_error"]) == (b["lr"], b["train_loss"], b["test_error"])


def test_cifar_inputs_normalized_with_the_references_statistics_and_black_padding_before_it(cifar_dir):
    with open(f"{cifar_dir}/cifar-10-batches-py/test_batch", "rb") as fh:
        raw = torch.from_numpy(pickle.load(fh)[b"data"].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    for name, (mean, std) in {"cifar": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
                              "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}.items():
        data = cifar(cifar_dir, 10, name)
        mean_t, std_t = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        assert torch.equal(data.x_test, (raw - mean_t) / std_t)
    # each augmented image is normalize(flip?(crop(pad(raw, 4 black pixels)))) for some crop and flip
    images = raw[:6]
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    augmented = data.augment((images - mean_t) / std_t, torch.Generator().manual_seed(1))
    for i in range(6):
        candidates = [(padded[i:i + 1, :, dy:dy + 32, dx:dx + 32] - mean_t) / std_t
                      for dy in range(9) for dx in range(9)]
        assert any(torch.equal(augmented[i:i + 1], c) or torch.equal(augmented[i:i + 1], c.flip(-1))
                   for c in candidates)


def test_cifar_test_batches_hold_128_images(tmp_path):
    data_dir = fake_cifar(tmp_path, test_images=300)
    run = experiments.Run(RunConfig(task="cifar10-vgg16", method="sgd-fp", data_dir=data_dir).resolved())
    assert [len(y) for _, y in run.test] == [128, 128, 44]


def test_dropout_masks_are_a_function_of_seed_and_call_count_not_of_torchs_generator():
    x = torch.ones(1000, 64)
    layer = Dropout(0.5).train()
    masks = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        layer.stream = RandomStream(7, counter=3)
        masks.append(layer(x))
    assert torch.equal(masks[0], masks[1])
    assert torch.equal(masks[0], keep_mask((1000, 64), 0.5, 7, 3) * x / 0.5)
    assert set(masks[0].unique().tolist()) == {0.0, 2.0}  # survivors scaled by 1 / (1 - p)
    assert (masks[0] == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    assert not torch.equal(keep_mask((1000, 64), 0.5, 7, 4), keep_mask((1000, 64), 0.5, 7, 3))
    assert torch.equal(layer.eval()(x), x)


def test_cifar_vgg16_run_records_its_protocol_and_resumes_bit_identical_with_dropout(cifar_dir, tmp_path,
                                                                                   run_killed):
    # A and E in bfp8 (stochastic), the optimizer in fp32: fast, and every draw still from the stream
    config = RunConfig(task="cifar10-vgg16", method="swalp", data_dir=cifar_dir, epochs=3, swa_start=2,
                       batch_size=20, formats={"W": "fp32", "G": "fp32", "M": "fp32"})
    whole = run_experiment(config, tmp_path / "whole")
    protocol = whole["protocol"]
    assert protocol["name"] == "swalp-code" and protocol["paper"]
    assert protocol["overrides"] == ["batch_size", "epochs", "swa_start"]
    assert protocol["source"][0] == "stevenygd/SWALP exp/block_vgg_swa.sh"
    assert (protocol["eval_batch_size"], protocol["quantize_input"]) == (128, False)
    assert protocol["normalization"] == "cifar"
    reported = [(r["field"], r["epoch"]) for r in protocol["reported"]]
    assert reported == [("swa_test_error", 2), ("test_error", 2)]  # epochs - 1 and swa_start
    assert [r["value"] for r in protocol["reported"]] == [whole["epochs"][1]["swa_test_error"],
                                                          whole["epochs"][1]["test_error"]]
    assert whole["epochs"][0]["swa_test_error"] is None and whole["epochs"][1]["swa_test_error"] is not None

    run_killed(config, tmp_path / "killed", 2)
    run_experiment(config, tmp_path / "killed", resume=True)
    a, b = (load_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("whole", "killed"))
    for key in ("model", "averager"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    assert a["stream"] == b["stream"]


def test_swalp_code_protocols_recompute_the_iterates_batchnorm_statistics_before_testing(cifar_dir, tmp_path):
    config = RunConfig(task="cifar10-preresnet164", method="sgd-lp", formats="fp32", data_dir=cifar_dir,
                       epochs=1, batch_size=10)
    record = run_experiment(config, tmp_path)
    assert record["protocol"]["refresh_iterate_bn"]
    state = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    run = experiments.Run(config.resolved())
    run.model.load_state_dict(state)
    update_bn(run.train_in_order, run.model)  # resets the statistics, then one cumulative pass
    for name, tensor in run.model.state_dict().items():
        assert torch.equal(tensor, state[name]), name
