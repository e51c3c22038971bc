"""Loss scalers: state machines traced by hand, spellings, refusals."""

from __future__ import annotations

import pytest
import torch

from swalp.lossscale import (
    DynamicScaler,
    EnhancedScaler,
    LossScaleFloorError,
    StaticScaler,
    build_scaler,
    canonical_loss_scale,
    parse_loss_scale,
)


def trace(scaler, overflows):
    """(scale used, skipped) of each step, overflowing where ``overflows`` says."""
    out = []
    for overflow in overflows:
        scale = scaler.loss_scale
        out.append((scale, scaler.update(overflow)))
    return out


def test_dynamic_doubles_after_interval_clean_steps_and_halves_and_skips_on_overflow():
    scaler = DynamicScaler(init=8, interval=2, floor=2, patience=1)
    steps = trace(scaler, [False, False, False, True, False, False, True, True, True])
    assert steps == [
        (8, False), (8, False),  # two clean steps: 8 -> 16
        (16, False),  # clean count 1
        (16, True),  # overflow: skip, 16 -> 8, clean count restarts
        (8, False), (8, False),  # 8 -> 16
        (16, True), (8, True), (4, True),  # halving down to the floor 2
    ]
    assert scaler.loss_scale == 2 and scaler.skipped == 4 and scaler.steps == 9
    assert scaler.update(True) is True  # first overflow at the floor: skipped, within patience 1
    assert scaler.loss_scale == 2
    with pytest.raises(LossScaleFloorError, match=r"2 times in a row .* floor 2 "):
        scaler.update(True)


def test_a_clean_step_resets_the_overflows_counted_at_the_floor():
    scaler = DynamicScaler(init=1, interval=100, floor=1, patience=1)
    for _ in range(5):
        assert scaler.update(True) is True  # one overflow at the floor, then a clean step
        assert scaler.update(False) is False
    assert scaler.skipped == 5


def test_dynamic_stops_doubling_at_the_ceiling():
    scaler = DynamicScaler(init=4, interval=1, floor=1, ceiling=8)
    trace(scaler, [False] * 5)
    assert scaler.loss_scale == 8


def test_static_scale_never_changes_and_overflows_are_skipped_within_patience():
    scaler = StaticScaler(1024, patience=2)
    assert trace(scaler, [False, True, True, False, True]) == [
        (1024, False), (1024, True), (1024, True), (1024, False), (1024, True)]
    scaler.update(True)
    with pytest.raises(LossScaleFloorError, match="3 times in a row"):
        scaler.update(True)


def test_enhanced_floor_rises_on_schedule_and_lifts_the_scale():
    scaler = EnhancedScaler(floors=[(0, 2), (3, 8)], init=4, interval=100, patience=5)
    steps = trace(scaler, [True, True, False, True, False])
    assert steps == [
        (4, True),  # 4 -> 2 (floor 2)
        (2, True),  # at the floor: skipped, stays 2
        (2, False),  # clean; from step 3 on the floor is 8: the scale is lifted to 8
        (8, True),  # overflow at the new floor: skipped, stays 8
        (8, False),
    ]
    assert scaler.record() == {"scale": 8.0, "floor": 8.0}


def test_dynamic_scaling_would_have_dropped_where_enhanced_holds_its_floor():
    overflows = [True] * 6
    dynamic = DynamicScaler(init=2**10, interval=100, floor=1)
    enhanced = EnhancedScaler(floors=[(0, 2**8)], init=2**10, interval=100)
    trace(dynamic, overflows)
    trace(enhanced, overflows)
    assert dynamic.loss_scale == 2**4 and enhanced.loss_scale == 2**8


def test_state_dict_round_trip_continues_the_same_sequence():
    overflows = [False, True, False, False, True, False, False, False, True, False]
    whole = EnhancedScaler(floors=[(0, 2), (6, 16)], init=4, interval=2)
    trace(whole, overflows)
    first = EnhancedScaler(floors=[(0, 2), (6, 16)], init=4, interval=2)
    trace(first, overflows[:4])
    second = EnhancedScaler(floors=[(0, 2), (6, 16)], init=4, interval=2)
    second.load_state_dict(first.state_dict())
    trace(second, overflows[4:])
    assert second.state_dict() == whole.state_dict()
    with pytest.raises(ValueError, match="'enhanced' scaler's state cannot be loaded into a 'static'"):
        StaticScaler(2).load_state_dict(whole.state_dict())


