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


def test_averages_from_the_end_of_epoch_swa_start_minus_1_once_per_epoch_or_every_cycle_steps():
    # both reference codes average when epoch + 1 >= swa_start (stevenygd/SWALP train.py,
    # timgaripov/swa train.py): the first iterate is the last of epoch swa_start - 1
    s = Schedule(lr=0.1, epochs=6, steps_per_epoch=4, swa_start=3, swa_lr=0.01)
    assert [step for step in range(24) if s.average_after(step)] == [11, 15, 19, 23]
    c = Schedule(lr=0.1, epochs=6, steps_per_epoch=4, swa_start=3, swa_lr=0.01, cycle=2)
    assert [step for step in range(24) if c.average_after(step)] == [11, 13, 15, 17, 19, 21, 23]


@pytest.mark.parametrize(("epochs", "swa_start", "iterates"),
                         [(300, 200, 101), (300, 161, 140), (225, 150, 76)])
def test_a_run_averages_epochs_minus_swa_start_plus_one_iterates(epochs, swa_start, iterates):
    s = Schedule(lr=0.05, epochs=epochs, steps_per_epoch=3, swa_start=swa_start, swa_lr=0.01)
    assert sum(s.average_after(step) for step in range(epochs * 3)) == iterates


def test_swalp_code_schedule_values_vgg16():
    # stevenygd/SWALP exp/block_vgg_swa.sh: lr 0.05, swa_start 200, swa_lr 0.01, 300 epochs;
    # train.py schedule: t = epoch / swa_start, 1 to t = 0.5, linear to 0.01 at t = 0.9, swa_lr from t = 1
    s = Schedule(lr=0.05, epochs=300, steps_per_epoch=1, swa_start=200, swa_lr=0.01)
    expected = {0: 0.05, 100: 0.05, 101: 0.05 * (1 - 0.99 * 0.005 / 0.4), 140: 0.05 * (1 - 0.99 * 0.5),
                180: 0.0005, 199: 0.0005, 200: 0.01, 299: 0.01}
    assert {e: lr_of_epoch(s, e) for e in expected} == pytest.approx(expected, rel=1e-12)


def test_sgd_schedule_of_both_codes_vgg16_200_epochs():
    # the SWALP run's first swa_start = 200 epochs, and timgaripov/swa's SGD (t = epoch / epochs, to 1%)
    s = Schedule(lr=0.05, epochs=200, steps_per_epoch=1)
    expected = {0: 0.05, 100: 0.05, 150: 0.05 * (1 - 0.99 * 0.25 / 0.4), 180: 0.0005, 199: 0.0005}
    assert {e: lr_of_epoch(s, e) for e in expected} == pytest.approx(expected, rel=1e-12)
    swalp = Schedule(lr=0.05, epochs=300, steps_per_epoch=1, swa_start=200, swa_lr=0.01)
    assert [lr_of_epoch(s, e) for e in range(200)] == [lr_of_epoch(swalp, e) for e in range(200)]


def test_swa_code_schedule_values_vgg16_decays_to_swa_lr():
    # timgaripov/swa README (VGG16 SWA: --epochs=300 --lr_init=0.05 --swa_start=161 --swa_lr=0.01);
    # train.py schedule: t = epoch / swa_start, 1 to t = 0.5, linear to swa_lr / lr at t = 0.9, held
    s = Schedule(lr=0.05, epochs=300, steps_per_epoch=1, swa_start=161, swa_lr=0.01, decay_to_swa_lr=True)
    t = 120 / 161
    expected = {0: 0.05, 80: 0.05, 120: 0.05 * (1 - 0.8 * (t - 0.5) / 0.4), 145: 0.01, 160: 0.01, 161: 0.01,
                299: 0.01}
    assert {e: lr_of_epoch(s, e) for e in expected} == pytest.approx(expected, rel=1e-12)
    assert next(e for e in range(300) if s.average_after(e)) == 160  # (epoch + 1) >= 161


def test_preresnet164_schedules():
    # stevenygd/SWALP exp/block_resnet_swa.sh: lr 0.1, swa_start 150, swa_lr 0.01, 225 epochs
    s = Schedule(lr=0.1, epochs=225, steps_per_epoch=1, swa_start=150, swa_lr=0.01)
    expected = {75: 0.1, 105: 0.1 * (1 - 0.99 * 0.2 / 0.4), 135: 0.001, 149: 0.001, 150: 0.01, 224: 0.01}
    assert {e: lr_of_epoch(s, e) for e in expected} == pytest.approx(expected, rel=1e-12)


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
