"""The JSON record of a run (schema in README, "Run records")."""

from __future__ import annotations

from typing import Any

from swalp import cost as costs
from swalp.distributed import exchange_cost, ranks_agree
from swalp.experiments.run import Run
from swalp.provenance import code_version
from swalp.roles import ROLES


def step_cost(run: Run) -> dict[str, Any]:
    """The accelerator cost of one training step of the run's method."""
    return run.method.step_cost(run)


def storage_bits(run: Run) -> dict[str, float]:
    """Mean storage bits per element of each role (shared exponents included)."""
    params = [tuple(p.shape) for p in run.model.parameters()]
    acts = costs.quantized_shapes(run.model, run.example)
    shapes = {"W": params, "G": params, "M": params, "A": acts, "E": acts}
    return {role: costs.bits_per_element(run.specs[role], shapes[role]) for role in ROLES}


def build_record(run: Run, cost: dict[str, Any], bits: dict[str, float], status: str) -> dict[str, Any]:
    """The JSON record of a run (schema in README, "Run records"); ``steps`` (per-step rows)
    only when the config sets ``log_every``, and the method's own fields
    (:meth:`~swalp.methods.Trainer.record_fields`)."""
    config = run.config.to_dict()
    record = {
        "task": config["task"], "method": config["method"], "seed": config["seed"],
        "formats": {r: run.specs[r].fmt for r in ROLES},
        "rounding": {r: run.specs[r].rounding for r in ROLES},
        "layout": {r: run.specs[r].layout for r in ROLES},
        "config": config, "code": code_version(), "status": status, "epochs_done": run.epoch,
        "epochs": run.history,
        "steps_per_epoch": len(run.train),
        "final": run.final(finished=status == "finished") if run.history else {},
        "cost": cost, "bits_per_element": bits, "wall_time_s": run.elapsed, "protocol": _protocol_record(run),
        "data_parallel": {**exchange_cost(run.model, run.config.comm_format, run.group.world,
                                          run.config.accelerator),
                          # (a collective: every rank builds the finished record)
                          "weights_equal_across_ranks": ranks_agree(run.model) if status == "finished"
                          else None},
    }
    if run.config.log_every is not None:
        record["steps"] = run.steps
    return run.with_method_fields(record, run.trainer.record_fields(), record, "record fields")


def _protocol_record(run: Run) -> dict[str, Any]:
    """The record's ``protocol``: which one, what it sets, what the config overrides, and the
    numbers the reference code prints for this run (None until their epoch is done)."""
    protocol, config = run.protocol, run.config
    reported = []
    for item in protocol.reported:
        epoch = item.epoch_of(config.epochs, config.swa_start)
        value = run.history[epoch - 1][item.field] if 1 <= epoch <= len(run.history) else None
        reported.append({"label": item.label, "field": item.field, "epoch": epoch, "value": value})
    return {
        "name": protocol.name, "paper": protocol.paper, "source": list(protocol.source),
        "settings": dict(protocol.settings),
        "overrides": sorted(k for k, v in protocol.settings.items() if getattr(config, k) != v),
        "refresh_iterate_bn": protocol.refresh_iterate_bn, "normalization": protocol.normalization,
        "eval_batch_size": run.task.eval_batch_size, "quantize_input": run.task.quantize_input,
        "reported": reported,
    }
