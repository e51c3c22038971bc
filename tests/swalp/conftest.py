import pytest

from swalp import experiments
from swalp.threads import single_threaded


@pytest.fixture(autouse=True)
def _one_thread():
    """swalp runs single-threaded (as run_experiment does)."""
    with single_threaded():
        yield


@pytest.fixture
def run_killed(monkeypatch):
    """``run_killed(config, out, epochs)``: ``run_experiment(config, out)`` killed
    (KeyboardInterrupt) as epoch ``epochs + 1`` starts, so ``out`` keeps the checkpoint of
    epoch ``epochs``."""

    def run(config, out, epochs):
        original, calls = experiments.Run.run_epoch, {"n": 0}

        def killed(self):
            calls["n"] += 1
            if calls["n"] == epochs + 1:
                raise KeyboardInterrupt
            return original(self)

        monkeypatch.setattr(experiments.Run, "run_epoch", killed)
        with pytest.raises(KeyboardInterrupt):
            experiments.run_experiment(config, out)
        monkeypatch.setattr(experiments.Run, "run_epoch", original)

    return run
