"""``swalp``: SWALP (Yang et al. 2019): low-precision SGD (``sgd-lp``) whose low-precision
iterates are averaged in full precision every ``cycle`` steps from ``swa_start``."""

from __future__ import annotations

from swalp.methods import loss_scaling
from swalp.methods.sgd import SGD

METHODS = (
    SGD("swalp", "SWALP: sgd-lp + full-precision average of the low-precision iterates from swa_start",
        low_precision=True, averaging=True, options=loss_scaling.OPTIONS),
)
