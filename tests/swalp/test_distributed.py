"""Data-parallel training (``swalp.distributed``) on 2 gloo processes against one process with
the same global batch: fp32 gives the same trajectory to float reduction-order rounding,
low-precision methods (with and without a quantized gradient exchange) converge alike over
seeds, weights stay bit-identical across ranks, and rank 0's checkpoints resume with another
rank count.

Spawning processes is slow (each imports torch and Numba), so every 2-process run of this
module happens in one launch, shared by the tests through a module fixture.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from swalp import experiments
from swalp.distributed import RankStream, check_world, current_group, launch
from swalp.experiments import RunConfig, run_experiment
from swalp.quantizer import RandomStream

FP32 = dict(task="logreg", method="sgd-fp", epochs=3)
LOW = dict(task="logreg", method="sgd-lp", formats="bfp8", epochs=3)
SEEDS = (0, 1, 2)
CNN = dict(task="digits-vgg", method="swalp", epochs=2, swa_start=1, batch_size=128)
RESUMED = dict(task="logreg", method="swalp", formats="bfp8", epochs=2, swa_start=1)
#: fp32 trajectories of 1 and 2 processes differ only by the order of float32 additions in
#: the gradient mean (a sum over 32 examples against two sums of 16 and their average).
REDUCTION_ORDER_RTOL = 1e-5


class _KilledError(Exception):
    """A run stopped as if killed."""


def _stop_after(epochs: int) -> None:
    """Make runs in this process stop (as if killed) after ``epochs`` epochs."""
    original = experiments.Run.run_epoch

    def run_epoch(self):
        if self.epoch == epochs:
            raise _KilledError
        return original(self)

    experiments.Run.run_epoch = run_epoch


def _jobs(jobs: list[tuple]) -> list:
    """Run ``(config, out_dir, options)`` jobs in this process group; rank 0 returns the
    records (None for a job stopped by ``options["stop_after"]``)."""
    records = []
    for config, out_dir, options in jobs:
        options = dict(options)
        stop = options.pop("stop_after", None)
        original = experiments.Run.run_epoch
        if stop is not None:
            _stop_after(stop)
        try:
            record = run_experiment(config, out_dir, **options)
        except _KilledError:
            record = None
        finally:
            experiments.Run.run_epoch = original
        records.append(record if current_group().is_main else None)
    return records


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every 2-process run of the module, from one launch, with the matching 1-process runs."""
    base = tmp_path_factory.mktemp("ddp")
    _stop_after(1)  # a 1-process checkpoint after epoch 1, for the 2 processes to resume
    try:
        with pytest.raises(_KilledError):
            run_experiment(RunConfig(**RESUMED), base / "one-then-two")
    finally:
        experiments.Run.run_epoch = _Run_run_epoch
    jobs = [(RunConfig(**FP32), None, {}), (RunConfig(**CNN, comm_format="bfp8"), None, {}),
            (RunConfig(**RESUMED), base / "one-then-two", {"resume": True}),
            (RunConfig(**RESUMED), base / "two-then-one", {"stop_after": 1})]
    jobs += [(RunConfig(**LOW, seed=s), None, {}) for s in SEEDS]
    jobs += [(RunConfig(**LOW, seed=s, comm_format="bfp8"), None, {}) for s in SEEDS]
    two = launch(_jobs, (jobs,), nproc=2)
    names = ["fp32", "cnn", "one_then_two", "stopped"] + [f"low{s}" for s in SEEDS] + [
        f"comm{s}" for s in SEEDS]
    result = dict(zip(names, two, strict=True))
    result["two_then_one"] = run_experiment(RunConfig(**RESUMED), base / "two-then-one", resume=True)
    return result


_Run_run_epoch = experiments.Run.run_epoch


@pytest.fixture(scope="module")
def single():
    """The same runs in one process."""
    out = {"fp32": run_experiment(RunConfig(**FP32)), "cnn": run_experiment(RunConfig(**CNN)),
           "resumed": run_experiment(RunConfig(**RESUMED))}
    out.update({f"low{s}": run_experiment(RunConfig(**LOW, seed=s)) for s in SEEDS})
    return out


def _close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * abs(b)


def test_fp32_on_two_processes_follows_the_one_process_trajectory(runs, single):
    two, one = runs["fp32"], single["fp32"]
    assert two["data_parallel"]["world_size"] == 2 and one["data_parallel"]["world_size"] == 1
    for a, b in zip(two["epochs"], one["epochs"], strict=True):
        assert _close(a["train_loss"], b["train_loss"], REDUCTION_ORDER_RTOL), (a, b)
        assert _close(a["dist_to_opt"], b["dist_to_opt"], REDUCTION_ORDER_RTOL), (a, b)
        assert a["test_error"] == b["test_error"]


