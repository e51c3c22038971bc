"""Experiments: a task trained with one method (:mod:`swalp.methods`) at given formats,
joined with the accelerator cost of a training step; JSON record, atomic per-epoch
checkpoints, resume.

* :mod:`swalp.experiments.config`: :class:`RunConfig`, its defaults and checks;
* :mod:`swalp.experiments.run`: :class:`Run`, the state of one run;
* :mod:`swalp.experiments.record`: the run record;
* :mod:`swalp.experiments.runner`: :func:`run_experiment`, :func:`run_many`.

Methods come from the registry (:data:`METHODS`); full-precision methods ignore ``formats``
(their record says fp32).
"""

from swalp.experiments.config import SCHEDULES, TASK_DEFAULTS, RunConfig, resolve_method_options
from swalp.experiments.record import build_record
from swalp.experiments.run import EVAL_STREAM_COUNTER, Run
from swalp.experiments.runner import finished_record, run_data_parallel, run_experiment, run_many
from swalp.methods import AVERAGING, LOW_PRECISION, METHODS, SWALP_METHODS
from swalp.runio.run_folder import CHECKPOINT_FILE, RECORD_FILE, RunExistsError, UnfinishedRunError
from swalp.tasks import TASKS

__all__ = ["AVERAGING", "CHECKPOINT_FILE", "EVAL_STREAM_COUNTER", "LOW_PRECISION", "METHODS", "RECORD_FILE",
           "SCHEDULES", "SWALP_METHODS", "TASKS", "TASK_DEFAULTS", "Run", "RunConfig", "RunExistsError",
           "UnfinishedRunError", "build_record", "finished_record", "resolve_method_options",
           "run_data_parallel", "run_experiment", "run_many"]
