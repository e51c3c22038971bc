"""The SWALP paper's learning-rate schedule and the averaging points."""

import pytest

from swalp.schedules import Schedule


def lr_of_epoch(schedule, epoch):
    return schedule.lr_at(epoch * schedule.steps_per_epoch)


def test_averaging_schedule_key_epochs():
    s = Schedule(lr=0.1, epochs=20, steps_per_epoch=5, swa_start=10, swa_lr=0.02)
    assert lr_of_epoch(s, 0) == 0.1
    assert lr_of_epoch(s, 5) == 0.1  # t = 0.5: still the initial rate
    assert lr_of_epoch(s, 7) == pytest.approx(0.1 * (1 - 0.99 * 0.2 / 0.4))  # t = 0.7: half-way down
    assert lr_of_epoch(s, 9) == pytest.approx(0.001)  # t = 0.9: 1% of lr, held
    assert lr_of_epoch(s, 10) == 0.02 and lr_of_epoch(s, 19) == 0.02  # swa_lr from swa_start
    # the rate is set per epoch: every step of an epoch has the epoch's rate
    assert s.lr_at(7 * 5 + 4) == lr_of_epoch(s, 7)


def test_plain_sgd_decays_over_the_whole_budget_and_never_averages():
    s = Schedule(lr=0.1, epochs=10, steps_per_epoch=3)
    assert lr_of_epoch(s, 5) == 0.1
    assert lr_of_epoch(s, 9) == pytest.approx(0.001)
    assert not any(s.average_after(step) for step in range(30))


def test_constant_schedule():
    s = Schedule(lr=0.1, epochs=10, steps_per_epoch=3, swa_start=4, swa_lr=0.05, decay=False)
    assert [lr_of_epoch(s, e) for e in (0, 3, 4, 9)] == [0.1, 0.1, 0.05, 0.05]


def test_averages_once_per_epoch_at_its_end_by_default_or_every_cycle_steps():
    s = Schedule(lr=0.1, epochs=6, steps_per_epoch=4, swa_start=3, swa_lr=0.01)
    assert [step for step in range(24) if s.average_after(step)] == [15, 19, 23]
    c = Schedule(lr=0.1, epochs=6, steps_per_epoch=4, swa_start=3, swa_lr=0.01, cycle=2)
    assert [step for step in range(24) if c.average_after(step)] == [13, 15, 17, 19, 21, 23]


def test_cyclic_rate_falls_from_swa_lr_to_the_minimum_at_each_average():
    s = Schedule(lr=0.1, epochs=4, steps_per_epoch=4, swa_start=2, swa_lr=0.04, cycle=4, cyclic_min=0.01)
    rates = [s.lr_at(step) for step in range(8, 16)]
    assert rates[:4] == pytest.approx([0.0325, 0.025, 0.0175, 0.01])
    assert rates[4:] == rates[:4]
    assert s.average_after(11) and s.lr_at(11) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"swa_start": 10, "swa_lr": 0.01}, "swa_start must be in"),
        ({"swa_start": 5}, "swa_lr must be > 0"),
        ({"lr": 0}, "lr must be > 0"),
        ({"swa_start": 5, "swa_lr": 0.01, "cycle": 0}, "cycle must be"),
    ],
)
def test_bad_schedules(kwargs, message):
    args = {"lr": 0.1, "epochs": 10, "steps_per_epoch": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        Schedule(**args)
