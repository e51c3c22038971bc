"""Training protocols: which hyperparameters, schedule, data normalization and evaluation a
run uses, per task and method, and which number of the run the reference code reports.

``paper`` (the default for the CIFAR tasks) is how the SWALP paper obtained each number of
its table (Yang et al., ICML 2019, Table 2):

* SGD-LP and SWALP from the authors' code, ``stevenygd/SWALP`` (``train.py``, ``utils.py``,
  ``exp/block_vgg_swa.sh``, ``exp/block_resnet_swa.sh``): one SWALP run, lr decaying to 1 %
  by 90 % of ``swa_start`` and then ``swa_lr``; BatchNorm statistics of the SGD iterate
  recomputed before every test. Its ``SGD Error`` is the iterate's test error at epoch
  ``swa_start`` (a budget of ``swa_start`` epochs: our ``sgd-lp`` paper protocol trains
  exactly those epochs, whose schedule is the SWALP run's); its ``SWA Error`` is the average's
  test error after epoch ``epochs - 1`` (``train.py`` stores it when ``epoch + 1 == epochs - 1``).
* SGD-FP and SWA-FP from the SWA code the paper cites, ``timgaripov/swa`` (``train.py``,
  ``README.md``'s commands, ``models/vgg.py``, ``models/preresnet.py``): SGD over its own
  budget (200 epochs for VGG16, 150 for PreResNet-164); SWA over 1.5 budgets, the rate decaying
  to ``swa_lr`` (not 1 %) by 90 % of ``swa_start``, averaging from ``swa_start`` (161; 126),
  no BatchNorm refresh of the SGD iterate; VGG16 inputs normalized with ImageNet statistics.

``toolkit`` is the task's own defaults for every method (the same budget for all; the only
protocol of the tasks without a ``paper`` one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROTOCOLS = ("paper", "toolkit")

SWALP_CODE = "stevenygd/SWALP"
SWA_CODE = "timgaripov/swa"


@dataclass(frozen=True)
class Reported:
    """A number the reference code prints: ``field`` of the history row of an epoch (1-based)
    given by ``epoch``: ``"end"`` (the last), ``"end-1"`` (the one before) or ``"swa_start"``."""

    label: str
    field: str
    epoch: str = "end"

    def epoch_of(self, epochs: int, swa_start: int | None) -> int:
        """The 1-based epoch this number is read at, for a run of ``epochs`` epochs."""
        return {"end": epochs, "end-1": epochs - 1, "swa_start": swa_start or epochs}[self.epoch]


@dataclass(frozen=True)
class Protocol:
    """How a run is trained and evaluated.

    Attributes:
        name: ``toolkit``, ``swalp-code`` or ``swa-code``.
        paper: the protocol the paper's table used for this task and method.
        source: reference files followed.
        settings: :class:`~swalp.experiments.RunConfig` fields it sets (a field the config
            gives explicitly overrides it; the record lists such overrides).
        refresh_iterate_bn: recompute the SGD iterate's BatchNorm statistics (one pass over the
            training data, cumulative average) before testing it every epoch.
        normalization: input normalization (:data:`swalp.data.NORMALIZATIONS`), or None for
            the task's own.
        reported: the numbers the reference code prints for this run.
    """

    name: str
    paper: bool = False
    source: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    refresh_iterate_bn: bool = False
    normalization: str | None = None
    reported: tuple[Reported, ...] = ()


TOOLKIT = Protocol("toolkit")

_SGD = (Reported("SGD", "test_error"),)
_SWA = (Reported("SWA", "swa_test_error"),)
_SWALP_SGD = (Reported("SGD Error (train.py)", "test_error"),)
_SWALP_SWA = (Reported("SWA Error (train.py)", "swa_test_error", "end-1"),
              Reported("SGD Error (train.py)", "test_error", "swa_start"))
_COMMON = dict(batch_size=128, momentum=0.9)


def _paper(swalp_script: str, swa_model: str, normalization_fp: str, *, lr: float, weight_decay: float,
           swalp_epochs: int, swalp_start: int, swa_epochs: int, swa_start: int, sgd_epochs: int,
           swa_lr: float, swalp_lr: float = 0.01) -> dict[str, Protocol]:
    """The four methods' paper protocols of one model (see the module docstring)."""
    swalp_source = (f"{SWALP_CODE} {swalp_script}", f"{SWALP_CODE} train.py", f"{SWALP_CODE} utils.py")
    swa_source = (f"{SWA_CODE} README.md", f"{SWA_CODE} train.py", f"{SWA_CODE} {swa_model}")
    common = dict(_COMMON, lr=lr, weight_decay=weight_decay)
    return {
        "sgd-fp": Protocol("swa-code", True, swa_source, dict(common, epochs=sgd_epochs, schedule="paper"),
                           normalization=normalization_fp, reported=_SGD),
        "swa-fp": Protocol("swa-code", True, swa_source,
                           dict(common, epochs=swa_epochs, swa_start=swa_start, swa_lr=swa_lr,
                                schedule="swa"),
                           normalization=normalization_fp, reported=_SWA),
        "sgd-lp": Protocol("swalp-code", True, swalp_source,
                           dict(common, epochs=swalp_start, schedule="paper"),
                           refresh_iterate_bn=True, normalization="cifar", reported=_SWALP_SGD),
        "swalp": Protocol("swalp-code", True, swalp_source,
                          dict(common, epochs=swalp_epochs, swa_start=swalp_start, swa_lr=swalp_lr,
                               schedule="paper"),
                          refresh_iterate_bn=True, normalization="cifar", reported=_SWALP_SWA),
    }


