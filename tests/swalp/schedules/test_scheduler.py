"""PolicyLR: a policy as a torch LR scheduler, resumable from its state."""

import pytest
import torch

from swalp.schedules import PolicyLR, parse_policy


def _optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=123.0)


def _rates(scheduler, steps):
    rates = []
    for _ in range(steps):
        rates.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return rates


def test_scheduler_sets_the_policy_rate_of_each_step():
    policy = parse_policy("TRIEXP(k0=0.01,k1=0.1,l=5,gamma=0.95)")
    scheduler = PolicyLR(_optimizer(), policy)
    assert _rates(scheduler, 30) == pytest.approx([policy(t) for t in range(30)])


def test_resumed_scheduler_continues_exactly(tmp_path):
    spec = "WARMUP(k0=0,k1=0.1,l=5) @5 NSTEP(k0=0.1,gamma=0.1,l=[7,12])"
    straight = _rates(PolicyLR(_optimizer(), spec), 25)
    first = PolicyLR(_optimizer(), spec)
    head = _rates(first, 10)
    torch.save(first.state_dict(), tmp_path / "sched.pt")
    second = PolicyLR(_optimizer(), spec)
    second.load_state_dict(torch.load(tmp_path / "sched.pt"))
    assert head + _rates(second, 15) == straight


def test_state_of_another_policy_is_refused():
    state = PolicyLR(_optimizer(), "FIX(k0=0.1)").state_dict()
    with pytest.raises(ValueError, match=r"follows FIX\(k0=0.2\)"):
        PolicyLR(_optimizer(), "FIX(k0=0.2)").load_state_dict(state)


def test_epoch_policy_stepped_every_optimizer_step():
    scheduler = PolicyLR(_optimizer(), "epoch:STEP(k0=0.1,gamma=0.5,l=1)", steps_per_epoch=3)
    assert _rates(scheduler, 7) == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])
