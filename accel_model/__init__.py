"""Cycle, memory-traffic and energy model of a systolic-array accelerator (SCALE-Sim compatible).

Compute cycles equal SCALE-Sim 3.0.0's ``Total Cycles`` for the same config and topology; on top
of that the model knows operand bit widths (from :mod:`lpformats` formats) and energy.
"""

from accel_model.energy import EnergyTable
from accel_model.estimate import estimate
from accel_model.hardware import Accelerator
from accel_model.report import Comparison, Cost, Report
from accel_model.workload import Layer, Workload

__all__ = ["Accelerator", "Comparison", "Cost", "EnergyTable", "Layer", "Report", "Workload", "estimate"]