def _vgg16(swa_lr: float) -> dict[str, Protocol]:
    # SWALP: exp/block_vgg_swa.sh (--epochs=300 --lr_init=0.05 --swa_start 200 --swa_lr 0.01 --wd=5e-4);
    # SWA: README.md "VGG16" (SGD --epochs=200; SWA --epochs=300 --swa_start=161 --swa_lr=0.01).
    return _paper("exp/block_vgg_swa.sh", "models/vgg.py", "imagenet", lr=0.05, weight_decay=5e-4,
                  swalp_epochs=300, swalp_start=200, swa_epochs=300, swa_start=161, sgd_epochs=200,
                  swa_lr=swa_lr)


def _preresnet164(swa_lr: float) -> dict[str, Protocol]:
    # SWALP: exp/block_resnet_swa.sh (--epochs=225 --lr_init=0.1 --swa_start=150 --swa_lr 0.01 --wd=3e-4);
    # SWA: README.md "PreResNet" (SGD --epochs=150; SWA --epochs=225 --swa_start=126, swa_lr 0.01
    # for CIFAR-10, 0.05 for CIFAR-100).
    return _paper("exp/block_resnet_swa.sh", "models/preresnet.py", "cifar", lr=0.1, weight_decay=3e-4,
                  swalp_epochs=225, swalp_start=150, swa_epochs=225, swa_start=126, sgd_epochs=150,
                  swa_lr=swa_lr)


#: task -> method -> the paper's protocol.
PAPER: dict[str, dict[str, Protocol]] = {
    "cifar10-vgg16": _vgg16(0.01),
    "cifar100-vgg16": _vgg16(0.01),
    "cifar10-preresnet164": _preresnet164(0.01),
    "cifar100-preresnet164": _preresnet164(0.05),
}


def default_protocol(task: str) -> str:
    """``paper`` for the tasks that have one, else ``toolkit``."""
    return "paper" if task in PAPER else "toolkit"


def get_protocol(task: str, method: str, name: str) -> Protocol:
    """The protocol ``name`` of ``task`` (a canonical task name) trained with ``method``.

    Raises:
        ValueError: unknown protocol, or ``paper`` for a task (or a method) the paper has no protocol for.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {name!r}")
    if name == "toolkit":
        return TOOLKIT
    if task not in PAPER:
        raise ValueError(f"task {task} has no paper protocol (the paper's are for "
                         f"{', '.join(sorted(PAPER))}); use protocol toolkit")
    if method not in PAPER[task]:
        raise ValueError(f"method {method} has no paper protocol for {task} (the paper's methods are "
                         f"{', '.join(PAPER[task])}); use protocol toolkit")
    return PAPER[task][method]
