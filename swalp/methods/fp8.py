"""``fp8``: 8-bit floating-point training with 16-bit master weights and loss scaling
(Mellempudi et al. 2019, "Mixed Precision Training With 8-bit Floating Point",
arXiv:1905.12334).

* Weights (W), activations (A), errors (E) and weight gradients (G) in the run's float
  formats (``--formats fp8_e5m2``: the paper's E5M2; any lpformats float format), W and A
  rounded to nearest (the paper's choice; other roundings are refused), E and G by
  ``--rounding``. The GEMMs multiply the rounded operands in float32 and accumulate in
  float32 (torch's ops: the paper's FP32 accumulation).
* The error of the loss with respect to the model's output (the logits) is rounded to E too:
  every GEMM of the backward pass reads 8-bit errors.
* Master weights and momentum in ``--master-format`` (default ``fp16``), updated with
  ``--master-rounding`` (default ``stochastic``, the paper's; ``nearest`` is the ablation):
  :class:`~swalp.optim.LowPrecisionSGD` with a weight accumulator in that format; the
  weights the model computes with are the masters rounded to W. In the record, role M is
  the master format and rounding.
* Loss scaling by ``--loss-scale`` (none, static, dynamic, enhanced:
  :mod:`swalp.lossscale`); the loss-scaling history (scale, skipped steps, per-layer
  underflow/overflow of the errors every ``--stats-every`` steps) is always recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lpformats import FloatFormat
from swalp.lossscale.stats import OUTPUT_QUANTIZER_NAME
from swalp.methods import loss_scaling
from swalp.methods.base import Method, Option, one_of
from swalp.methods.sgd import SGDTrainer
from swalp.quantizer import Quantizer
from swalp.roles import ROLES, RoleSpec
from swalp.tasks import get_task

if TYPE_CHECKING:
    from swalp.experiments.config import RunConfig
    from swalp.experiments.run import Run

#: Roles in the run's (float) formats; role M holds the master weights.
FLOAT_ROLES = ("W", "A", "E", "G")


def _check_master_format(label: str, value: Any) -> None:
    try:
        RoleSpec("M", value, "nearest")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label}: {err}") from None


MASTER_FORMAT = Option("master_format", str, "fp16", "format of the master weights and momentum",
                       _check_master_format)
MASTER_ROUNDING = Option("master_rounding", str, "stochastic",
                         "rounding of the master-weight update (nearest: the ablation)",
                         one_of("stochastic", "nearest"))


class FP8Trainer(SGDTrainer):
    """:class:`~swalp.methods.sgd.SGDTrainer` with the master weights in the master format, a
    quantizer on the model's output that rounds the logits' error, and every step through the
    run's :class:`~swalp.lossscale.ScaledStep`."""

    def __init__(self, run: Run) -> None:
        _quantize_output_error(run)
        super().__init__(run, averaging=False, accumulator=run.specs["M"].fmt)


def _quantize_output_error(run: Run) -> None:
    """Round the error arriving at the model's output to role E (the forward value is untouched)."""
    quantizer = Quantizer(RoleSpec("A", "fp32"), run.specs["E"], run.stream)
    run.model.add_module(OUTPUT_QUANTIZER_NAME, quantizer)
    run.model.register_forward_hook(quantizer.output_hook)


class FP8(Method):
    """The ``fp8`` method (see the module docstring)."""

    name = "fp8"
    description = ("FP8 training (Mellempudi et al. 2019): W, A, E, G in the run's float formats (W and A "
                   "rounded to nearest), the logits' error rounded too, master weights and momentum in "
                   "--master-format (role M), loss scaling")
    low_precision = True
    averaging = False
    options = (*loss_scaling.OPTIONS, MASTER_FORMAT, MASTER_ROUNDING)
    always_scaled_step = True

    def role_specs(self, config: RunConfig, specs: dict[str, RoleSpec]) -> dict[str, RoleSpec]:
        """Role M is the master weights: ``master_format`` and ``master_rounding``."""
        options = config.method_options
        master = RoleSpec("M", options.get("master_format", MASTER_FORMAT.default),
                          options.get("master_rounding", MASTER_ROUNDING.default), specs["M"].layout)
        return {role: master if role == "M" else specs[role] for role in ROLES}

    def check(self, config: RunConfig) -> None:
        task = get_task(config.task)
        if task.convex:
            raise ValueError(f"method fp8 quantizes activations and errors; task {task.name} has none "
                             "(use sgd-lp for low-precision weights and gradients)")
        specs = config.specs()
        for role in FLOAT_ROLES:
            spec = specs[role]
            if spec.enabled and not isinstance(spec.format_for((1, 1, 1, 1)), FloatFormat):
                raise ValueError(f"method fp8 trains in floating point: role {role}'s format {spec.fmt} is "
                                 "not a float format (e.g. --formats fp8_e5m2)")
        for role in ("W", "A"):
            if specs[role].rounding != "nearest":
                raise ValueError(f"method fp8 rounds weights and activations to nearest (Mellempudi et al. "
                                 f"2019); role {role} has {specs[role].rounding}: pass --rounding nearest "
                                 "(or W=nearest,A=nearest,...)")
        loss_scaling.check(config)

    def trainer(self, run: Run) -> FP8Trainer:
        return FP8Trainer(run)


METHODS = (FP8(),)
