"""Max-margin solutions (l1 by linear programming, l2 by quadratic programming) against
instances with known answers and against an independent solver."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from swalp.diagnet import l1_max_margin, l2_max_margin, make_separable, normalized_margin
from swalp.diagnet.maxmargin import MaxMargins


def test_two_orthogonal_points_have_the_hand_computed_margins():
    # z1 = (1, 0), z2 = (0, 3): l1 puts weight b/(a+b) on the first axis, margin ab/(a+b) = 3/4;
    # l2 is w ~ (1/a, 1/b), margin 1/sqrt(1/a^2 + 1/b^2) = 3/sqrt(10)
    Z = np.array([[1.0, 0.0], [0.0, 3.0]])
    l1, l2 = l1_max_margin(Z), l2_max_margin(Z)
    assert l1.margin == pytest.approx(0.75, abs=1e-9)
    assert l1.w == pytest.approx([0.75, 0.25], abs=1e-9)
    assert l2.margin == pytest.approx(3 / math.sqrt(10), abs=1e-9)
    assert l2.w == pytest.approx(np.array([3.0, 1.0]) / math.sqrt(10), abs=1e-9)


def test_a_single_point_gives_its_dual_norms():
    z = np.array([[0.5, -2.0, 1.0]])
    assert l1_max_margin(z).margin == pytest.approx(2.0)            # ||z||_inf, w = -e_2
    assert l1_max_margin(z).w == pytest.approx([0.0, -1.0, 0.0], abs=1e-12)
    assert l2_max_margin(z).margin == pytest.approx(np.linalg.norm(z))  # w = z / ||z||_2


def test_solutions_are_feasible_normalised_and_match_an_independent_qp_solver():
    Z = make_separable(20, 50, 3, seed=4).Z
    l1, l2 = l1_max_margin(Z), l2_max_margin(Z)
    assert np.abs(l1.w).sum() == pytest.approx(1.0) and np.linalg.norm(l2.w) == pytest.approx(1.0)
    assert normalized_margin(l1.w, Z, 1) == pytest.approx(l1.margin)
    assert normalized_margin(l2.w, Z, 2) == pytest.approx(l2.margin)
    # the primal QP min ||w||^2 s.t. Z w >= 1 by SLSQP: margin 1/||w||
    result = minimize(lambda w: w @ w, l2.w / l2.margin * 1.1, jac=lambda w: 2 * w, method="SLSQP",
                      constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1, "jac": lambda w: Z}],
                      options={"ftol": 1e-14, "maxiter": 500})
    assert result.success
    assert 1 / np.linalg.norm(result.x) == pytest.approx(l2.margin, rel=1e-6)
    # no unit-norm direction beats either optimum: the teacher, the other solution, random ones
    rng = np.random.default_rng(0)
    for w in [make_separable(20, 50, 3, seed=4).teacher, l2.w, l1.w, *rng.standard_normal((200, 50))]:
        assert normalized_margin(w, Z, 1) <= l1.margin + 1e-9
        assert normalized_margin(w, Z, 2) <= l2.margin + 1e-9


def test_ratios_are_one_at_each_solution():
    Z = make_separable(20, 50, 3, seed=1).Z
    margins = MaxMargins.of(Z)
    assert margins.ratios(margins.l1.w, Z)[0] == pytest.approx(1.0)
    assert margins.ratios(7.0 * margins.l2.w, Z)[1] == pytest.approx(1.0)  # scale-free
    assert margins.ratios(np.zeros(50), Z) == (0.0, 0.0)


@pytest.mark.parametrize("solver", [l1_max_margin, l2_max_margin])
def test_non_separable_data_and_bad_arrays_are_refused(solver):
    with pytest.raises(ValueError, match="not linearly separable"):
        solver(np.array([[1.0, 0.0], [-1.0, 0.0]]))         # a point and its mirror image
    with pytest.raises(ValueError, match="2-D array"):
        solver(np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        solver(np.array([[1.0, np.nan]]))


def test_normalized_margin_refuses_non_finite_weights():
    with pytest.raises(ValueError, match="non-finite"):
        normalized_margin(np.array([np.inf, 0.0]), np.eye(2), 2)
