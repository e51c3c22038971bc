"""Data-parallel training on ``torch.distributed``: one process per device, the global batch
split across ranks, gradients all-reduced by ``DistributedDataParallel`` (gloo on CPU, nccl on
CUDA), optionally quantized to a communication format before the exchange.

What every rank shares, and what it does not:

* The quantized optimizer step is the same on every rank: gradients are all-reduced before
  :class:`~swalp.optim.LowPrecisionSGD` quantizes them, and its stochastic rounding draws from
  the run's stream, whose counter advances identically on every rank. Weights, momentum and
  the SWA average therefore stay equal across ranks (bit for bit).
* Activations and errors (roles ``A``/``E``) are quantized per rank on the rank's share of
  the batch, with a rank-distinct seed (:class:`RankStream`): block formats take their shared
  exponent from that share, not from the global batch, and stochastic draws are independent
  across ranks, as on real multi-device hardware. BatchNorm statistics are per rank too
  (DDP broadcasts rank 0's running statistics each step). So low-precision and BatchNorm
  runs differ from a single-process run by more than float reduction order; fp32 runs of
  models without BatchNorm match it to reduction-order rounding.
* ``comm_format``: each rank's gradient is rounded stochastically to that format (a
  rank-distinct stream) before the all-reduce sums it; the sum and the division by the world
  size are float32. The format's codes are what a link would carry: see
  :func:`exchange_cost`.

A run is launched by :func:`launch` (``swalp train --nproc N``: spawned processes meeting
through a file store in a temporary directory) or by ``torchrun`` (the environment's
``RANK``/``WORLD_SIZE``/``MASTER_ADDR``).
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from lpformats.rng import stream_key
from swalp.quantizer import RandomStream, quantize_tensors
from swalp.roles import RoleSpec

#: Process-group backend per device type.
BACKENDS = {"cpu": "gloo", "cuda": "nccl"}
#: Tags mixed into the run seed for the rank-distinct streams of activations and of the
#: gradient exchange (any values far from the counters a run uses).
ACTIVATION_SEED_TAG, COMM_SEED_TAG = 1 << 40, 1 << 41


@dataclass(frozen=True)
class Group:
    """This process's place in the data-parallel run: ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0, the one that writes records and checkpoints."""
        return self.rank == 0


def current_group() -> Group:
    """The initialized process group's rank and size, or a single-process group."""
    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size())
    return Group()


def check_world(batch_size: int, world: int) -> None:
    """The global batch must split evenly across ``world`` ranks."""
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes "
                         f"({world}): each rank trains on batch_size / processes examples per step")


def rank_device(device_type: str, group: Group) -> torch.device:
    """The device of this rank: CUDA device ``LOCAL_RANK`` (or ``rank`` modulo the count)."""
    if device_type != "cuda":
        return torch.device(device_type)
    local = int(os.environ.get("LOCAL_RANK", group.rank % max(1, torch.cuda.device_count())))
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


class RankStream(RandomStream):
    """A stream with its own seed whose call counter *is* another stream's: it advances that
    counter, so the run's counters stay the same on every rank and in checkpoints, while the
    bits drawn differ by rank. NaN records go to the other stream as well."""

    def __init__(self, main: RandomStream, seed: int) -> None:
        self.main = main
        self.seed = seed

    @property  # type: ignore[override]
    def counter(self) -> int:
        return self.main.counter

    @counter.setter
    def counter(self, value: int) -> None:
        self.main.counter = value

    def record_nan(self, x: torch.Tensor, role: str) -> None:
        self.main.record_nan(x, role)


def rank_stream(main: RandomStream, tag: int, group: Group) -> RandomStream:
    """``main`` itself in a single-process run, else a :class:`RankStream` seeded by
    ``(main.seed, tag + rank)``."""
    if group.world == 1:
        return main
    return RankStream(main, stream_key(main.seed, tag + group.rank))


@dataclass
class _CommState:
    spec: RoleSpec
    stream: RandomStream
    world: int


def _quantized_allreduce(state, bucket):  # (no annotations: DDP checks them, and ours are strings)
    """DDP communication hook (``_CommState``, ``dist.GradBucket`` -> future of the bucket):
    round this rank's gradients (views of the bucket) to the communication format, sum them
    over ranks, divide by the world size."""
    quantize_tensors([(g, state.spec) for g in bucket.gradients()], state.stream)
    future = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return future.then(lambda done: done.value()[0].div_(state.world))


