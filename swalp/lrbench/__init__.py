"""LRBench (Wu et al., BigData 2019) on swalp: evaluate learning-rate policies with LRBench's
metrics, rank them, recommend one, at full and low precision.

Modules: :mod:`~swalp.lrbench.analysis` (metrics per run and per policy, ranks, agreement,
recommendation), :mod:`~swalp.lrbench.study` (the sweep grid of a study and its files),
:mod:`~swalp.lrbench.plots` (figures). The per-run metrics themselves are in
:mod:`swalp.metrics`; the policies in :mod:`swalp.schedules`.
"""
