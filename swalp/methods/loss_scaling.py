"""Loss scaling as a method option (``--loss-scale``, ``--stats-every``), shared by the
low-precision SGD methods (``sgd-lp``, ``swalp``, ``fp8``): the options, their checks, and the
:class:`~swalp.lossscale.ScaledStep` a trainer runs its steps through.

A run gets a :class:`~swalp.lossscale.ScaledStep` when it scales the loss (``--loss-scale``
other than ``none``) or its method always records error statistics (``fp8``); it then keeps
the loss-scaling history (scale, skipped steps, per-layer underflow/overflow of the errors
every ``stats_every`` steps) in its checkpoints and in its record's ``loss_scaling``.

Both options are left out of a config's dict while at their defaults (``omit_default``): the
configs, sweep keys and run folders of ``sgd-lp`` and ``swalp`` runs made before the options
existed stay valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swalp.lossscale import ErrorStatistics, ScaledStep, build_scaler, parse_loss_scale
from swalp.lossscale.checks import check_loss_scaling
from swalp.methods.base import Option, positive_int

if TYPE_CHECKING:
    from swalp.experiments.config import RunConfig
    from swalp.experiments.run import Run


def _check_loss_scale(label: str, value: Any) -> None:
    try:
        parse_loss_scale(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label}: {err}") from None


LOSS_SCALE = Option(
    "loss_scale", str, "none",
    "loss scaling: none, static:S, dynamic[:KEY=VALUE,...], enhanced:floors=STEP:FLOOR/... or "
    "adaptive[:KEY=VALUE,...] (README, 'Loss scaling')", _check_loss_scale, omit_default=True)
STATS_EVERY = Option(
    "stats_every", int, 10,
    "loss scale, skipped steps and per-layer error underflow/overflow recorded every N optimizer "
    "steps (runs with loss scaling, and fp8)", positive_int, omit_default=True)
OPTIONS = (LOSS_SCALE, STATS_EVERY)


def check(config: RunConfig) -> None:
    """Refuse loss scaling the run's formats cannot use (see :mod:`swalp.lossscale.checks`)."""
    check_loss_scaling(parse_loss_scale(config.method_options["loss_scale"]), config.specs())


def scaled_step(run: Run, always: bool = False) -> ScaledStep | None:
    """The run's :class:`~swalp.lossscale.ScaledStep`: with a loss scale, or ``always``
    (statistics without scaling); None otherwise.

    Raises:
        ValueError: a per-layer scaler (``adaptive``) in a data-parallel run, whose ranks would
            all-reduce gradients carrying different scales.
    """
    options = run.config.method_options
    scaler = build_scaler(parse_loss_scale(options["loss_scale"]), errors=run.specs["E"].fmt)
    if scaler is not None and scaler.per_layer and run.group.world > 1:
        raise ValueError(f"loss scale {scaler.kind}: each rank chooses its own per-layer scales, and the "
                         f"data-parallel all-reduce would sum gradients carrying different scales; train it "
                         f"on one process (--nproc 1), not {run.group.world}")
    if scaler is None and not always:
        return None
    every = options["stats_every"]
    return ScaledStep(run.model, scaler, ErrorStatistics(run.model, every), every)
