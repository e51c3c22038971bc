"""Memory models of ``estimate``: how DRAM traffic turns into stall cycles, layer by layer.

* ``"scalesim"`` (:mod:`accel_model.memory.scalesim`): SCALE-Sim 3.0.0's double-buffered read
  buffers and write buffer, reproduced exactly (its ``Total Cycles`` and ``Stall Cycles``, quirks
  included), counted in SCALE-Sim words (one per element, whatever the format's width) with its
  DRAM traffic accounting (every partial sum of every fold goes to DRAM). The default for an
  accelerator read from a SCALE-Sim ``.cfg``.
* ``"physical"`` (:mod:`accel_model.memory.physical`): our model in bytes: per-buffer interface
  bandwidths (or one shared DRAM link), double buffering with transfers overlapping compute, and
  partial sums kept on chip when the output tile fits. The default otherwise.

``numpy`` is imported only by the ``scalesim`` model, when it runs.
"""

from accel_model.hardware import MEMORY_MODELS

__all__ = ["MEMORY_MODELS"]
