"""Benchmarks and opt-in exhaustive checks of lowprec (not part of the installed packages).

Run them from the repository root, e.g. ``python benchmarks/quantize.py``; results are kept
in ``benchmarks/RESULTS.md``.
"""
