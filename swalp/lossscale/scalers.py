"""Loss scalers: the interface and the static, dynamic and enhanced scalers.

A training step with a scaler (see :func:`swalp.lossscale.step.scaled_step`):

1. ``scaler.scale_loss(loss).backward()``: the errors flowing back are the loss's gradients
   times :attr:`LossScaler.loss_scale` (a per-layer scaler, :attr:`LossScaler.per_layer`,
   scales errors inside the backward pass instead; :meth:`LossScaler.attach` installs it);
2. the optimizer rounds the (scaled) weight gradients to role ``G``'s format;
3. ``overflow = scaler.unscale_(parameters)``: every gradient is divided by its scale in
   float32 and checked; ``overflow`` is True when one holds inf or NaN;
4. ``skip = scaler.update(overflow)``: the scaler's state machine; a skipped step leaves
   weights and optimizer state untouched.

State machines (one :meth:`update` per optimizer step, skipped or not):

* :class:`StaticScaler` (``static:S``): the scale is always ``S``. An overflowing step is
  skipped.
* :class:`DynamicScaler` (``dynamic``; Micikevicius et al. 2018, as torch's ``GradScaler``
  and apex): after ``interval`` consecutive clean steps the scale doubles (at most
  ``ceiling``); an overflowing step is skipped, the scale halves (not below ``floor``) and
  the count of clean steps restarts.
* :class:`EnhancedScaler` (``enhanced``; Mellempudi et al. 2019, "Mixed Precision Training
  With 8-bit Floating Point", arXiv:1905.12334, section "Enhanced loss scaling"): dynamic
  scaling whose floor is a schedule of steps, raised during training; the scale is lifted to
  the floor when the floor rises. The paper's point: FP8's narrow range makes the errors
  overflow now and then ("spurious" overflows), and plain dynamic scaling then drops the
  scale so far that the small errors underflow; a minimum threshold, raised as training goes
  on, keeps the scale high (also described so in Rodriguez, "Deep Learning Systems", 2020:
  "loss scaling with a dynamically increasing minimum threshold for the scaling factor ...
  ignores spurious overflows in order to maintain a higher loss scale value").

At the floor (a static scaler's scale is its floor), an overflow still skips the step; more
than ``patience`` consecutive overflowing steps at the floor raise
:class:`LossScaleFloorError`: the scale cannot go lower, so the run stops (the training loop
names the step and the layer, and keeps the last good checkpoint).
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from swalp.quantizer import NonFiniteError

#: Consecutive overflowing steps tolerated at the floor before the run stops.
DEFAULT_PATIENCE = 8


class LossScaleFloorError(NonFiniteError):
    """The errors keep overflowing with the loss scale at its floor: the run cannot go on."""


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _count(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def check_patience(patience: int) -> int:
    """``patience`` (overflowing steps tolerated at the floor), or ValueError."""
    return _count("patience", patience, 0)


class LossScaler(ABC):
    """Interface of a loss scaler (see the module docstring).

    Subclasses set :attr:`kind` and implement :attr:`loss_scale`, :meth:`update`,
    :meth:`state_dict` and :meth:`load_state_dict`; a per-layer scaler also overrides
    :meth:`attach` (install its backward hooks), :meth:`gradient_scale` (the scale each
    parameter's gradient carries) and may override :meth:`scale_loss`.

    Attributes:
        kind: the spelling's name (``static``, ``dynamic``, ...).
        per_layer: True for scalers that scale errors per layer inside the backward pass.
        steps: :meth:`update` calls so far (optimizer steps, skipped ones included).
        skipped: steps skipped so far.
    """

    kind = "abstract"
    per_layer = False

    def __init__(self, patience: int = DEFAULT_PATIENCE) -> None:
        self.patience = check_patience(patience)
        self.steps = 0
        self.skipped = 0
        self.floor_overflows = 0  # consecutive overflowing steps at the floor

    @property
    @abstractmethod
    def loss_scale(self) -> float:
        """The factor the loss is multiplied by before the backward pass."""

    @property
    @abstractmethod
    def at_floor(self) -> bool:
        """True when the scale cannot be lowered."""

    def attach(self, model: nn.Module) -> None:  # noqa: B027 (optional hook: nothing by default)
        """Install what the scaler needs inside ``model``'s backward pass (nothing for a loss scaler)."""

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` times :attr:`loss_scale`."""
        return loss * self.loss_scale

    def gradient_scale(self, parameter: torch.Tensor) -> float:
        """The scale ``parameter``'s gradient carries after the backward pass."""
        return self.loss_scale

    @torch.no_grad()
    def unscale_(self, parameters: Iterable[torch.Tensor]) -> bool:
        """Divide every gradient by its :meth:`gradient_scale` (float32, in place); True when
        a gradient holds inf or NaN (the step overflowed)."""
        finite = None
        for p in parameters:
            if p.grad is None:
                continue
            scale = self.gradient_scale(p)
            if scale != 1.0:
                p.grad.mul_(1.0 / scale)
            ok = torch.isfinite(p.grad).all()
            finite = ok if finite is None else finite & ok
        return finite is not None and not bool(finite)

    def update(self, overflow: bool) -> bool:
        """Advance the state machine after one step; returns True when the step is skipped.

        Raises:
            LossScaleFloorError: more than ``patience`` consecutive overflows at the floor.
        """
        at_floor = self.at_floor
        self.steps += 1
        if not overflow:
            self.floor_overflows = 0
            self._clean()
            return False
        self.skipped += 1
        if at_floor:
            self.floor_overflows += 1
            if self.floor_overflows > self.patience:
                raise LossScaleFloorError(
                    f"the step overflowed (inf/NaN gradients) {self.floor_overflows} times in a row with "
                    f"the loss scale at its floor {self.loss_scale:g} (patience {self.patience}): lower the "
                    "floor or the scale")
        else:
            self.floor_overflows = 0
        self._overflow()
        return True

    def _clean(self) -> None:  # noqa: B027 (optional hook: nothing by default)
        """State change after a clean step."""

    def _overflow(self) -> None:  # noqa: B027 (optional hook: nothing by default)
        """State change after an overflowing step."""

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "steps": self.steps, "skipped": self.skipped,
                "floor_overflows": self.floor_overflows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"a {state.get('kind')!r} scaler's state cannot be loaded into a {self.kind!r} "
                             "scaler")
        self.steps, self.skipped = int(state["steps"]), int(state["skipped"])
        self.floor_overflows = int(state["floor_overflows"])

    def record(self) -> dict[str, float]:
        """What the run's history keeps of the scaler at a step: its scale."""
        return {"scale": self.loss_scale}


class StaticScaler(LossScaler):
    """A constant loss scale ``scale`` (> 0); overflowing steps are skipped."""

    kind = "static"

    def __init__(self, scale: float, patience: int = DEFAULT_PATIENCE) -> None:
        super().__init__(patience)
        self.scale = _positive("scale", scale)

    @property
    def loss_scale(self) -> float:
        return self.scale

    @property
    def at_floor(self) -> bool:
        return True


class DynamicScaler(LossScaler):
    """Dynamic loss scaling: double after ``interval`` clean steps, halve on overflow.

    Args:
        init: first scale.
        interval: consecutive clean steps before the scale doubles.
        floor: lowest scale (halving stops there).
        ceiling: highest scale (doubling stops there).
        patience: consecutive overflows tolerated at the floor.
    """

    kind = "dynamic"

    def __init__(self, init: float = 2.0**16, interval: int = 2000, floor: float = 1.0,
                 ceiling: float = 2.0**32, patience: int = DEFAULT_PATIENCE) -> None:
        super().__init__(patience)
        self.scale = _positive("init", init)
        self.interval = _count("interval", interval, 1)
        self.floor = _positive("floor", floor)
        self.ceiling = _positive("ceiling", ceiling)
        if not self.floor <= self.scale <= self.ceiling:
            raise ValueError(f"init must lie in [floor, ceiling] = [{self.floor:g}, {self.ceiling:g}], "
                             f"got {self.scale:g}")
        self.clean_steps = 0

    @property
    def loss_scale(self) -> float:
        return self.scale

    @property
    def at_floor(self) -> bool:
        return self.scale <= self.current_floor()

    def current_floor(self) -> float:
        """The lowest scale allowed now."""
        return self.floor

    def _clean(self) -> None:
        self.clean_steps += 1
        if self.clean_steps >= self.interval:
            self.scale = min(self.scale * 2.0, self.ceiling)
            self.clean_steps = 0

    def _overflow(self) -> None:
        self.scale = max(self.scale / 2.0, self.current_floor())
        self.clean_steps = 0

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"scale": self.scale, "clean_steps": self.clean_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.scale, self.clean_steps = float(state["scale"]), int(state["clean_steps"])


class EnhancedScaler(DynamicScaler):
    """Dynamic loss scaling with a floor raised on a schedule (Mellempudi et al. 2019).

    Args:
        floors: ``(step, floor)`` pairs, steps increasing from 0, floors non-decreasing: from
            optimizer step ``step`` (0-based, skipped steps counted) on, the scale is never
            below ``floor``; when the floor rises above the scale, the scale is lifted to it.
        init, interval, ceiling, patience: as :class:`DynamicScaler`.
    """

    kind = "enhanced"

    def __init__(self, floors: Sequence[tuple[int, float]], init: float = 2.0**16, interval: int = 2000,
                 ceiling: float = 2.0**32, patience: int = DEFAULT_PATIENCE) -> None:
        self.floors = _check_floors(floors)
        super().__init__(init=init, interval=interval, floor=self.floors[0][1], ceiling=ceiling,
                         patience=patience)
        if self.floors[-1][1] > self.ceiling:
            raise ValueError(f"floors must not exceed ceiling {self.ceiling:g}, got {self.floors[-1][1]:g}")

    def current_floor(self) -> float:
        """The floor in force at step :attr:`steps`."""
        return max(floor for step, floor in self.floors if step <= self.steps)

    def update(self, overflow: bool) -> bool:
        skip = super().update(overflow)
        self.scale = max(self.scale, self.current_floor())  # the next step's floor may have risen
        return skip

    def record(self) -> dict[str, float]:
        return {"scale": self.loss_scale, "floor": self.current_floor()}


def _check_floors(floors: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    pairs = tuple(floors)
    if not pairs:
        raise ValueError("floors must name at least one (step, floor) pair, the first at step 0")
    checked = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"floors[{i}] must be a (step, floor) pair, got {pair!r}")
        checked.append((_count(f"floors[{i}] step", pair[0], 0), _positive(f"floors[{i}] floor", pair[1])))
    if checked[0][0] != 0:
        raise ValueError(f"the first floor must start at step 0, got step {checked[0][0]}")
    for (s0, f0), (s1, f1) in itertools.pairwise(checked):
        if s1 <= s0 or f1 < f0:
            raise ValueError(f"floors must have increasing steps and non-decreasing values; got {s0}:{f0:g} "
                             f"then {s1}:{f1:g}")
    return tuple(checked)
