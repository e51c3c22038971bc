"""The learning-rate policy abstraction: a pure function of the iteration, with a spelling.

A :class:`Policy` is a frozen dataclass whose fields are its parameters (LRBench's names:
``k0``, ``k1``, ``gamma``, ``p``, ``l``); calling it with an iteration ``t`` (an integer
>= 0: an optimizer step, or an epoch for policies counted in epochs) returns the learning
rate. It holds no state, so the same ``t`` always gives the same rate: a run resumed at any
step continues its schedule exactly (LRBench's NSTEP kept a step counter on the function
object; ours does not).

Every policy class registers under its upper-case ``NAME``; :func:`policy_class` finds it and
:meth:`Policy.spec` writes the spelling :func:`swalp.schedules.spec.parse_policy` reads.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

#: Policy classes by upper-case name (filled by :meth:`Policy.__init_subclass__`).
REGISTRY: dict[str, type[Policy]] = {}


def format_number(value: float) -> str:
    """Shortest spelling that reads back to the same float: ``100`` for 100.0, ``0.1``."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def format_value(value: Any) -> str:
    """A parameter value as written in a spec: a number, or ``[a,b,...]`` for a list."""
    if isinstance(value, tuple):
        return "[" + ",".join(format_number(v) for v in value) + "]"
    return format_number(value)


def check_iteration(t: Any) -> int:
    """``t`` as a Python int, or ValueError unless it is an integer >= 0."""
    if isinstance(t, bool) or not hasattr(t, "__index__"):
        raise ValueError(f"the iteration must be an integer >= 0, got {t!r}")
    t = t.__index__()
    if t < 0:
        raise ValueError(f"the iteration must be an integer >= 0, got {t}")
    return t


@dataclasses.dataclass(frozen=True)
class Policy(ABC):
    """A learning rate as a pure function of the iteration ``t`` (integer >= 0).

    Subclasses are frozen dataclasses: their fields are the parameters, checked by
    :meth:`check` on construction (a bad value raises ValueError naming the policy, the
    parameter and what it must be).
    """

    #: Upper-case name in specs (``COS``); set by each concrete class.
    NAME: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("NAME")
        if name:
            if name in REGISTRY:
                raise TypeError(f"policy name {name} is registered twice")
            REGISTRY[name] = cls

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:  # noqa: B027 (an optional hook: most policies override it)
        """Raise ValueError when a parameter is out of its range (default: nothing to check)."""

    @abstractmethod
    def value(self, t: int) -> float:
        """The learning rate at iteration ``t`` (already checked to be an int >= 0)."""

    def __call__(self, t: int) -> float:
        """Learning rate at iteration ``t``.

        Raises:
            ValueError: ``t`` is not an integer >= 0, or the rate is not finite there.
        """
        t = check_iteration(t)
        try:
            rate = float(self.value(t))
        except OverflowError:
            rate = math.inf
        if not math.isfinite(rate):
            raise ValueError(f"{self.spec()} has no finite learning rate at iteration {t} ({rate})")
        return rate

    def values(self, steps: int) -> list[float]:
        """Rates at iterations ``0 .. steps - 1``."""
        return [self(t) for t in range(steps)]

    def per_step(self, steps_per_epoch: int) -> Policy:
        """This policy as a function of the optimizer step: itself (policies count steps unless
        wrapped by :class:`~swalp.schedules.compose.PerEpoch`)."""
        return self

    def parameters(self) -> dict[str, Any]:
        """Parameter name -> value, the optional ones left out when unset (None)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def spec(self) -> str:
        """The spelling of this policy, e.g. ``COS(k0=0.001,k1=0.1,l=500)``."""
        args = ",".join(f"{k}={format_value(v)}" for k, v in self.parameters().items())
        return f"{self.NAME}({args})"

    def __str__(self) -> str:
        return self.spec()


def policy_class(name: str) -> type[Policy]:
    """The policy class registered as ``name`` (case-insensitive).

    Raises:
        ValueError: no such policy (the known names listed).
    """
    key = name.strip().upper()
    if key not in REGISTRY:
        raise ValueError(f"unknown learning-rate policy {name!r}; policies are {', '.join(REGISTRY)}")
    return REGISTRY[key]


def require(policy: Policy, name: str, ok: bool, expected: str) -> None:
    """ValueError naming ``policy``'s parameter ``name`` unless ``ok``."""
    if not ok:
        label = policy.NAME or type(policy).__name__
        raise ValueError(f"{label}: {name} must be {expected}, got {getattr(policy, name)!r}")


def is_number(value: Any) -> bool:
    """A real, finite number (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def require_rate(policy: Policy, *names: str) -> None:
    """Each named parameter is a learning rate: a finite number >= 0."""
    for name in names:
        value = getattr(policy, name)
        require(policy, name, is_number(value) and value >= 0, "a learning rate, a number >= 0")


def require_positive(policy: Policy, *names: str) -> None:
    """Each named parameter is a finite number > 0."""
    for name in names:
        value = getattr(policy, name)
        require(policy, name, is_number(value) and value > 0, "a number > 0")


def require_increasing(policy: Policy, name: str, values: Sequence[Any], *, first: int = 0) -> None:
    """``values`` is a non-empty, strictly increasing list of integers >= ``first``."""
    ok = (len(values) > 0 and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
          and values[0] >= first and all(a < b for a, b in itertools.pairwise(values)))
    require(policy, name, ok, f"a non-empty, strictly increasing list of integers >= {first}")


__all__ = ["REGISTRY", "Policy", "check_iteration", "format_number", "format_value", "policy_class"]
