"""SWALP's schedules as policies, composition, the spec spelling and its errors."""

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swalp.schedules import REGISTRY, WARMUP, Piecewise, Schedule, compose, parse_policy
from swalp.schedules.lrbench import COS, FIX, NSTEP
from swalp.schedules.swa import CSWA, SWALP


def test_swalp_policy_is_the_paper_schedule():
    policy = parse_policy("SWALP(lr=0.1,epochs=20,steps_per_epoch=5,swa_start=10,swa_lr=0.02)")
    assert policy(35) == pytest.approx(0.1 * (1 - 0.99 * 0.2 / 0.4))  # epoch 7: half-way down
    assert policy(49) == pytest.approx(0.001) and policy(50) == pytest.approx(0.02)
    schedule = Schedule(0.1, 20, 5, 10, 0.02)
    assert [policy(t) for t in range(100)] == [schedule.lr_at(t) for t in range(100)]
    assert parse_policy("SWALP(lr=0.1,epochs=10)")(9) == pytest.approx(0.001)  # plain SGD: 1% at the end


def test_cyclic_swa_falls_to_k0_at_the_last_step_of_each_cycle():
    cswa = CSWA(k0=0.01, k1=0.04, l=4)
    assert [cswa(t) for t in range(8)] == pytest.approx([0.0325, 0.025, 0.0175, 0.01] * 2)


def test_paper_schedule_with_cyclic_swa_equals_swalp_then_cswa():
    paper = Schedule(0.1, 6, 4, swa_start=3, swa_lr=0.04, cycle=3, cyclic_min=0.01)
    composed = Piecewise((SWALP(0.1, 6, 4, swa_start=3, swa_lr=0.04), CSWA(0.01, 0.04, 3)), (0, 12))
    assert [composed(t) for t in range(24)] == pytest.approx([paper.lr_at(t) for t in range(24)])


def test_warmup_then_policy_then_constant_averaging_rate():
    policy = compose(COS(k0=0.001, k1=0.1, l=10), warmup_steps=5, average_from=15, average_lr=0.01)
    assert policy(0) == 0.0 and policy(1) == pytest.approx(0.02) and policy(5) == pytest.approx(0.1)
    assert policy(10) == pytest.approx(0.001 + 0.099 / 2)  # COS at its own t = 5
    assert policy(15) == 0.01 and policy(10_000) == 0.01
    assert policy.spec() == "WARMUP(k0=0,k1=0.1,l=5) @5 COS(k0=0.001,k1=0.1,l=10) @15 FIX(k0=0.01)"
    assert compose(FIX(0.1)) == FIX(0.1)
    with pytest.raises(ValueError, match="average_from"):
        compose(FIX(0.1), warmup_steps=10, average_from=5, average_lr=0.01)


def test_warmup_ramps_linearly_then_holds():
    assert [WARMUP(0, 0.1, 4)(t) for t in (1, 4, 10)] == pytest.approx([0.025, 0.1, 0.1])


def test_pieces_restart_their_counter_where_they_begin():
    policy = parse_policy("FIX(k0=0.1) @10 NSTEP(k0=0.05,gamma=0.1,l=[5])")
    assert [policy(t) for t in (9, 10, 14, 15)] == pytest.approx([0.1, 0.05, 0.05, 0.005])