def data_parallel(model: nn.Module, device: torch.device, group: Group, stream: RandomStream,
                  comm_format: str | None) -> nn.Module:
    """``model`` wrapped in ``DistributedDataParallel`` (``model`` itself when alone), with
    gradients rounded to ``comm_format`` (stochastic, rank-distinct) before the all-reduce."""
    if group.world == 1:
        return model
    ddp = nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
    if comm_format is not None:
        state = _CommState(RoleSpec("G", comm_format, "stochastic"),
                           rank_stream(stream, COMM_SEED_TAG, group), group.world)
        ddp.register_comm_hook(state, _quantized_allreduce)
    return ddp


def sum_over_ranks(values: Sequence[float], device: torch.device) -> list[float]:
    """``values`` summed over all ranks (float64; themselves when alone)."""
    if current_group().world == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.tolist()


def ranks_agree(model: nn.Module) -> bool:
    """True when every parameter of ``model`` has the same bits on every rank (one MIN and one
    MAX all-reduce of the parameters' bit patterns; True when alone)."""
    if current_group().world == 1:
        return True
    bits = torch.cat([p.detach().reshape(-1).float().view(torch.int32) for p in model.parameters()])
    low, high = bits.clone(), bits.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(torch.equal(low, high))


def exchange_cost(model: nn.Module, comm_format: str | None, world: int,
                  accelerator: str) -> dict[str, Any]:
    """Cost of one step's gradient exchange: ``bits_per_rank`` (the gradient payload in the
    communication format, shared exponents included; fp32 without one),
    ``ring_bits_sent_per_rank`` (a ring all-reduce sends ``2 (world - 1) / world`` payloads
    per rank), and, priced by ``accel_model``'s energy table for ``accelerator`` as DRAM-class
    off-chip transfers, ``energy_pj_per_rank`` and ``transfer_cycles`` at its DRAM bandwidth
    (None for an ideal, unlimited-bandwidth preset)."""
    import accel_model
    from swalp.cost import bits_per_element

    spec = RoleSpec("G", comm_format or "fp32", "stochastic")
    shapes = [tuple(p.shape) for p in model.parameters() if p.requires_grad]
    elements = sum(math.prod(s) for s in shapes)
    payload = round(bits_per_element(spec, shapes) * elements)  # a whole number of bits
    sent = payload * 2 * (world - 1) / world
    preset = accel_model.Accelerator.preset(accelerator)
    return {
        "comm_format": comm_format or "fp32", "world_size": world,
        "bits_per_rank": payload, "ring_bits_sent_per_rank": sent,
        "energy_pj_per_rank": sent / 8 * preset.energy.dram_pj_per_byte,
        "transfer_cycles": (None if math.isinf(preset.dram_bandwidth)
                            else math.ceil(sent / 8 / preset.dram_bandwidth)),
    }


# ----------------------------------------------------------------------------- launching
def _worker(rank: int, world: int, store_dir: str, backend: str, fn: Callable, args: tuple) -> None:
    dist.init_process_group(backend, init_method=f"file://{store_dir}/store", rank=rank, world_size=world)
    # An exception propagates with the group alive: mp.spawn reports its traceback and stops
    # the other ranks (tearing the group down under their pending collectives would abort).
    result = fn(*args)
    if rank == 0:
        Path(store_dir, "result.pkl").write_bytes(pickle.dumps(result))
    # Every rank's collectives (DDP's asynchronous gradient all-reduces included) are finished
    # before any rank tears the group down: a rank exiting while gloo still holds a peer's
    # work aborts that peer ("terminate called without an active exception", SIGABRT).
    dist.barrier()
    dist.destroy_process_group()


def launch(fn: Callable, args: tuple, nproc: int, device_type: str = "cpu") -> Any:
    """Run ``fn(*args)`` on ``nproc`` spawned processes in one process group (gloo on CPU,
    nccl on CUDA) and return rank 0's result; nothing is left behind (the rendezvous file
    lives in a temporary directory). Under ``torchrun`` (``WORLD_SIZE`` set, no group yet)
    this process joins the launcher's group instead and returns its own result.

    Raises:
        ValueError: ``nproc`` < 1, or a device type without a process-group backend.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive integer, got {nproc!r}")
    if device_type not in BACKENDS:
        raise ValueError(f"data-parallel training runs on {', '.join(BACKENDS)}; got device {device_type!r}")
    if "WORLD_SIZE" in os.environ and not dist.is_initialized():
        dist.init_process_group(BACKENDS[device_type])
        try:
            result = fn(*args)
            dist.barrier()  # as in _worker: no rank tears the group down under another's work
            return result
        finally:
            dist.destroy_process_group()
    if nproc == 1:
        return fn(*args)
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="swalp-ddp-") as store_dir:
        mp.spawn(_worker, args=(nproc, store_dir, BACKENDS[device_type], fn, args), nprocs=nproc)
        return pickle.loads(Path(store_dir, "result.pkl").read_bytes())
