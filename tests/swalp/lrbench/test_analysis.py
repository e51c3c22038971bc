"""LRBench's analysis on hand-made run records: cost, aggregation, ranks, agreement, pick."""

import pytest

from swalp.lrbench.analysis import aggregate, agreement, rank, recommend, run_metrics
from swalp.lrbench.study import short_labels, split_policies

FIX1, FIX2 = "epoch:FIX(k0=0.05)", "epoch:FIX(k0=0.1)"
NSTEP1, NSTEP2 = "epoch:NSTEP(k0=0.1,gamma=0.1,l=[10,15])", "epoch:NSTEP(k0=0.2,gamma=0.1,l=[10,15])"


def record(policy, errors, *, seed=0, method="sgd-fp", label="fp32", swa=None, top1=None, robustness=0.1,
           status="ok"):
    """A finished sweep record: test error per epoch (10 steps each), optional average errors."""
    swa = swa or [None] * len(errors)
    epochs = [{"epoch": e + 1, "test_error": err, "swa_test_error": s}
              for e, (err, s) in enumerate(zip(errors, swa, strict=True))]
    final = {"top1_accuracy": 100 - errors[-1] if top1 is None else top1, "top5_accuracy": 100.0,
             "confidence_mean": 0.9, "confidence_std": 0.1, "class_confidence_spread": 0.05,
             "robustness": robustness, "test_loss": 0.3}
    config = {"task": "t", "method": method, "seed": seed, "formats": {}, "lr_policy": policy}
    return {"status": status, "label": label, "config": config,
            "result": {"steps_per_epoch": 10, "epochs": epochs, "final": final}}


def test_cost_is_the_steps_until_the_delivered_model_first_reaches_the_target():
    row = run_metrics(record(FIX1, [40, 15, 12, 9]), target=85)
    assert row["cost_steps"] == 20 and row["curve"] == [(10, 60), (20, 85), (30, 88), (40, 91)]
    averaged = run_metrics(record(FIX1, [40, 30, 20, 18], swa=[None, None, 14, 12], method="swalp",
                                  label="bfp8"), target=85)
    assert averaged["cost_steps"] == 30  # the average's 86% at epoch 3
    assert averaged["setting"] == "swalp bfp8"
    assert run_metrics(record(FIX1, [40, 30]), target=85)["cost_steps"] is None
    # late fluctuation: mean |change| over the second half (accuracies 80, 90, 85)
    assert run_metrics(record(FIX1, [50, 40, 30, 20, 10, 15]), target=85)["fluctuation"] == pytest.approx(7.5)
    assert run_metrics(record(FIX1, [50, 40]), target=85)["fluctuation"] is None
    assert run_metrics(record(FIX1, [40], status="failed"), target=85) is None


def table(*records, target=85):
    items = aggregate([run_metrics(r, target) for r in records])
    rank(items)
    return items


def test_aggregate_over_seeds_counts_who_reached_the_target():
    (item,) = table(*(record(FIX1, [40, err], seed=seed) for seed, err in enumerate((10, 15, 20))))
    assert item["seeds"] == 3 and item["reached"] == 2 and item["cost_steps"] == 20  # 90% and 85%, not 80%
    assert item["top1_accuracy"] == pytest.approx(85.0) and item["top1_seed_std"] == pytest.approx(5.0)
    assert item["top1_seed_var"] == pytest.approx(25.0)
    assert item["curve"] == [(10, 60.0), (20, 85.0)]


def test_ranks_follow_each_metric_direction_and_missing_the_target_ranks_last():
    items = table(record(FIX1, [40, 30, 12], robustness=0.3), record(NSTEP1, [40, 12, 8], robustness=0.1),
                  record(FIX2, [40, 40, 30], robustness=0.05))
    by = {i["policy"]: i for i in items}
    assert [by[p]["rank_top1_accuracy"] for p in (NSTEP1, FIX1, FIX2)] == [1, 2, 3]
    assert [by[p]["rank_cost_steps"] for p in (NSTEP1, FIX1, FIX2)] == [1, 2, 3]  # FIX2 never gets there
    assert [by[p]["rank_robustness"] for p in (FIX2, NSTEP1, FIX1)] == [1, 2, 3]  # lower is better
    assert by[FIX1]["rank_top5_accuracy"] == by[FIX2]["rank_top5_accuracy"] == 1  # ties share the rank


def test_agreement_is_kendall_tau_between_settings():
    same = table(record(FIX1, [30, 20]), record(NSTEP1, [30, 10]), record(FIX2, [30, 15]),
                 record(FIX1, [30, 25], method="sgd-lp", label="bfp8"),
                 record(NSTEP1, [30, 12], method="sgd-lp", label="bfp8"),
                 record(FIX2, [30, 18], method="sgd-lp", label="bfp8"),
                 record(FIX1, [30, 5], method="swalp", label="bfp8"),
                 record(NSTEP1, [30, 15], method="swalp", label="bfp8"),
                 record(FIX2, [30, 10], method="swalp", label="bfp8"))
    taus = {a["setting"]: a["kendall_tau"] for a in agreement(same)}
    assert taus == {"sgd-lp bfp8": pytest.approx(1.0), "swalp bfp8": pytest.approx(-1.0)}


def test_recommendation_is_the_cheapest_good_policy_with_the_ranges_that_do_well():
    items = table(record(NSTEP1, [30, 14, 8, 8]), record(NSTEP2, [14, 12, 9, 8.2]),
                  record(FIX1, [30, 20, 14, 8.3]), record(FIX2, [30, 30, 30, 20]))
    pick = recommend(items, "sgd-fp", tolerance=0.5)
    assert pick.policy == NSTEP2 and pick.function == "NSTEP" and pick.cost_steps == 10
    assert set(pick.good) == {NSTEP1, NSTEP2, FIX1}
    assert pick.ranges == {"k0": (0.1, 0.2), "gamma": (0.1, 0.1), "l": ((10, 15), (10, 15))}
    assert "k0 0.1..0.2" in pick.describe()
    with pytest.raises(ValueError, match="no finished run"):
        recommend(items, "swalp bfp8")


def test_short_labels_name_the_function_and_what_differs():
    labels = short_labels([FIX1, FIX2, NSTEP1, "WARMUP(k0=0,k1=0.1,l=5) @5 COS(k0=0.001,k1=0.1,l=10)"])
    assert list(labels.values()) == ["FIX k0=0.05", "FIX k0=0.1", "NSTEP", "WARMUP+COS"]


def test_policies_split_on_semicolons_canonical_and_deduplicated():
    assert split_policies(["FIX(k0=0.1); COS(k0=0.001, k1=0.1, l=10)", "FIX( k0=0.1 )"]) == [
        "FIX(k0=0.1)", "COS(k0=0.001,k1=0.1,l=10)"]
    with pytest.raises(ValueError, match="at least one policy"):
        split_policies([" ; "])
    with pytest.raises(ValueError, match="unknown learning-rate policy"):
        split_policies(["FOO(k0=1)"])
