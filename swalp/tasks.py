"""Registry of training tasks: data, model, loss, metric and default hyperparameters.

Convex tasks (``linreg``, ``logreg``) quantize weights, gradients and optimizer state only
(roles ``W``, ``G``, ``M``): the paper's theory setting, where the model has no activations.
They also know their optimum, so runs report the squared distance to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from swalp import data as datasets
from swalp.data_mnist1d import STANDARD_TRAIN as MNIST1D_TRAIN
from swalp.data_mnist1d import mnist1d
from swalp.models import VGG, VGG_DIGITS, PreResNet, preresnet164, vgg16
from swalp.models_1d import MNIST1DCNN, MNIST1DMLP, MNIST1DDeepMLP

CLASSIFICATION, REGRESSION = "classification", "regression"


@dataclass(frozen=True)
class Task:
    """One task of the registry.

    Attributes:
        name: registry key.
        description: one line for ``--help`` and reports.
        kind: ``classification`` (test error in % misclassified) or ``regression`` (test error
            is the test mean squared error).
        load: ``data_dir -> Dataset``.
        build: ``() -> nn.Module`` in full precision (call after seeding torch).
        defaults: hyperparameters used when a :class:`~swalp.experiments.RunConfig` leaves
            them None.
        convex: True for the convex tasks (see the module docstring).
        needs_data_dir: the data must be given with ``--data-dir``.
        load_sized: for tasks whose data is generated, ``train_size -> Dataset`` with that
            many training examples (``--train-size``); None: the training set is fixed.
        eval_batch_size: test batch size (activation exponents are shared per batch, so the
            low-precision test error depends on it).
        quantize_input: low-precision runs also quantize the model's input (the paper's code
            does not; the digits tasks do).
    """

    name: str
    description: str
    kind: str
    load: Callable[[str | None], datasets.Dataset]
    build: Callable[[], nn.Module]
    defaults: dict = field(default_factory=dict)
    convex: bool = False
    needs_data_dir: bool = False
    eval_batch_size: int = 1000
    quantize_input: bool = True
    load_sized: Callable[[int], datasets.Dataset] | None = None

    def check_train_size(self, train_size: int | None) -> None:
        """Refuse a ``train_size`` this task cannot use (None always passes).

        Raises:
            ValueError: not a positive integer, or the task's training set is fixed.
        """
        if train_size is None:
            return
        if isinstance(train_size, bool) or not isinstance(train_size, int) or train_size < 1:
            raise ValueError(f"train_size (--train-size) must be a positive integer, got {train_size!r}")
        if self.load_sized is None:
            sized = ", ".join(sorted(name for name, task in TASKS.items() if task.load_sized is not None))
            raise ValueError(f"train_size (--train-size): task {self.name} has a fixed training set; "
                             f"tasks with generated data: {sized}")

    def data(self, data_dir: str | None = None, train_size: int | None = None,
             **load_options: str) -> datasets.Dataset:
        """The task's data; ``train_size`` (tasks with ``load_sized``) sets the number of
        training examples, None keeps the task's standard set; ``load_options`` go to
        :attr:`load` (the CIFAR tasks' ``normalization``).

        Raises:
            ValueError: a ``train_size`` refused by :meth:`check_train_size`.
        """
        self.check_train_size(train_size)
        return self.load(data_dir, **load_options) if train_size is None else self.load_sized(train_size)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean training loss: cross entropy, or half the mean squared error."""
        if self.kind == CLASSIFICATION:
            return nn.functional.cross_entropy(output, target)
        return 0.5 * nn.functional.mse_loss(output.squeeze(-1), target)

    def errors(self, output: torch.Tensor, target: torch.Tensor) -> float:
        """Sum over the batch of the error measure: misclassified count, or squared error."""
        if self.kind == CLASSIFICATION:
            return float((output.argmax(1) != target).sum())
        return float(((output.squeeze(-1) - target) ** 2).sum())

    def error_scale(self) -> float:
        """Factor from mean error to the reported test error (100: percent)."""
        return 100.0 if self.kind == CLASSIFICATION else 1.0


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """All parameters of ``model`` as one float64 vector (``model.parameters()`` order)."""
    return torch.cat([p.detach().reshape(-1).double() for p in model.parameters()])


@functools.lru_cache(maxsize=8)
def optimum(task_name: str, weight_decay: float) -> torch.Tensor:
    """Minimizer of a convex task's training objective, mean loss + weight_decay/2 * |theta|^2,
    as a float64 vector in ``model.parameters()`` order.

    Linear regression: the normal equations. Logistic regression: L-BFGS in float64 to a
    gradient norm below 1e-10 (needs ``weight_decay > 0``: the digits are separable).
    """
    task = TASKS[task_name]
    if not task.convex:
        raise ValueError(f"task {task_name} is not convex: it has no computed optimum")
    data = task.load(None)
    x = data.x_train.double().reshape(len(data.x_train), -1)
    n, d = x.shape
    if task.kind == REGRESSION:
        gram = x.T @ x / n + weight_decay * torch.eye(d, dtype=torch.float64)
        return torch.linalg.solve(gram, x.T @ data.y_train.double() / n)
    if not weight_decay > 0:
        raise ValueError(f"weight_decay must be > 0 for {task_name}: without it the optimum is at infinity")
    model = task.build().double()
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=500, tolerance_grad=1e-10,
                            tolerance_change=0, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        penalty = sum(p.pow(2).sum() for p in model.parameters())  # differentiable, unlike flat_parameters
        loss = task.loss(model(x), data.y_train) + weight_decay / 2 * penalty
        loss.backward()
        return loss

    for _ in range(20):
        opt.step(closure)
    return flat_parameters(model)


@functools.lru_cache(maxsize=4)
def _digits(image: bool) -> datasets.Dataset:
    return datasets.digits(image)


def _mnist1d(train_size: int = MNIST1D_TRAIN) -> datasets.Dataset:
    return datasets.Dataset(*mnist1d(train_size))


@functools.lru_cache(maxsize=1)
def _regression() -> datasets.Dataset:
    return datasets.synthetic_regression()


@functools.lru_cache(maxsize=1)
def _halp_regression() -> datasets.Dataset:
    return datasets.halp_regression()


def _no_data_dir(loader: Callable[[], datasets.Dataset]) -> Callable[[str | None], datasets.Dataset]:
    return lambda data_dir: loader()


def _cifar(classes: int) -> Callable[..., datasets.Dataset]:
    def load(data_dir: str | None, normalization: str = "cifar") -> datasets.Dataset:
        if data_dir is None:
            raise ValueError(f"CIFAR-{classes} tasks need --data-dir (a directory in torchvision's format; "
                             "nothing is downloaded)")
        return datasets.cifar(data_dir, classes, normalization)

    return load


_CNN_DEFAULTS = dict(epochs=20, batch_size=64, lr=0.05, swa_lr=0.01, swa_start=12, momentum=0.9,
                     weight_decay=5e-4, schedule="paper")
_MNIST1D_DEFAULTS = dict(epochs=60, batch_size=100, lr=0.1, swa_lr=0.01, swa_start=40, momentum=0.9,
                         weight_decay=0.0, schedule="paper")
#: The authors' scripts (stevenygd/SWALP exp/block_vgg_swa.sh, exp/block_resnet_swa.sh); the
#: ``toolkit`` protocol's values for every method (``paper`` sets them per method: swalp.protocols).
_VGG16_DEFAULTS = dict(epochs=300, batch_size=128, lr=0.05, swa_lr=0.01, swa_start=200, momentum=0.9,
                       weight_decay=5e-4, schedule="paper")
_PRERESNET164_DEFAULTS = dict(_VGG16_DEFAULTS, epochs=225, lr=0.1, swa_start=150, weight_decay=3e-4)
#: The CIFAR tasks: the authors' models, placement and test batches of 128 (both codes' loaders).
_CIFAR = dict(needs_data_dir=True, eval_batch_size=128, quantize_input=False)

TASKS: dict[str, Task] = {
    "linreg": Task(
        "linreg", "linear regression on synthetic data (64 features, 1024 examples)", REGRESSION,
        _no_data_dir(_regression), lambda: nn.Linear(64, 1, bias=False),
        dict(epochs=20, batch_size=8, lr=0.02, swa_lr=0.02, swa_start=2, momentum=0.0, weight_decay=0.0,
             schedule="constant"),
        convex=True),
    "halp-linreg": Task(
        "halp-linreg", "torchhalp's linear-regression example (make_regression: 100 examples, 5 features, "
        "noiseless; test set = training set)", REGRESSION, _no_data_dir(_halp_regression),
        lambda: nn.Linear(5, 1, bias=False),
        # torchhalp: batch 1, lr 1e-3 on MSELoss, i.e. 2e-3 on our half MSE; 100 epochs (its README)
        dict(epochs=100, batch_size=1, lr=2e-3, swa_lr=2e-3, swa_start=50, momentum=0.0, weight_decay=0.0,
             schedule="constant"),
        convex=True),
    "logreg": Task(
        "logreg", "multinomial logistic regression on scikit-learn's 8x8 digits", CLASSIFICATION,
        _no_data_dir(lambda: _digits(False)), lambda: nn.Linear(64, 10),
        dict(epochs=40, batch_size=32, lr=0.5, swa_lr=0.5, swa_start=20, momentum=0.0, weight_decay=1e-2,
             schedule="constant"),
        convex=True),
    "digits-vgg": Task(
        "digits-vgg", "small VGG (conv 32-32-M-64-64-M, BN) on scikit-learn's 8x8 digits", CLASSIFICATION,
        _no_data_dir(lambda: _digits(True)), lambda: VGG(VGG_DIGITS, 1, 8, 10), dict(_CNN_DEFAULTS)),
    "digits-preresnet": Task(
        "digits-preresnet", "pre-activation ResNet-8 (width 16) on scikit-learn's 8x8 digits", CLASSIFICATION,
        _no_data_dir(lambda: _digits(True)), lambda: PreResNet(8, 1, 10), dict(_CNN_DEFAULTS)),
    "mnist1d-cnn": Task(
        "mnist1d-cnn", "the MNIST-1D paper's 1-D CNN (3 conv x 25 channels) on MNIST-1D (generated)",
        CLASSIFICATION, _no_data_dir(_mnist1d), MNIST1DCNN, dict(_MNIST1D_DEFAULTS), load_sized=_mnist1d),
    "mnist1d-mlp": Task(
        "mnist1d-mlp", "the MNIST-1D paper's MLP (100 hidden, residual) on MNIST-1D (generated)",
        CLASSIFICATION, _no_data_dir(_mnist1d), MNIST1DMLP, dict(_MNIST1D_DEFAULTS), load_sized=_mnist1d),
    "mnist1d-deepmlp": Task(
        "mnist1d-deepmlp", "a deep narrow MLP (10 linear layers, width 64, He init) on MNIST-1D (generated)",
        CLASSIFICATION, _no_data_dir(_mnist1d), MNIST1DDeepMLP, dict(_MNIST1D_DEFAULTS, lr=0.05),
        load_sized=_mnist1d),
    "cifar10-vgg16": Task(
        "cifar10-vgg16", "the authors' VGG16 (no BN, dropout classifier) on CIFAR-10 from --data-dir",
        CLASSIFICATION, _cifar(10), lambda: vgg16(10), dict(_VGG16_DEFAULTS), **_CIFAR),
    "cifar100-vgg16": Task(
        "cifar100-vgg16", "the authors' VGG16 (no BN, dropout classifier) on CIFAR-100 from --data-dir",
        CLASSIFICATION, _cifar(100), lambda: vgg16(100), dict(_VGG16_DEFAULTS), **_CIFAR),
    "cifar10-preresnet164": Task(
        "cifar10-preresnet164", "PreResNet-164 (bottleneck) on CIFAR-10 from --data-dir", CLASSIFICATION,
        _cifar(10), lambda: preresnet164(10), dict(_PRERESNET164_DEFAULTS), **_CIFAR),
    "cifar100-preresnet164": Task(
        "cifar100-preresnet164", "PreResNet-164 (bottleneck) on CIFAR-100 from --data-dir", CLASSIFICATION,
        _cifar(100), lambda: preresnet164(100), dict(_PRERESNET164_DEFAULTS), **_CIFAR),
}


def get_task(name: str) -> Task:
    """The task called ``name``."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; tasks are {', '.join(sorted(TASKS))}")
    return TASKS[name]
