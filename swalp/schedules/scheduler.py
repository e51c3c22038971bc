"""A policy as a torch learning-rate scheduler.

:class:`PolicyLR` sets every parameter group's rate to ``policy(t)``, ``t`` the number of
``scheduler.step()`` calls so far (call it once per optimizer step, or once per epoch for an
epoch-counted policy). Its state is that count alone, since the policy is a pure function:
``load_state_dict`` resumes exactly, and refuses the state of another policy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from swalp.schedules.policy import Policy
from swalp.schedules.spec import parse_policy


class PolicyLR(LRScheduler):
    """Learning rate ``policy(t)`` for every parameter group (absolute, not a factor of the
    group's initial rate).

    Args:
        optimizer: the optimizer whose groups' ``lr`` is set.
        policy: a :class:`Policy` or a spec (:func:`~swalp.schedules.spec.parse_policy`).
        steps_per_epoch: for an ``epoch:`` policy, step the scheduler every optimizer step and
            let each epoch's steps share its rate (None: ``t`` is whatever you count).
        last_epoch: the last count done (-1: start at 0), as torch's schedulers.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, policy: Policy | str, *,
                 steps_per_epoch: int | None = None, last_epoch: int = -1) -> None:
        policy = parse_policy(policy) if isinstance(policy, str) else policy
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a Policy or a spec string, got {type(policy).__name__}")
        self.spec = policy.spec()
        self.policy = policy.per_step(steps_per_epoch) if steps_per_epoch is not None else policy
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        rate = self.policy(max(self.last_epoch, 0))
        return [rate for _ in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def state_dict(self) -> dict[str, Any]:
        """The count and the policy's spelling (the policy itself is rebuilt, not pickled)."""
        return {"last_epoch": self.last_epoch, "spec": self.spec, "_last_lr": self._last_lr}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`.

        Raises:
            ValueError: the state belongs to a different policy.
        """
        if state_dict.get("spec") != self.spec:
            theirs = state_dict.get("spec")
            raise ValueError(f"this scheduler follows {self.spec}; the state is of {theirs!r}")
        self.last_epoch = int(state_dict["last_epoch"])
        self._last_lr = list(state_dict["_last_lr"])
        for group, rate in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = rate


__all__ = ["PolicyLR"]
