"""The run summary table names the error measure of its tasks: percent misclassified for
classification, the mean squared error for regression."""

from swalp.report import summary_table


def record(task: str) -> dict:
    return {"task": task, "method": "sgd-lp", "formats": dict.fromkeys("WAEGM", "bfp8"),
            "final": {"test_error": 1.5, "swa_test_error": None, "swa_lp_test_error": None},
            "cost": {"energy_pj_per_step": 2e6, "speedup_vs_fp32": 3.0, "energy_ratio_vs_fp32": 4.0}}


def test_regression_tables_say_mse_and_classification_tables_say_percent():
    regression = summary_table([record("linreg")]).splitlines()[0]
    classification = summary_table([record("mnist1d-cnn")]).splitlines()[0]
    mixed = summary_table([record("linreg"), record("digits-vgg")], markdown=True).splitlines()[0]
    assert "test MSE (iterate)" in regression and "%" not in regression
    assert "test err % (iterate)" in classification and "MSE" not in classification
    assert "test err % / test MSE (iterate)" in mixed
