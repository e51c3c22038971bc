"""The method registry (swalp.methods): names, flags and checks come from it; a method's
options, per-step rows, checkpoint state and record fields flow through runs, the CLI and
sweeps (a toy method registered for the test exercises every hook)."""

import json
from pathlib import Path

import pytest
import torch

from swalp import methods
from swalp.cli import build_parser, main
from swalp.commands.sweep import spec_from_args
from swalp.experiments import RunConfig, run_experiment
from swalp.methods.base import Option, int_at_least, one_of, positive_float, positive_int
from swalp.methods.sgd import SGD, SGDTrainer
from swalp.runio.checkpoint import load_checkpoint
from swalp.sweep.grid import GridSpec, expand_grid

README = Path(__file__).resolve().parents[3] / "README.md"
LINREG = dict(task="linreg", epochs=3, batch_size=64)


class CountingTrainer(SGDTrainer):
    """SGD that counts its epochs (checkpointed) and reports the count everywhere it can."""

    def __init__(self, run, averaging):
        super().__init__(run, averaging)
        self.epochs_seen = 0

    def train_epoch(self, epoch):
        loss = super().train_epoch(epoch)
        self.epochs_seen += self.run.config.method_options["toy_count"]
        return loss

    def state_dict(self):
        return super().state_dict() | {"toy": {"epochs_seen": self.epochs_seen}}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.epochs_seen = state["toy"]["epochs_seen"]

    def epoch_fields(self):
        return {"toy_epochs_seen": self.epochs_seen}

    def step_fields(self):
        return {"toy_epochs_seen": self.epochs_seen}

    def record_fields(self):
        return {"toy": {"epochs_seen": self.epochs_seen}}


class Toy(SGD):
    options = (Option("toy_count", int, 1, "added per epoch", positive_int),)

    def __init__(self):
        super().__init__("toy", "a test method", low_precision=True, averaging=False)

    def trainer(self, run):
        return CountingTrainer(run, False)


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(methods.REGISTRY, "toy", Toy())


