"""Loss scaling for low-precision training and per-layer error statistics.

* :mod:`swalp.lossscale.scalers`: the :class:`LossScaler` interface and the static, dynamic
  and enhanced (Mellempudi et al. 2019) scalers, with their state machines;
* :mod:`swalp.lossscale.spec`: the ``--loss-scale`` spellings;
* :mod:`swalp.lossscale.stats`: per-layer underflow/overflow fractions of the errors;
* :mod:`swalp.lossscale.step`: one training step with both, and their history.
"""

from swalp.lossscale.scalers import (
    DynamicScaler,
    EnhancedScaler,
    LossScaleFloorError,
    LossScaler,
    StaticScaler,
)
from swalp.lossscale.spec import build_scaler, canonical_loss_scale, format_loss_scale, parse_loss_scale
from swalp.lossscale.stats import ErrorStatistics, layer_name
from swalp.lossscale.step import ScaledStep

__all__ = [
    "DynamicScaler", "EnhancedScaler", "ErrorStatistics", "LossScaleFloorError", "LossScaler", "ScaledStep",
    "StaticScaler", "build_scaler", "canonical_loss_scale", "format_loss_scale", "layer_name",
    "parse_loss_scale",
]