def test_weights_stay_bit_identical_across_ranks(runs):
    for name in ("fp32", "cnn", "one_then_two", *(f"low{s}" for s in SEEDS), *(f"comm{s}" for s in SEEDS)):
        assert runs[name]["data_parallel"]["weights_equal_across_ranks"], name


def test_low_precision_on_two_processes_converges_as_one_process_over_seeds(runs, single):
    """Gradients are all-reduced before ``G`` is quantized, so the two runs differ only where
    reduction order flips a rounding decision; with a bfp8 exchange each rank's gradient is
    rounded (independent stochastic streams) before the sum: more noise, same convergence.
    Measured: the final squared distance to the optimum, mean over 3 seeds."""
    one = statistics.mean(single[f"low{s}"]["final"]["dist_to_opt"] for s in SEEDS)
    two = statistics.mean(runs[f"low{s}"]["final"]["dist_to_opt"] for s in SEEDS)
    comm = statistics.mean(runs[f"comm{s}"]["final"]["dist_to_opt"] for s in SEEDS)
    assert _close(two, one, 0.05), (two, one)
    assert _close(comm, one, 0.25), (comm, one)
    start = single["low0"]["epochs"][0]["dist_to_opt"]
    assert comm < start and two < start


def test_a_quantized_exchange_reports_its_bits_and_cost(runs):
    fp32, bfp8 = runs["fp32"]["data_parallel"], runs["comm0"]["data_parallel"]
    assert fp32["comm_format"] == "fp32" and bfp8["comm_format"] == "bfp8"
    assert fp32["bits_per_rank"] == 32 * 650  # logreg: 64 x 10 weights + 10 biases
    # 8-bit mantissas and an 8-bit exponent per output row (10) and for the bias (README's example)
    assert bfp8["bits_per_rank"] == 8 * 650 + 8 * 11 == 5288
    assert bfp8["ring_bits_sent_per_rank"] == bfp8["bits_per_rank"]  # 2 (N - 1) / N = 1 for N = 2
    assert bfp8["energy_pj_per_rank"] * 32 == pytest.approx(fp32["energy_pj_per_rank"] * (
        bfp8["bits_per_rank"] / 650))


def test_a_cnn_with_batchnorm_and_quantized_activations_trains_on_two_processes(runs, single):
    """Activations, errors and BatchNorm statistics are per rank (documented in
    swalp.distributed): the result is close to, not equal to, one process's."""
    two, one = runs["cnn"], single["cnn"]
    assert two["final"]["swa_test_error"] < 30 and abs(two["final"]["swa_test_error"]
                                                       - one["final"]["swa_test_error"]) < 10


def test_checkpoints_resume_with_another_process_count(runs, single):
    one = single["resumed"]["final"]["dist_to_opt"]
    assert runs["stopped"] is None
    for name in ("one_then_two", "two_then_one"):
        record = runs[name]
        assert [row["epoch"] for row in record["epochs"]] == [1, 2]
        assert _close(record["final"]["dist_to_opt"], one, 0.05), (name, record["final"], one)


def test_the_batch_must_split_evenly_across_processes():
    check_world(64, 4)
    with pytest.raises(ValueError, match=r"batch_size 30 must be divisible by the number of processes \(4\)"):
        check_world(30, 4)


def test_rank_streams_share_the_run_counter_and_draw_their_own_bits():
    main = RandomStream(5)
    rank = RankStream(main, 99)
    assert rank.next() == 0 and main.next() == 1 and rank.counter == 2
    x = torch.linspace(-1, 1, 64)
    from lpformats import quantize

    assert not torch.equal(quantize(x, "fixed(4,2)", "stochastic", seed=rank.seed),
                           quantize(x, "fixed(4,2)", "stochastic", seed=main.seed))


def test_ranks_share_each_batch_and_weigh_an_uneven_last_one_to_the_batch_mean():
    """10 examples in batches of 4 on 2 ranks: shares of 2, 2, 2, 2, then 1 and 1; each
    share's factor makes the rank-averaged mean loss the batch's mean loss."""
    from swalp.data import Batches

    x, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    whole = list(Batches(x, y, 4, seed=3).epoch(0))
    ranks = [list(Batches(x, y, 4, seed=3, shard=(r, 2)).shards(0)) for r in range(2)]
    for batch, (a, b) in zip(whole, zip(*ranks, strict=True), strict=True):
        assert torch.equal(torch.cat([a[1], b[1]]), batch[1])
        losses = [part[0].sum() / len(part[1]) * part[2] for part in (a, b)]
        assert float(sum(losses) / 2) == pytest.approx(float(batch[0].mean()))
    assert [len(part[1]) for part in ranks[0]] == [2, 2, 1]
