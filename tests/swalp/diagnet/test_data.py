"""Separable data from a sparse teacher, and refusal of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from swalp.diagnet import Dataset, make_separable


def test_the_teacher_is_k_sparse_and_labels_every_input():
    data = make_separable(n=40, d=80, k=5, seed=3)
    assert data.X.shape == (40, 80) and data.n == 40 and data.d == 80
    assert np.count_nonzero(data.teacher) == 5 and set(np.abs(data.teacher[data.teacher != 0])) == {1.0}
    assert np.array_equal(data.y, np.sign(data.X @ data.teacher))
    assert np.all(data.Z @ data.teacher > 0)                   # separable through the origin
    again = make_separable(n=40, d=80, k=5, seed=3)
    assert np.array_equal(again.X, data.X) and np.array_equal(again.y, data.y)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 1}, "n must be at least 2"),
    ({"n": 2.5}, "n must be a positive integer"),
    ({"d": 0}, "d must be a positive integer"),
    ({"k": 0}, "k must be a positive integer"),
    ({"k": 11, "d": 10}, r"k \(teacher nonzeros\) must be at most d = 10"),
])
def test_bad_sizes_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_separable(**kwargs)


@pytest.mark.parametrize(("X", "y", "match"), [
    (np.ones((3, 2)), np.array([1, 0, 1]), "labels y must be -1 or \\+1, got 0"),
    (np.ones((3, 2)), np.array([1, 1]), r"one label per row of X: shape \(3,\)"),
    (np.array([[1.0, np.nan]]), np.array([1]), "non-finite"),
    (np.ones(3), np.ones(3), "2-D array"),
])
def test_bad_datasets_are_refused(X, y, match):
    with pytest.raises(ValueError, match=match):
        Dataset(X, y)