def test_registry_lists_every_method_and_the_cli_and_readme_take_them_from_it(capsys):
    assert tuple(methods.REGISTRY) == methods.METHODS
    assert set(methods.SWALP_METHODS) <= set(methods.METHODS)
    assert tuple(m for m in methods.METHODS if methods.get_method(m).low_precision) == methods.LOW_PRECISION
    for command in ("train", "sweep"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert all(name in text for name in methods.METHODS), command
    assert methods.methods_markdown() in README.read_text()


def test_option_checks_name_the_option():
    cases = [(positive_int, 0, "a positive integer"), (positive_float, float("nan"), "> 0"),
             (one_of("a", "b"), "c", "one of a, b"), (int_at_least(2), 1, ">= 2")]
    for check, bad, message in cases:
        with pytest.raises(ValueError, match=f"my_option \\(--my-option\\) must be .*{message}"):
            Option("my_option", str, None, "", check).validate(bad)
    assert Option("my_option", int, 1, "", positive_int).validate(3) == 3


def test_method_options_default_checked_and_refused_where_they_do_not_apply(toy):
    assert RunConfig(method="toy", **LINREG).resolved().method_options == {"toy_count": 1}
    assert RunConfig(method="toy", method_options={"toy_count": 2}, **LINREG).resolved().method_options == {
        "toy_count": 2}
    with pytest.raises(ValueError, match=r"toy_count \(--toy-count\) must be a positive integer, got 0"):
        RunConfig(method="toy", method_options={"toy_count": 0}, **LINREG).resolved()
    with pytest.raises(ValueError, match="method option 'toy_count' does not apply to method sgd-lp "
                                         r"\(it is an option of toy\); sgd-lp's options: loss_scale, "
                                         "stats_every"):
        RunConfig(method="sgd-lp", method_options={"toy_count": 2}, **LINREG).resolved()
    with pytest.raises(ValueError, match="method option 'toy_count' does not apply to method sgd-fp "
                                         r"\(it is an option of toy\); sgd-fp's options: none"):
        RunConfig(method="sgd-fp", method_options={"toy_count": 2}, **LINREG).resolved()
    with pytest.raises(ValueError, match=r"method option 'speed' does not apply to method toy \(no method "
                                         r"takes it\); toy's options: toy_count"):
        RunConfig(method="toy", method_options={"speed": 2}, **LINREG).resolved()
    with pytest.raises(ValueError, match=r"log_every \(--log-every\) must be a positive integer"):
        RunConfig(method="toy", log_every=0, **LINREG).resolved()


def test_configs_without_options_or_step_logging_keep_their_old_dict():
    config = RunConfig(method="sgd-lp", **LINREG).resolved().to_dict()
    assert "method_options" not in config and "log_every" not in config


def test_a_method_with_options_runs_from_the_cli_logs_steps_and_resumes_bit_identical(toy, tmp_path,
                                                                                      run_killed):
    out = tmp_path / "cli"
    assert main(["train", "--task", "linreg", "--method", "toy", "--epochs", "3", "--batch-size", "64",
                 "--toy-count", "2", "--log-every", "4", "--formats", "bfp8", "--out", str(out)]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["method_options"] == {"toy_count": 2} and record["config"]["log_every"] == 4
    assert record["toy"] == {"epochs_seen": 6}
    assert [row["toy_epochs_seen"] for row in record["epochs"]] == [2, 4, 6]
    steps = record["steps"]
    assert [row["step"] for row in steps] == list(range(4, 3 * record["steps_per_epoch"] + 1, 4))
    assert all(row["dist_to_opt"] > 0 and row["loss"] > 0 for row in steps)
    assert steps[-1]["toy_epochs_seen"] == 4  # logged during epoch 3, before it counted

    config = RunConfig(method="toy", method_options={"toy_count": 2}, log_every=4, **LINREG)
    run_killed(config, tmp_path / "killed", 2)
    resumed = run_experiment(config, tmp_path / "killed", resume=True)
    assert resumed["steps"] == steps and resumed["toy"] == record["toy"]
    a, b = (load_checkpoint(d / "checkpoint.pt") for d in (out, tmp_path / "killed"))
    assert a["toy"] == b["toy"] == {"epochs_seen": 6}
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_sweep_gives_each_point_the_options_of_its_method(toy):
    spec = GridSpec(task="linreg", methods=("sgd-fp", "toy"), formats=("bfp8",),
                    fixed={"epochs": 1, "method_options": {"toy_count": 3}})
    configs = {p["config"]["method"]: p["config"] for p in expand_grid(spec)}
    assert "method_options" not in configs["sgd-fp"]
    assert configs["toy"]["method_options"] == {"toy_count": 3}
    with pytest.raises(ValueError, match="method option toy_count applies to toy, none of the grid's"):
        expand_grid(GridSpec(task="linreg", methods=("sgd-fp",), formats=("bfp8",),
                             fixed={"method_options": {"toy_count": 3}}))
    with pytest.raises(ValueError, match="unknown method option 'speed'"):
        expand_grid(GridSpec(task="linreg", methods=("toy",), formats=("bfp8",),
                             fixed={"method_options": {"speed": 3}}))


def test_sweep_cli_gives_the_method_options_to_the_grid(toy, tmp_path):
    # (the points themselves run in worker processes, where the toy method is not registered)
    args = build_parser().parse_args(["sweep", "--task", "linreg", "--methods", "sgd-fp,toy", "--formats",
                                      "bfp8", "--epochs", "1", "--toy-count", "3", "--log-every", "5",
                                      "--out", str(tmp_path)])
    configs = {p["config"]["method"]: p["config"] for p in expand_grid(spec_from_args(args))}
    assert configs["toy"]["method_options"] == {"toy_count": 3} and configs["toy"]["log_every"] == 5
    assert "method_options" not in configs["sgd-fp"] and configs["sgd-fp"]["log_every"] == 5