def test_unscale_divides_gradients_and_reports_non_finite_ones():
    scaler = StaticScaler(4.0)
    p, q = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    p.grad, q.grad = torch.tensor([8.0, -2.0]), torch.tensor([1.0])
    assert scaler.unscale_([p, q]) is False
    assert p.grad.tolist() == [2.0, -0.5] and q.grad.tolist() == [0.25]
    q.grad = torch.tensor([float("inf")])
    assert scaler.unscale_([p, q]) is True
    assert scaler.scale_loss(torch.tensor(3.0)).item() == 12.0


def test_spellings_read_back_canonically():
    assert canonical_loss_scale(None) == "none"
    assert canonical_loss_scale("static:1024") == "static:2^10,patience=8"
    assert canonical_loss_scale("dynamic:init=1e3,interval=5") == \
        "dynamic:init=1000,interval=5,ceiling=2^32,patience=8,floor=2^0"
    spelled = canonical_loss_scale("enhanced:floors=0:256/1000:2^10,patience=0")
    assert spelled == "enhanced:floors=0:2^8/1000:2^10,init=2^16,interval=2000,ceiling=2^32,patience=0"
    assert canonical_loss_scale(spelled) == spelled
    scaler = build_scaler(parse_loss_scale(spelled))
    assert isinstance(scaler, EnhancedScaler) and scaler.floors == ((0, 256.0), (1000, 1024.0))


@pytest.mark.parametrize("text, message", [
    ("dyn", "unknown kind 'dyn'"),
    ("static", "static needs a scale"),
    ("static:0", "scale must be a finite number > 0"),
    ("static:-4", "scale must be a finite number > 0"),
    ("dynamic:foo=1", "dynamic takes keys init, interval, floor, ceiling, patience"),
    ("dynamic:init=2,init=4", "init given twice"),
    ("dynamic:interval=0", "interval must be an integer >= 1"),
    ("dynamic:interval=1.5", "interval must be an integer"),
    ("dynamic:init=1,floor=2", r"init must lie in \[floor, ceiling\]"),
    ("dynamic:init=abc", "init must be a number"),
    ("enhanced", "enhanced needs its floor schedule"),
    ("enhanced:floors=5:2", "the first floor must start at step 0"),
    ("enhanced:floors=0:4/10:2", "non-decreasing"),
    ("enhanced:floors=0-4", "STEP:FLOOR pairs"),
    ("none:3", "'none' takes no options"),
])
def test_bad_spellings_are_refused_naming_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_loss_scale(text)


@pytest.mark.parametrize("kind, formats, message", [
    ("static:8", {"E": "fp32"}, "E=fp32 nothing underflows"),
    ("dynamic", {"E": "bfp8"}, "block format"),
    ("static:8", {"E": "mxfp8_e5m2"}, "block format"),
    ("dynamic", {"E": "fixed(8,6)"}, "role E's format fixed\\(8,6\\) saturates"),
    ("enhanced:floors=0:2", {"E": "fp8_e5m2", "G": "fp4_e2m1"}, "role G's format fp4_e2m1 saturates"),
    ("dynamic", {"E": "float(4,3,style=fn,overflow=saturate)"}, "saturates instead"),
])
def test_loss_scaling_refused_with_formats_it_cannot_work_with(kind, formats, message):
    from swalp.lossscale.checks import check_loss_scaling
    from swalp.roles import role_specs

    specs = role_specs({"W": "fp8_e5m2", "A": "fp8_e5m2", "G": "fp8_e5m2", "M": "fp16"} | formats, "nearest")
    with pytest.raises(ValueError, match=message):
        check_loss_scaling(parse_loss_scale(kind), specs)


@pytest.mark.parametrize("kind, formats", [
    ("dynamic", {"E": "fp8_e5m2", "G": "fp8_e5m2"}),
    ("dynamic", {"E": "fp8_e4m3", "G": "fp32"}),  # E4M3 (fn) overflows to NaN
    ("static:64", {"E": "fixed(8,6)", "G": "fixed(8,6)"}),  # a static scale with saturating formats
    ("none", {"E": "bfp8"}),
])
def test_loss_scaling_accepted_where_it_works(kind, formats):
    from swalp.lossscale.checks import check_loss_scaling
    from swalp.roles import role_specs

    specs = role_specs({"W": "fp8_e5m2", "A": "fp8_e5m2", "M": "fp16"} | formats)
    check_loss_scaling(parse_loss_scale(kind), specs)
