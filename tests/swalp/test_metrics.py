"""LRBench's per-run metrics on hand-made predictions."""

import math

import pytest
import torch

from swalp.metrics import confidence_metrics, steps_to_target


def _logits(probs):
    return torch.tensor(probs, dtype=torch.float64).log()


def test_confidence_metrics_by_hand():
    probs = [[0.7, 0.2, 0.1], [0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.5, 0.3, 0.2]]
    targets = torch.tensor([0, 0, 1, 2, 2])  # the last one is wrong (predicted 0)
    m = confidence_metrics(_logits(probs), targets)
    assert m["top1_accuracy"] == pytest.approx(80.0)
    assert m["top5_accuracy"] == 100.0  # 3 classes: every label is among the top 5
    # correct confidences 0.7, 0.9, 0.6, 0.8: mean 0.75, population std sqrt(0.0125)
    assert m["confidence_mean"] == pytest.approx(0.75)
    assert m["confidence_std"] == pytest.approx(math.sqrt(0.0125))
    # per-class means 0.8, 0.6, 0.8: population std sqrt(((1/15)^2 * 2 + (2/15)^2) / 3)
    assert m["class_confidence_spread"] == pytest.approx(math.sqrt((2 * (1 / 15) ** 2 + (2 / 15) ** 2) / 3))


def test_top5_misses_a_label_ranked_sixth():
    probs = [[0.3, 0.2, 0.15, 0.12, 0.11, 0.07, 0.05], [0.3, 0.2, 0.15, 0.12, 0.11, 0.07, 0.05]]
    m = confidence_metrics(_logits(probs), torch.tensor([5, 4]))
    assert m["top1_accuracy"] == 0.0 and m["top5_accuracy"] == 50.0
    assert m["confidence_mean"] is None and m["class_confidence_spread"] is None


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="expected logits"):
        confidence_metrics(torch.zeros(3), torch.zeros(3, dtype=torch.long))


def test_steps_to_target_is_the_first_evaluation_at_or_above_it():
    curve = [(10, 50.0), (20, 80.0), (30, 79.0), (40, 90.0)]
    assert steps_to_target(curve, 80.0) == 20
    assert steps_to_target(curve, 85.0) == 40
    assert steps_to_target(curve, 95.0) is None
    assert steps_to_target([(10, None), (20, 99.0)], 90.0) == 20
