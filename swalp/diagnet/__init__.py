"""Implicit bias of diagonal linear networks and what number formats do to it.

The setting of Moroshko, Gunasekar, Woodworth, Lee, Srebro and Soudry, "Implicit Bias in Deep
Linear Classification: Initialization Scale vs Training Accuracy" (NeurIPS 2020): a diagonal
linear network ``w = u_plus**D - u_minus**D`` initialised at scale ``alpha``, trained by
gradient flow on the exponential loss over separable data. Whether it ends near the l2 (kernel)
or the l1 (rich) max-margin solution depends on ``alpha`` against the training loss ``eps``
reached, and some limits need ``eps`` far below what floating point represents.

Modules, one job each: :mod:`~swalp.diagnet.data` (separable data from a sparse teacher),
:mod:`~swalp.diagnet.maxmargin` (l1 LP and l2 QP max-margin solutions, normalised margins),
:mod:`~swalp.diagnet.model` (the network and its gradient), :mod:`~swalp.diagnet.numerics`
(float64 or an lpformats format), :mod:`~swalp.diagnet.trainer` (loss-normalised gradient
descent, loss in log space or held in a format), :mod:`~swalp.diagnet.records` (run records
on disk), :mod:`~swalp.diagnet.study` (the float64 alpha sweep), :mod:`~swalp.diagnet.format_study`
(the per-format table), :mod:`~swalp.diagnet.plots`. Command line: ``swalp diagnet``.
"""

from swalp.diagnet.data import Dataset, make_separable
from swalp.diagnet.maxmargin import MaxMargins, l1_max_margin, l2_max_margin, normalized_margin
from swalp.diagnet.model import DiagonalNetwork
from swalp.diagnet.trainer import Run, TrainConfig, train

__all__ = ["Dataset", "DiagonalNetwork", "MaxMargins", "Run", "TrainConfig", "l1_max_margin",
           "l2_max_margin", "make_separable", "normalized_margin", "train"]
