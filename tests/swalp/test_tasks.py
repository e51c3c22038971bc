"""The task registry: every task the issue names, data that needs no download, and the
optimum of the convex tasks (the reference of their distance-to-optimum metric)."""

import pytest
import torch

from swalp.tasks import TASKS, flat_parameters, get_task, optimum

ISSUE_TASKS = ("linreg", "logreg", "digits-vgg", "digits-preresnet", "cifar10-vgg16", "cifar100-vgg16",
               "cifar10-preresnet164")


def regularized_gradient(task_name, theta, weight_decay):
    """Gradient of mean training loss + weight_decay / 2 * |theta|^2 at ``theta`` (float64)."""
    task = TASKS[task_name]
    data = task.load(None)
    model = task.build().double()
    offset = 0
    for p in model.parameters():
        p.data.copy_(theta[offset:offset + p.numel()].view_as(p))
        offset += p.numel()
    x = data.x_train.double().reshape(len(data.x_train), -1)
    loss = task.loss(model(x), data.y_train.double() if task.kind == "regression" else data.y_train)
    (loss + weight_decay / 2 * sum(p.pow(2).sum() for p in model.parameters())).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize(("name", "weight_decay"), [("linreg", 0.0), ("linreg", 0.1), ("logreg", 1e-2)])
def test_optimum_is_a_stationary_point_of_the_regularized_training_objective(name, weight_decay):
    theta = optimum(name, weight_decay)
    assert theta.dtype == torch.float64 and len(theta) == len(flat_parameters(TASKS[name].build()))
    assert regularized_gradient(name, theta, weight_decay).abs().max() < 1e-9


def test_logistic_regression_without_weight_decay_has_no_optimum_and_cnns_have_none():
    with pytest.raises(ValueError, match="weight_decay must be > 0"):
        optimum("logreg", 0.0)
    with pytest.raises(ValueError, match="not convex"):
        optimum("digits-vgg", 0.0)


def test_every_task_of_the_issue_is_registered_and_cifar_needs_a_data_dir():
    for name in ISSUE_TASKS:
        task = get_task(name)
        assert task.name == name
        assert task.needs_data_dir == name.startswith("cifar")
    with pytest.raises(ValueError, match="need --data-dir"):
        get_task("cifar100-vgg16").load(None)


def test_unknown_task_lists_exactly_the_registered_names():
    with pytest.raises(ValueError, match="unknown task 'vgg-digits'") as err:
        get_task("vgg-digits")
    assert str(err.value).endswith(", ".join(sorted(TASKS)))
    assert all(task.name == name for name, task in TASKS.items())  # no aliases: every key is its task


@pytest.mark.parametrize("name", ["digits-vgg", "digits-preresnet"])
def test_digit_models_map_images_to_ten_logits(name):
    task = get_task(name)
    data = task.load(None)
    torch.manual_seed(0)
    assert task.build()(data.x_train[:4]).shape == (4, 10)
    assert data.x_train.shape[1:] == (1, 8, 8) and len(data.x_test) == 500
