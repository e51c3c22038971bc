"""``swa-fp``: float32 SGD with stochastic weight averaging (Izmailov et al. 2018) from
``swa_start``, the full-precision reference of SWALP."""

from __future__ import annotations

from swalp.methods.sgd import SGD

METHODS = (
    SGD("swa-fp", "float32 SGD + SWA: running mean of the iterates from swa_start (formats ignored)",
        low_precision=False, averaging=True),
)
