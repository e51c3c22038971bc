"""Learning-rate schedules: the SWALP paper's schedule and its averaging points
(:mod:`swalp.schedules.paper`)."""

from swalp.schedules.paper import DECAY_RATIO, Schedule, decay_factor

__all__ = ["DECAY_RATIO", "Schedule", "decay_factor"]
