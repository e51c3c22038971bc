"""Sweep grids: format-range spellings, grid expansion, point keys."""

from __future__ import annotations

import pytest

from swalp.sweep.grid import GridSpec, expand_formats, expand_grid, parse_list, parse_seeds, point_key


def test_ranges_expand_to_every_word_length_in_canonical_spelling():
    assert expand_formats("fixed:6..8") == ["fixed(6, 4)", "fixed(7, 5)", "fixed(8, 6)"]
    assert expand_formats("bfp:7..8,int:8") == ["bfp(7)", "bfp8", "int8"]


def test_globs_match_presets_and_plain_spellings_parse():
    assert expand_formats("mx*") == [
        "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8"]
    assert expand_formats("fp8_e4m3, bfp(6,block=16), fixed(8,6)") == [
        "fp8_e4m3", "bfp(6, block=16)", "fixed(8, 6)"]


def test_duplicates_are_dropped_keeping_the_first_position():
    assert expand_formats("bfp8,bfp:7..8,bfp(8)") == ["bfp8", "bfp(7)"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("bfp:16..4", r"runs downward; write it as bfp:4..16"),
        ("foo:4..8", "unknown range family 'foo'"),
        ("fixed:1..4", r"wl must be in \[2, 32\]"),
        ("bfp:4-8", "cannot read range"),
        ("zz*", "matches no preset"),
        ("fp9", "unknown format"),
        ("", "at least one format"),
    ],
)
def test_bad_format_lists_are_refused_with_the_reason(text, match):
    with pytest.raises(ValueError, match=match):
        expand_formats(text)


def test_seeds_are_a_count_or_a_list():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds(2) == [0, 1]
    assert parse_seeds("4,7,4") == [4, 7]
    for bad in ("0", "-1", "a", "1,x", ""):
        with pytest.raises(ValueError, match="seeds must be"):
            parse_seeds(bad)


def test_lists_are_checked_against_choices():
    assert parse_list("W, A,W", "roles", "WAEGM") == ["W", "A"]
    with pytest.raises(ValueError, match=r"roles: unknown 'X'; valid: W, A, E, G, M"):
        parse_list("W,X", "roles", ("W", "A", "E", "G", "M"))


def spec(**kw):
    base = dict(task="linreg", methods=("sgd-fp", "sgd-lp", "swalp"), formats=("bfp(6)", "bfp8"),
                seeds=(0, 1), fixed={"epochs": 2})
    return GridSpec(**{**base, **kw})


def test_grid_is_methods_times_formats_times_seeds_with_one_fp_point_per_seed():
    points = expand_grid(spec())
    assert len(points) == 2 + 2 * 2 * 2
    fp = [p for p in points if p["config"]["method"] == "sgd-fp"]
    assert [p["config"]["formats"] for p in fp] == [dict.fromkeys("WAEGM", "fp32")] * 2
    lp = points[2]
    assert lp["config"] == {"task": "linreg", "method": "sgd-lp", "formats": dict.fromkeys("WAEGM", "bfp(6)"),
                            "seed": 0, "epochs": 2}
    assert lp["label"] == "bfp(6)" and lp["varied_roles"] == "WAEGM"
    assert len({p["key"] for p in points}) == len(points)


def test_roles_subset_keeps_the_other_roles_at_the_base_format():
    points = expand_grid(spec(methods=("swalp",), formats=("bfp(6)",), roles=("W", "G"), seeds=(0,)))
    assert [p["config"]["formats"] for p in points] == [
        {"W": "bfp(6)", "A": "fp32", "E": "fp32", "G": "bfp(6)", "M": "fp32"}]


def test_per_role_sweep_narrows_one_role_at_a_time():
    points = expand_grid(spec(methods=("swalp",), formats=("bfp(6)",), per_role=True, seeds=(0,),
                              base_format="bfp8"))
    assert [p["varied_roles"] for p in points] == ["W", "A", "E", "G", "M"]
    assert points[1]["config"]["formats"] == {
        "W": "bfp8", "A": "bfp(6)", "E": "bfp8", "G": "bfp8", "M": "bfp8"}


def test_point_keys_are_stable_and_ignore_dict_order():
    a = {"task": "t", "seed": 1, "formats": {"W": "bfp8", "A": "fp32"}}
    b = {"formats": {"A": "fp32", "W": "bfp8"}, "seed": 1, "task": "t"}
    assert point_key(a) == point_key(b) == "b5ac2bdc4cd536ed"
    assert point_key({**a, "seed": 2}) != point_key(a)


@pytest.mark.parametrize(
    ("kw", "tasks", "match"),
    [
        ({"task": "mnist"}, ("linreg", "logreg"), "task: unknown 'mnist'; valid: linreg, logreg"),
        ({"methods": ("adam",)}, None, "methods: unknown 'adam'"),
        ({"roles": ("W", "Q")}, None, "roles: unknown 'Q'"),
        ({"formats": ()}, None, "at least one format"),
    ],
)
def test_bad_grids_are_refused(kw, tasks, match):
    with pytest.raises(ValueError, match=match):
        expand_grid(spec(**kw), tasks)