def test_epoch_unit_gives_every_step_of_an_epoch_the_epoch_rate():
    policy = parse_policy("epoch: NSTEP(k0=0.1, gamma=0.1, l=[3,5])")
    assert policy.spec() == "epoch:NSTEP(k0=0.1,gamma=0.1,l=[3,5])"
    per_step = policy.per_step(10)
    assert [per_step(t) for t in (0, 29, 30, 49, 50)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    assert FIX(0.1).per_step(10) == FIX(0.1)


EXAMPLES = [
    "COS(k0=0.001,k1=0.1,l=500)", "NSTEP(k0=0.1,gamma=0.1,l=[300,450])", "epoch:TRI(k0=0.01,k1=0.1,l=5)",
    "WARMUP(k0=0,k1=0.1,l=50) @50 COS(k0=0.001,k1=0.1,l=450) @500 FIX(k0=0.01)",
    "SWALP(lr=0.05,epochs=20,steps_per_epoch=63,swa_start=12,swa_lr=0.01)",
    "TRIEXP(k0=0.05,k1=0.3,l=100,gamma=0.99)",
    "INV(k0=0.1,gamma=0.0001,p=0.75)", "SIG(k0=0.1,gamma=-0.5,l=30)", "CSWA(k0=0.001,k1=0.01,l=63)",
]


@pytest.mark.parametrize("spec", EXAMPLES)
def test_spec_round_trips(spec):
    policy = parse_policy(spec)
    assert policy.spec() == spec
    assert parse_policy(policy.spec()) == policy


RATES = st.floats(0, 10, allow_nan=False).map(lambda v: float(f"{v:.6g}"))


@given(name=st.sampled_from(sorted(set(REGISTRY) - {"NSTEP", "SWALP", "SIG"})), k0=RATES, k1=RATES,
       l=st.integers(1, 10_000), gamma=st.floats(0.001, 1.0), p=st.floats(0, 4), t=st.integers(0, 10**6))
def test_any_policy_round_trips_and_is_finite_and_non_negative(name, k0, k1, l, gamma, p, t):
    cls = REGISTRY[name]
    values = {"k0": k0, "k1": k1, "l": l, "gamma": gamma, "p": p}
    policy = cls(**{f.name: values[f.name] for f in dataclasses.fields(cls)})
    assert parse_policy(policy.spec()) == policy
    rate = policy(t)
    assert math.isfinite(rate) and rate >= 0
    assert policy(t) == rate  # pure: the same iteration, the same rate


@pytest.mark.parametrize(("spec", "message"), [
    ("", "non-empty"),
    ("ZIGZAG(k0=1)", "unknown learning-rate policy 'ZIGZAG'"),
    ("COS(k0=0.1,k1=0.2)", r"COS: missing parameter\(s\) l"),
    ("COS(k0=0.1,k1=0.2,l=10,gamma=0.5)", "COS: unknown parameter 'gamma'"),
    ("COS(k0=0.1,k0=0.2,k1=0.3,l=1)", "given twice"),
    ("FIX(k0=-0.1)", "FIX: k0 must be a learning rate"),
    ("STEP(k0=0.1,gamma=0.5,l=0)", "STEP: l must be a number > 0"),
    ("NSTEP(k0=0.1,gamma=0.1,l=[450,300])", "NSTEP: l must be a non-empty, strictly increasing"),
    ("NSTEP(k0=0.1,gamma=0.1,l=300)", "NSTEP: l must be a list"),
    ("TRI(k0=0.1,k1=abc,l=3)", "TRI: k1: 'abc' is not a number"),
    ("month:FIX(k0=0.1)", "unknown unit 'month'"),
    ("FIX(k0=0.1) @0 FIX(k0=0.2)", "piece starts must increase"),
    ("FIX(k0=0.1) @20 FIX(k0=0.2) @10 FIX(k0=0.3)", "piece starts must increase"),
    ("FIX(k0=0.1) @FIX(k0=0.2)", "after '@' expected a start iteration"),
    ("COS k0=1", "cannot read policy"),
    ("SWALP(lr=0.1,epochs=10,swa_start=10,swa_lr=0.01)", "SWALP: swa_start must be in"),
])
def test_bad_specs_are_refused_with_the_reason(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_policy(spec)


def test_bad_iterations_and_infinite_rates_are_refused():
    with pytest.raises(ValueError, match="integer >= 0"):
        FIX(0.1)(-1)
    with pytest.raises(ValueError, match="integer >= 0"):
        FIX(0.1)(1.5)
    with pytest.raises(ValueError, match=r"EXP\(k0=0.1,gamma=2\) has no finite learning rate at iteration"):
        parse_policy("EXP(k0=0.1,gamma=2)")(5000)


def test_nstep_accepts_a_python_list():
    assert NSTEP(0.1, 0.1, [3, 5]) == NSTEP(0.1, 0.1, (3, 5))
