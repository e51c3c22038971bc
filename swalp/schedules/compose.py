"""Composing policies: warm-up, pieces that follow each other, and epoch-wise evaluation.

* :class:`WARMUP`: linear ramp from ``k0`` to ``k1`` over ``l`` iterations, then ``k1``.
* :class:`Piecewise`: policy ``i`` from iteration ``starts[i]`` on, its own counter restarted
  there (``t - starts[i]``), as LRBench's ``piecewiseLR`` (``LRBench/lr/piecewiseLR.py``), but
  pure: the piece is found from ``t``, not from a counter advanced by earlier calls.
* :class:`PerEpoch`: a policy whose iteration counts epochs; :meth:`Policy.per_step` turns it
  into a function of the optimizer step (every step of an epoch gets the epoch's rate), as
  LRBench's PyTorch and Keras examples set the rate once per epoch.
* :func:`compose`: warm-up, then a policy, then a constant averaging rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from swalp.schedules.lrbench import FIX, Amplitude
from swalp.schedules.policy import Policy, require, require_increasing


class WARMUP(Amplitude):
    """Linear warm-up: ``k0 + (k1 - k0) * min(t, l) / l`` (``k0`` at ``t = 0``, ``k1`` from
    ``t = l`` on)."""

    NAME = "WARMUP"

    def shape(self, t: int) -> float:
        return min(t, self.l) / self.l


@dataclasses.dataclass(frozen=True)
class Piecewise(Policy):
    """``policies[i](t - starts[i])`` for ``starts[i] <= t < starts[i + 1]``; ``starts[0]`` is 0.

    Spelled ``A @S1 B @S2 C`` (policy ``B`` from iteration ``S1``, ``C`` from ``S2``).
    """

    policies: tuple[Policy, ...]
    starts: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        object.__setattr__(self, "starts", tuple(self.starts))
        super().__post_init__()

    def check(self) -> None:
        plain = all(isinstance(p, Policy) for p in self.policies)
        require(self, "policies", len(self.policies) >= 1 and plain, "a non-empty list of policies")
        require(self, "starts", len(self.starts) == len(self.policies), "one start per policy")
        require_increasing(self, "starts", self.starts)
        require(self, "starts", self.starts[0] == 0, "a list beginning at 0")
        require(self, "policies", not any(isinstance(p, (Piecewise, PerEpoch)) for p in self.policies),
                "plain policies (no nested pieces or units)")

    def value(self, t: int) -> float:
        index = sum(1 for start in self.starts if t >= start) - 1
        return self.policies[index](t - self.starts[index])

    def spec(self) -> str:
        text = self.policies[0].spec()
        for start, policy in zip(self.starts[1:], self.policies[1:], strict=True):
            text += f" @{start} {policy.spec()}"
        return text


@dataclasses.dataclass(frozen=True)
class PerEpoch(Policy):
    """``policy`` counted in epochs: ``PerEpoch(p)(e) == p(e)``, and :meth:`per_step` gives
    ``step -> p(step // steps_per_epoch)``. Spelled with the prefix ``epoch:``."""

    policy: Policy

    def check(self) -> None:
        require(self, "policy", isinstance(self.policy, Policy) and not isinstance(self.policy, PerEpoch),
                "a policy counted in epochs")

    def value(self, t: int) -> float:
        return self.policy(t)

    def per_step(self, steps_per_epoch: int) -> Policy:
        return EpochSteps(self.policy, steps_per_epoch)

    def spec(self) -> str:
        return f"epoch:{self.policy.spec()}"


@dataclasses.dataclass(frozen=True)
class EpochSteps(Policy):
    """``policy(step // steps_per_epoch)``: an epoch-counted policy evaluated at optimizer steps."""

    policy: Policy
    steps_per_epoch: int

    def check(self) -> None:
        spe = self.steps_per_epoch
        require(self, "steps_per_epoch", isinstance(spe, int) and not isinstance(spe, bool) and spe >= 1,
                "an integer >= 1")

    def value(self, t: int) -> float:
        return self.policy(t // self.steps_per_epoch)

    def spec(self) -> str:
        return f"epoch:{self.policy.spec()} (x{self.steps_per_epoch} steps)"


def compose(policy: Policy, *, warmup_steps: int = 0, warmup_from: float = 0.0,
            average_from: int | None = None, average_lr: float | None = None) -> Policy:
    """Warm-up, then ``policy``, then a constant averaging rate.

    Args:
        policy: the main policy; its counter starts at 0 when the warm-up ends.
        warmup_steps: iterations of linear warm-up from ``warmup_from`` to ``policy(0)``
            (0: none).
        warmup_from: the rate at iteration 0.
        average_from: iteration where the constant ``average_lr`` begins (None: never), counted
            from the start of the whole schedule; must lie after the warm-up.
        average_lr: the averaging rate (SWA's ``swa_lr``).

    Returns:
        ``policy`` itself when nothing is added, else a :class:`Piecewise`.
    """
    policies: list[Policy] = []
    starts: list[int] = []
    if warmup_steps:
        policies.append(WARMUP(warmup_from, policy(0), warmup_steps))
        starts.append(0)
    policies.append(policy)
    starts.append(warmup_steps)
    if average_from is not None:
        if average_lr is None:
            raise ValueError("average_lr must be given with average_from")
        if average_from <= warmup_steps:
            raise ValueError(f"average_from ({average_from}) must come after the warm-up "
                             f"({warmup_steps} steps)")
        policies.append(FIX(average_lr))
        starts.append(average_from)
    if len(policies) == 1:
        return policy
    return Piecewise(tuple(policies), tuple(starts))


def pieces(policies: Sequence[Policy], starts: Sequence[int]) -> Policy:
    """One policy, or a :class:`Piecewise` of several (``starts[0]`` must be 0)."""
    if len(policies) == 1 and list(starts) == [0]:
        return policies[0]
    return Piecewise(tuple(policies), tuple(starts))


__all__ = ["WARMUP", "EpochSteps", "PerEpoch", "Piecewise", "compose", "pieces"]
