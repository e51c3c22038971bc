"""End-of-run metrics of a trained model, as LRBench defines them.

Source: Wu et al., BigData 2019, and ``git-disl/LRBench``'s
``LRBench/framework/keras/compute_metrics.py`` (``add_accuracy``, ``add_confidence``,
``add_robustness``):

* ``top1_accuracy``, ``top5_accuracy``: percent of test samples whose label is the top
  prediction / among the 5 top predictions (all classes when there are fewer than 5).
* ``confidence_mean``, ``confidence_std``: mean and (population) standard deviation of the
  max-softmax confidence over the correctly classified test samples.
* ``class_confidence_spread``: population standard deviation over classes of the mean
  confidence of each class's correctly classified samples (LRBench's "CDAC"; classes with no
  correct sample are left out, where LRBench's code would index past its list).
* ``test_loss``: mean test loss; ``robustness = test_loss - final training loss`` (the final
  epoch's mean training loss, as Keras' ``history['loss'][-1]``): how much worse the model
  does on unseen data than on the data it was trained on.

``cost`` (steps to reach a target accuracy) and the variance across seeds are properties of
several evaluations or runs: see :func:`steps_to_target` and :mod:`swalp.lrbench`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

TOP_K = 5
#: Keys of :func:`confidence_metrics` (None for tasks that do not classify).
CONFIDENCE_METRICS = ("top1_accuracy", "top5_accuracy", "confidence_mean", "confidence_std",
                      "class_confidence_spread")


@torch.no_grad()
def predictions(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(outputs, targets)`` of ``model`` in eval mode over ``batches``, concatenated."""
    model.eval()
    outputs, targets = [], []
    for x, y in batches:
        outputs.append(model(x).float())
        targets.append(y)
    return torch.cat(outputs), torch.cat(targets)


def confidence_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float | None]:
    """Top-1/top-5 accuracy (%), confidence mean/std over correct samples and the per-class
    confidence spread of classification ``logits`` (N x C) against integer ``targets`` (N).

    Raises:
        ValueError: shapes that are not (N, C) and (N,), or no samples.
    """
    if logits.ndim != 2 or targets.ndim != 1 or len(logits) != len(targets) or len(targets) == 0:
        raise ValueError(f"expected logits (N, C) and targets (N,) with N >= 1, got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    probs = torch.softmax(logits.double(), dim=1)
    confidence, predicted = probs.max(dim=1)
    correct = predicted == targets
    top = probs.topk(min(TOP_K, probs.shape[1]), dim=1).indices
    in_top = (top == targets[:, None]).any(dim=1)
    right = confidence[correct]
    class_means = [float(right[targets[correct] == c].mean()) for c in targets[correct].unique().tolist()]
    return {
        "top1_accuracy": 100.0 * float(correct.double().mean()),
        "top5_accuracy": 100.0 * float(in_top.double().mean()),
        "confidence_mean": float(right.mean()) if len(right) else None,
        "confidence_std": float(right.std(correction=0)) if len(right) else None,
        "class_confidence_spread": (float(torch.tensor(class_means, dtype=torch.float64).std(correction=0))
                                    if class_means else None),
    }


def steps_to_target(curve: Sequence[tuple[int, float | None]], target: float) -> int | None:
    """First step count of ``curve`` (``(steps, accuracy %)`` pairs in step order) whose
    accuracy is ``>= target``; None when it never gets there (LRBench's cost)."""
    for steps, accuracy in curve:
        if accuracy is not None and accuracy >= target:
            return steps
    return None


__all__ = ["CONFIDENCE_METRICS", "confidence_metrics", "predictions", "steps_to_target"]
