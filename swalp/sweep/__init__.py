"""Sweeps over formats, seeds and tasks: many runs, recorded one by one, resumable.

Modules: :mod:`~swalp.sweep.grid` (format-range spellings, grid expansion, point keys),
:mod:`~swalp.sweep.store` (manifest, per-point records, results CSV on disk),
:mod:`~swalp.sweep.backends` (local process pool or Ray), :mod:`~swalp.sweep.runner` (the run
function of real sweeps) and :mod:`~swalp.sweep.run` (:func:`run_sweep`, the engine of
``swalp sweep``).
"""

from swalp.sweep.run import SweepSummary, run_sweep

__all__ = ["SweepSummary", "run_sweep"]
