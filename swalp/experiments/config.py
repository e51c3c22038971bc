"""``RunConfig``: everything that defines a run, its defaults and its checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from swalp import cost as costs
from swalp import protocols
from swalp.devices import resolve_device
from swalp.methods import all_options, get_method, methods_taking
from swalp.methods.base import positive_int
from swalp.roles import ROLES, RoleSpec, role_specs
from swalp.schedules import parse_policy
from swalp.tasks import get_task

SCHEDULES = ("paper", "swa", "constant")
#: Fields a task supplies when the config leaves them None.
TASK_DEFAULTS = ("epochs", "batch_size", "lr", "swa_lr", "swa_start", "momentum", "weight_decay", "schedule")
#: Fields that :meth:`RunConfig.to_dict` leaves out while they are empty (None or {}), so that the
#: records and checkpoints of runs that do not use them are those written before they existed.
OMITTED_WHEN_EMPTY = ("method_options", "log_every")


@dataclasses.dataclass
class RunConfig:
    """Everything that defines a run (JSON-serializable with :meth:`to_dict`).

    Attributes:
        task: a name from :data:`swalp.tasks.TASKS`.
        method: a name from :data:`swalp.methods.METHODS`.
        formats: role -> format spelling (roles ``W A E G M``), or one spelling for all.
        rounding: role -> rounding mode, or one mode for all.
        layout: role -> block layout (``auto``, ``tensor``, ``dim0``, ``block:N``), or one.
        epochs, batch_size, lr, swa_lr, swa_start, momentum, weight_decay, schedule: None takes
            the protocol's value, else the task's default. From epoch ``swa_start`` (0-based)
            on the rate is ``swa_lr``; the first iterate averaged is the one at the end of epoch
            ``swa_start - 1``. The schedule is ``paper`` (SWALP's code), ``swa`` (SWA's code:
            the decay ends at ``swa_lr``; see :mod:`swalp.schedules.paper`) or ``constant``.
        cycle: optimizer steps between averages (None: once per epoch).
        cyclic_min: with a value, cyclic SWA: the rate falls from ``swa_lr`` to it each cycle.
        lr_policy: a learning-rate policy spec (:func:`swalp.schedules.parse_policy`) that
            replaces ``schedule``'s rates (``lr``, ``swa_lr``, ``cyclic_min``); averaging
            still starts at ``swa_start``. None: ``schedule``.
        nesterov: Nesterov momentum.
        accumulator: format of a higher-precision weight accumulator, or None for none.
        seed: run seed (model init, data order, stochastic rounding).
        data_dir: directory of local data (CIFAR tasks).
        train_size: number of training examples of a task whose data is generated (MNIST-1D);
            None: the task's standard training set.
        accelerator: ``accel_model`` preset for the cost of a training step.
        protocol: ``paper`` (how the paper's table got this method's number: the default of
            the tasks that have one) or ``toolkit`` (the task's defaults for every method; the
            default elsewhere). See :mod:`swalp.protocols`.
        device: ``cpu``, ``cuda``, ``mps`` or ``auto`` (see :mod:`swalp.devices`; resolved to
            the device used).
        comm_format: data-parallel runs: format each rank's gradient is rounded to before the
            all-reduce (None: float32); see :mod:`swalp.distributed`.
        method_options: options of the method (:attr:`swalp.methods.Method.options`), by name;
            the resolved config holds every option of the method (defaults filled in).
        log_every: with a value, the record's ``steps`` holds a row every ``log_every``
            optimizer steps (the step's loss; ``dist_to_opt`` on convex tasks). None: none.
    """

    task: str = "digits-vgg"
    method: str = "swalp"
    formats: dict[str, str] | str = "bfp8"
    rounding: dict[str, str] | str = "stochastic"
    layout: dict[str, str] | str = "auto"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    swa_lr: float | None = None
    swa_start: int | None = None
    cycle: int | None = None
    cyclic_min: float | None = None
    lr_policy: str | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    nesterov: bool = False
    schedule: str | None = None
    accumulator: str | None = None
    seed: int = 0
    data_dir: str | None = None
    train_size: int | None = None
    accelerator: str = costs.DEFAULT_ACCELERATOR
    protocol: str | None = None
    device: str = "cpu"
    comm_format: str | None = None
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    log_every: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, formats/rounding/layout expanded to one entry per role; the fields
        of :data:`OMITTED_WHEN_EMPTY` only when they hold something, and method options with
        ``omit_default`` only when they differ from their default."""
        out = dataclasses.asdict(self)
        for name in ("formats", "rounding", "layout"):
            value = out[name]
            out[name] = dict.fromkeys(ROLES, value) if isinstance(value, str) else dict(value)
        if out["method_options"]:
            omitted = {o.name: o.default for o in all_options().values() if o.omit_default}
            out["method_options"] = {name: value for name, value in out["method_options"].items()
                                     if name not in omitted or value != omitted[name]}
        for name in OMITTED_WHEN_EMPTY:
            if out[name] is None or out[name] == {}:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown RunConfig fields {unknown}; fields are {sorted(names)}")
        return cls(**data)

    def resolved(self) -> RunConfig:
        """A copy with the task's defaults and the method's option defaults filled in and every
        field checked.

        Raises:
            ValueError: unknown task/method/schedule/format, a bad or foreign method option, or
                inconsistent options (e.g. ``swa_start >= epochs`` for an averaging method).
        """
        task = get_task(self.task)
        method = get_method(self.method)
        protocol_name = self.protocol or protocols.default_protocol(task.name)
        settings = protocols.get_protocol(task.name, self.method, protocol_name).settings
        filled = dataclasses.replace(self, protocol=protocol_name, **{
            name: settings.get(name, task.defaults[name])
            for name in TASK_DEFAULTS if getattr(self, name) is None})
        if filled.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {filled.schedule!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(filled, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("lr", "swa_lr"):
            if not getattr(filled, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(filled, name)!r}")
        if not 0 <= filled.momentum < 1 or filled.weight_decay < 0:
            raise ValueError(f"momentum must be in [0, 1) and weight_decay >= 0, got {filled.momentum}, "
                             f"{filled.weight_decay}")
        if isinstance(filled.seed, bool) or not isinstance(filled.seed, int) or filled.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {filled.seed!r}")
        if method.averaging and not 1 <= filled.swa_start < filled.epochs:
            raise ValueError(f"swa_start must be in [1, epochs - 1] = [1, {filled.epochs - 1}] for "
                             f"{filled.method}, got {filled.swa_start} (epochs = {filled.epochs})")
        if method.convex_only and not task.convex:
            raise ValueError(f"method {method.name} runs on the convex tasks only (linreg, logreg, ...), "
                             f"not {task.name}")
        if filled.data_dir is None and task.needs_data_dir:
            raise ValueError(f"task {filled.task} needs data_dir (--data-dir): nothing is downloaded")
        task.check_train_size(filled.train_size)
        if filled.lr_policy is not None:
            parse_policy(filled.lr_policy)
            if filled.cyclic_min is not None:
                raise ValueError("cyclic_min is the paper schedule's cyclic SWA; with lr_policy, write it "
                                 "into the policy (CSWA)")
        if filled.log_every is not None:
            positive_int("log_every (--log-every)", filled.log_every)
        filled.method_options = resolve_method_options(filled.method, filled.method_options)
        filled.specs()  # checks formats, rounding and layout
        filled.device = resolve_device(filled.device)
        if filled.device == "mps" and method.low_precision:
            raise ValueError(f"method {filled.method} quantizes with lpformats' torch backend, which "
                             "computes in float64: MPS has none; use --device cpu or cuda")
        if filled.comm_format is not None:
            RoleSpec("G", filled.comm_format, "stochastic")  # checks the spelling
        method.check(filled)
        return filled

    def specs(self) -> dict:
        """Role specs in effect: the given formats for the roles a low-precision method rounds
        (:attr:`swalp.methods.Method.roles`), fp32 otherwise, as the method's
        :meth:`~swalp.methods.base.Method.role_specs` adjusts them; convex tasks have no
        activations, so ``A`` and ``E`` are fp32 there."""
        specs = role_specs(self.formats, self.rounding, self.layout)
        method = get_method(self.method)
        if not method.low_precision:
            return role_specs("fp32", self.rounding, self.layout)
        unused = set(ROLES) - set(method.roles) | ({"A", "E"} if get_task(self.task).convex else set())
        if unused:
            fmts = {r: ("fp32" if r in unused else specs[r].fmt) for r in ROLES}
            specs = role_specs(fmts, self.rounding, self.layout)
        return method.role_specs(self, specs)


def resolve_method_options(method_name: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every option of method ``method_name``: ``given``'s values, checked, else the defaults.

    Raises:
        ValueError: ``given`` is not a mapping, names an option the method does not take (the
            message names the option, the method's options and the methods that take it), or
            holds a bad value (the message names the option).
    """
    method = get_method(method_name)
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise ValueError(f"method_options must be a mapping of option name to value, got {given!r}")
    names = [o.name for o in method.options]
    for name in given:
        if name not in names:
            takers = methods_taking(name)
            where = f"it is an option of {', '.join(takers)}" if takers else "no method takes it"
            raise ValueError(f"method option {name!r} does not apply to method {method_name} ({where}); "
                             f"{method_name}'s options: {', '.join(names) or 'none'}")
    return {o.name: o.validate(given[o.name]) if o.name in given else o.default for o in method.options}
