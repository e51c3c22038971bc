"""The run function of real sweeps: one grid point trained by :func:`swalp.experiments.run_experiment`.

Module-level (importable by name) so that process-pool workers and Ray tasks can load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swalp.experiments import RunConfig, run_experiment


def run_point(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train the run ``config`` (RunConfig fields) without writing files; returns its record
    (test error, training loss, wall time in seconds, accelerator cost per training step,
    bits per element per role; schema in README)."""
    return run_experiment(RunConfig.from_dict(dict(config)), out_dir=None, checkpoint=False)


__all__ = ["run_point"]
