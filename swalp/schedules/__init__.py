"""Learning-rate policies: pure functions of the iteration, composable, as torch schedulers.

* :mod:`~swalp.schedules.lrbench`: LRBench's functions (FIX, STEP, NSTEP, EXP, INV, POLY, SIG,
  the TRI/SIN/COS cyclic families with their D-, UP-, 2 and EXP variants, the RSW/SINRSW/COSRSW
  restart families), LRBench's parameter names.
* :mod:`~swalp.schedules.swa`: SWALP's paper schedule (``SWALP``) and cyclic SWA (``CSWA``).
* :mod:`~swalp.schedules.compose`: warm-up (``WARMUP``), pieces (``A @S B``), epoch units.
* :mod:`~swalp.schedules.spec`: the spelling (``parse_policy``).
* :mod:`~swalp.schedules.scheduler`: :class:`PolicyLR`, a torch ``LRScheduler``.
* :mod:`~swalp.schedules.paper`: the schedule of a SWALP run (rate and averaging points).
"""

from swalp.schedules import lrbench, swa
from swalp.schedules.compose import WARMUP, PerEpoch, Piecewise, compose
from swalp.schedules.paper import DECAY_RATIO, Schedule, decay_factor
from swalp.schedules.policy import REGISTRY, Policy
from swalp.schedules.scheduler import PolicyLR
from swalp.schedules.spec import parse_policy, policy_names

__all__ = [
    "DECAY_RATIO", "REGISTRY", "WARMUP", "PerEpoch", "Piecewise", "Policy", "PolicyLR", "Schedule", "compose",
    "decay_factor", "lrbench", "parse_policy", "policy_names", "swa",
]
