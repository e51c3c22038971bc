"""``LowPrecisionSGD``: torch SGD whose gradients, state and weights are low precision.

One step, as the SWALP paper's code (and QPyTorch's ``OptimLP``):

1. quantize every gradient with role ``G`` (parameters stacked into as few
   :func:`~swalp.quantizer.quantize_tensors` calls as their blocks allow);
2. run ``torch.optim.SGD.step`` (momentum, dampening, weight decay, nesterov), against the
   higher-precision weight accumulator when one is used;
3. quantize the accumulator (role ``M``'s rounding, ``accumulator`` format), then the
   weights (role ``W``) and the momentum buffers (role ``M``), together where their formats
   and roundings agree.

After every step every weight and momentum element is representable in its format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from swalp.quantizer import RandomStream, quantize_tensors
from swalp.roles import RoleSpec, check_role


class LowPrecisionSGD(torch.optim.SGD):
    """SGD with quantized gradients (G), weights (W) and momentum (M).

    Args:
        params: parameters or parameter groups, as for ``torch.optim.SGD``.
        specs: role -> :class:`RoleSpec` for at least ``W``, ``G`` and ``M``.
        stream: random stream for stochastic rounding (shared with the model's quantizers).
        lr, momentum, dampening, weight_decay, nesterov: as ``torch.optim.SGD`` (lr in
            weight units per gradient unit).
        accumulator: format spelling of a weight accumulator, or None for none. With one,
            the update is applied to a copy of the weights kept in that format (``fp32``: full
            precision) and the weights are that accumulator quantized to ``W``.
    """

    def __init__(
        self,
        params: Iterable,
        specs: Mapping[str, RoleSpec],
        stream: RandomStream,
        lr: float = 0.1,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        accumulator: str | None = None,
    ) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, foreach=False)
        for role in ("W", "G", "M"):
            if role not in specs:
                raise ValueError(f"specs must give role {role}; got roles {sorted(specs)}")
            if specs[role].role != check_role(role):
                raise ValueError(f"specs[{role!r}] is a spec of role {specs[role].role}")
        self.specs = dict(specs)
        self.stream = stream
        self.accumulator = None
        if accumulator is not None:
            self.accumulator = RoleSpec("M", accumulator, specs["M"].rounding, specs["M"].layout)

    def _accumulators(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(parameter, accumulator) pairs; accumulators start as copies of the weights."""
        pairs = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "accumulator" not in state:
                    state["accumulator"] = p.detach().clone(memory_format=torch.contiguous_format)
                pairs.append((p, state["accumulator"]))
        return pairs

    def _with_gradients(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"] if p.grad is not None]

    @torch.no_grad()
    def quantize_gradients(self) -> None:
        """Step 1 alone: round every gradient to role ``G`` in place (a loss-scaled step rounds
        the scaled gradients, then unscales and checks them before :meth:`step`)."""
        quantize_tensors([(p.grad, self.specs["G"]) for p in self._with_gradients()], self.stream)

    @torch.no_grad()
    def step(self, closure=None, *, gradients_quantized: bool = False):  # type: ignore[override]
        """One quantized SGD step (see the module docstring). ``closure`` as torch's;
        ``gradients_quantized``: step 1 was done by :meth:`quantize_gradients`, skip it."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = self._with_gradients()
        if not gradients_quantized:
            self.quantize_gradients()
        pairs = self._accumulators() if self.accumulator is not None else []
        for p, acc in pairs:  # step against the accumulator: swap it in
            p.data, acc.data = acc.data, p.data
        super().step()
        quantize_tensors([(p.data, self.accumulator) for p, _ in pairs], self.stream)
        for p, acc in pairs:
            p.data, acc.data = acc.data, p.data  # acc: the updated accumulator
            p.copy_(acc)
        buffers = [self.state[p].get("momentum_buffer") for p in params]
        quantize_tensors([(p.data, self.specs["W"]) for p in params]
                         + [(b, self.specs["M"]) for b in buffers if b is not None], self.stream)
        return loss
