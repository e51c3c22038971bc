"""Run functions for sweep tests (module-level so worker processes and Ray tasks can import them).

``toy_run`` is a deterministic stand-in for a training run: a few steps of seeded SGD on a
least-squares problem with the weights rounded to a fixed-point grid as fine as the point's W
format has bits, so its numbers depend on the seed and the formats the way a real run's do.
(Plain torch rounding: no Numba compilation in fresh worker processes, so the tests are quick.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import torch

import lpformats as lp
from lpformats.analyze import bits_per_element


def toy_run(config: Mapping[str, Any]) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(int(config["seed"]))
    x = torch.randn(64, 8, generator=gen)
    w_true = torch.randn(8, 1, generator=gen)
    y = x @ w_true
    w = torch.zeros(8, 1)
    fmt = config["formats"]["W"]
    for _ in range(int(config.get("epochs", 5))):
        grad = x.T @ (x @ w - y) / len(x)
        w = w - 0.1 * grad
        if fmt != "fp32":
            scale = 2.0 ** (lp.parse(fmt).bits - 2)
            w = torch.round(w * scale) / scale
    loss = float(((x @ w - y) ** 2).mean())
    bits = bits_per_element(fmt, (8, 1))
    return {
        "final": {"test_error": loss, "train_loss": loss},
        "cost": {"energy_pj_per_step": 10.0 * bits, "cycles_per_step": 100},
        "bits_per_element": bits,
        "epochs": [{"loss": loss}],
        "pid": os.getpid(),
    }


def slow_toy_run(config: Mapping[str, Any]) -> dict[str, Any]:
    time.sleep(0.4)
    return toy_run(config)


def failing_toy_run(config: Mapping[str, Any]) -> dict[str, Any]:
    if config["formats"]["W"] == "bfp(6)":
        raise ValueError("toy failure at bfp(6)")
    return toy_run(config)


def coded_toy_run(config: Mapping[str, Any]) -> dict[str, Any]:
    """``toy_run`` whose result names the code that ran it, as a real run record does."""
    from swalp.provenance import code_version

    return toy_run(config) | {"code": code_version()}
