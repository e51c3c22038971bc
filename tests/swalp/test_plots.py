"""Figures: Pareto front selection, per-seed summaries, and every figure file written, non-empty."""

from __future__ import annotations

import warnings

import pytest

from swalp.cli import main
from swalp.plots import pareto_front, plot_sqnr, plot_sweep, run_error, summarize
from swalp.sweep import run_sweep
from swalp.sweep.grid import GridSpec
from tests.swalp.sweep.helpers import toy_run


def test_pareto_front_keeps_the_points_nothing_beats_on_both_axes():
    points = [(1.0, 9.0), (2.0, 5.0), (3.0, 6.0), (4.0, 1.0), (2.0, 5.0), (5.0, 1.0), (0.5, 10.0)]
    assert pareto_front(points) == [6, 0, 1, 3]  # (3, 6) is beaten by (2, 5); (5, 1) by (4, 1)
    assert pareto_front([]) == []


def test_summaries_average_seeds_and_use_the_averaged_model_of_averaging_methods():
    rows = [
        {"status": "ok", "method": "swalp", "label": "bfp8", "varied_roles": "WAEGM", "family": "bfp",
         "test_error": 9.0, "swa_test_error": 2.0, "bits_per_element": 8.0, "cost_energy_pj_per_step": 5.0},
        {"status": "ok", "method": "swalp", "label": "bfp8", "varied_roles": "WAEGM", "family": "bfp",
         "test_error": 9.0, "swa_test_error": 4.0, "bits_per_element": 8.0, "cost_energy_pj_per_step": 5.0},
        {"status": "ok", "method": "sgd-fp", "label": "fp32", "varied_roles": None, "family": "float",
         "test_error": 1.0, "swa_test_error": None, "bits_per_element": 32.0,
         "cost_energy_pj_per_step": 50.0},
        {"status": "failed", "method": "swalp", "label": "bfp(4)", "varied_roles": "WAEGM", "family": "bfp"},
    ]
    assert run_error(rows[0]) == 2.0 and run_error(rows[2]) == 1.0
    swalp, fp = summarize(rows)
    assert (swalp["test_error"], swalp["test_error_std"], swalp["seeds"]) == (3.0, pytest.approx(2**0.5), 2)
    assert (fp["label"], fp["test_error"], fp["varied_roles"], fp["seeds"]) == ("fp32", 1.0, "", 1)


def assert_figures(paths, stems):
    assert sorted(p.name for p in paths) == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "pdf"))
    for path in paths:
        assert path.stat().st_size > 5000, path
        assert path.read_bytes()[:4] in (b"\x89PNG", b"%PDF")


def test_a_sweep_gets_pareto_error_vs_bits_and_role_sensitivity_figures(tmp_path, capsys):
    spec = GridSpec(task="toy", methods=("sgd-fp", "swalp"), formats=("bfp(6)", "bfp8", "fp8_e4m3"),
                    roles=("W", "G"), per_role=True, seeds=(0, 1), fixed={"epochs": 3})
    run_sweep(spec, tmp_path, toy_run, workers=2, progress=False)
    paths = plot_sweep(tmp_path)
    assert_figures(paths, ("pareto", "error_vs_bits", "role_sensitivity"))
    for path in paths:
        path.unlink()
    assert main(["plot", str(tmp_path)]) == 0  # swalp plot DIR regenerates them from the CSV
    assert capsys.readouterr().out.splitlines() == [str(p) for p in paths]
    assert_figures(paths, ("pareto", "error_vs_bits", "role_sensitivity"))


def test_a_sweep_narrowing_all_roles_together_has_no_sensitivity_figure(tmp_path):
    spec = GridSpec(task="toy", methods=("swalp",), formats=("bfp(6)", "bfp8"), seeds=(0,))
    run_sweep(spec, tmp_path, toy_run, workers=1, progress=False)
    assert_figures(plot_sweep(tmp_path), ("pareto", "error_vs_bits"))


def test_sqnr_figure_is_written(tmp_path):
    rows = [{"format": f"bfp({w})", "family": "bfp", "bits_per_element": w, "sqnr_db": 6.0 * w}
            for w in (4, 6)]
    rows.append({"format": "fp8_e4m3", "family": "float", "bits_per_element": 8, "sqnr_db": 31.0})
    assert_figures(plot_sqnr(rows, tmp_path / "sub" / "sqnr", "t"), ("sqnr",))


def test_sqnr_figure_without_a_finite_sqnr_says_so_without_a_matplotlib_warning(tmp_path):
    rows = [{"format": f, "family": "bfp", "bits_per_element": 8, "sqnr_db": v}
            for f, v in (("bfp8", float("nan")), ("bfp(6)", float("inf")))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_figures(plot_sqnr(rows, tmp_path / "sqnr", "all zero"), ("sqnr",))


def test_plot_of_a_directory_without_results_says_so(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "holds no sweep results" in capsys.readouterr().err
