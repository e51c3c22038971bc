"""HALP (De Sa et al. 2018, "High-Accuracy Low-Precision Training"): SVRG with bit centering,
as HazyResearch/torchhalp implements it (``torchhalp/optim/halp.py``, ``torchhalp/quantize.py``).

The weights are ``w = w~ + z``: a full-precision anchor ``w~`` and a low-precision offset ``z``
of ``b`` bits on a grid whose step ``s`` is re-centred on the problem every outer loop:

* every ``T`` steps (``--svrg-period``): ``w~ <- w~ + z`` (the current weights), the full
  gradient ``g~`` at ``w~`` in full precision, per parameter tensor the scale
  ``s = ||g~||_2 / (mu (2^(b-1) - 1))`` (``--halp-mu``), and ``z <- 0``;
* inner step on minibatch ``i``: ``u = grad_i(w~ + z) - grad_i(w~) + g~``,
  ``z <- s * Q(z - lr * u) / s)``, where ``Q`` rounds to an integer of ``b`` bits (lpformats
  ``fixed(b,0)``: saturates to ``[-2^(b-1), 2^(b-1) - 1]``) with the role ``W`` rounding
  (stochastic, counter-based from the run's stream; ``nearest`` is ties-to-even where
  torchhalp's biased mode rounds ties up). A tensor whose scale is 0 (its full gradient is 0)
  keeps ``z = 0``.

As ``w~`` nears the optimum, ``||g~||`` and with it ``s`` shrink, so the grid follows the
iterate down: HALP converges linearly like SVRG where a static grid stalls. ``b`` and the
rounding are those of the run's ``W`` role, which must be a signed fixed-point format: its
word length is ``b``; its fraction bits do not apply (the step is ``s``), so the same
``--formats fixed:8`` runs ``sgd-lp``/``svrg-lp`` on the static grid and HALP at the same
width. Gradients and ``g~`` are computed in full precision, as torchhalp does; only ``z`` is
low precision (roles ``G`` and ``M`` are fp32 for HALP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

import lpformats
from swalp.methods.base import Option, positive_float
from swalp.methods.svrg import PERIOD, VarianceReducedMethod, VarianceReducedTrainer
from swalp.quantizer import quantize_tensor
from swalp.roles import RoleSpec

if TYPE_CHECKING:
    from swalp.experiments.config import RunConfig
    from swalp.experiments.run import Run

MU = Option("halp_mu", float, 4.0, "HALP's mu: z's grid step is ||full gradient|| / (mu (2^(b-1) - 1))",
            positive_float)


def offset_bits(config: RunConfig) -> int:
    """HALP's ``b``: the word length of the run's ``W`` format."""
    return config.specs()["W"].format_for((1,)).wl


def offset_scale(full_gradient: torch.Tensor, mu: float, bits: int) -> torch.Tensor:
    """``s = ||g~||_2 / (mu (2^(bits-1) - 1))`` as a float32 scalar tensor (norm in float64)."""
    norm = float(torch.linalg.vector_norm(full_gradient.double()))
    return torch.tensor(norm / (mu * (2.0 ** (bits - 1) - 1)), dtype=full_gradient.dtype,
                        device=full_gradient.device)


class HALPTrainer(VarianceReducedTrainer):
    """HALP's state: anchor, full gradient (shared with SVRG), offset ``z`` and scales ``s``."""

    state_names = ("offset", "scale")

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.mu = run.config.method_options["halp_mu"]
        self.bits = offset_bits(run.config)
        self.codes = RoleSpec("W", f"fixed({self.bits},0)", run.specs["W"].rounding)
        self.offset = [torch.zeros_like(p) for p in self.params]
        self.scale = [torch.zeros((), dtype=p.dtype, device=p.device) for p in self.params]
        self.clamped = 0.0

    def start_outer(self) -> None:
        # the anchor is the current weights w~ + z: the re-centring; then z <- 0 and rescale
        for z, s, g in zip(self.offset, self.scale, self.full_gradient, strict=True):
            z.zero_()
            s.copy_(offset_scale(g, self.mu, self.bits))

    def inner_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        loss, update = self.variance_reduced(x, y)
        limit = 2.0 ** (self.bits - 1)
        clamped = total = 0
        for p, anchor, z, s, u in zip(self.params, self.anchor, self.offset, self.scale, update, strict=True):
            if float(s) == 0.0:
                z.zero_()
            else:
                z.add_(u, alpha=-lr).div_(s)
                quantize_tensor(z, self.codes, self.run.stream, inplace=True)
                clamped += int(((z <= -limit) | (z >= limit - 1)).sum())
                z.mul_(s)
            total += z.numel()
            torch.add(anchor, z, out=p.data)
        self.clamped = clamped / total
        return loss

    def step_fields(self) -> dict[str, Any]:
        """``scale``: each tensor's grid step s; ``at_limit``: fraction of z's codes at the end of
        their range after the last step (saturated, or exactly there)."""
        return {"scale": [float(s) for s in self.scale], "at_limit": self.clamped}

    def record_fields(self) -> dict[str, Any]:
        fields = super().record_fields()
        scales = [float(s) for s in self.scale]
        rounding = self.codes.rounding
        fields["variance_reduced"] |= {"offset_bits": self.bits, "mu": self.mu, "rounding": rounding,
                                       "scale": scales}
        return fields


class HALP(VarianceReducedMethod):
    name = "halp"
    description = ("HALP: SVRG with bit centering: weights = anchor + b-bit offset on a grid re-scaled "
                   "to ||full gradient|| / (mu (2^(b-1) - 1)) every T steps; b and rounding from W's "
                   "fixed-point format (convex tasks)")
    low_precision = True
    roles = ("W",)
    options = (PERIOD, MU)

    def check(self, config: RunConfig) -> None:
        super().check(config)
        fmt = config.specs()["W"].format_for((1,))
        if not isinstance(fmt, lpformats.FixedPoint) or not fmt.signed:
            raise ValueError(f"method halp keeps its offset z as b-bit signed integers times a scale: W's "
                             f"format must be signed fixed point (e.g. fixed(8,6); its word length is b), "
                             f"got {fmt}")
        if fmt.wl < 2:
            raise ValueError(f"method halp needs b >= 2 bits (W's word length), got {fmt.wl}")

    def trainer(self, run: Run) -> HALPTrainer:
        return HALPTrainer(run)


METHODS = (HALP(),)
