"""Plain-text tables of run records: accuracy and accelerator cost side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swalp.roles import ROLES
from swalp.tasks import CLASSIFICATION, REGRESSION, get_task


def formats_label(record: dict[str, Any]) -> str:
    """``bfp8`` when every role has one format, else ``W=..,A=..`` (fp32 roles included)."""
    fmts = record["formats"]
    values = {fmts[r] for r in ROLES}
    return values.pop() if len(values) == 1 else ",".join(f"{r}={fmts[r]}" for r in ROLES)


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def summary_rows(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One row per record: method, formats, test error of the iterate and of the average
    (full precision; low precision), energy per step in microjoules, speedup and energy
    saving against fp32."""
    rows = []
    for r in records:
        final, cost = r["final"], r["cost"]
        energy = cost.get("energy_pj_per_step")
        speedup, saving = cost.get("speedup_vs_fp32"), cost.get("energy_ratio_vs_fp32")
        rows.append([
            r["method"], formats_label(r), _number(final["test_error"], ".2f"),
            _number(final["swa_test_error"], ".2f"), _number(final["swa_lp_test_error"], ".2f"),
            _number(None if energy is None else energy / 1e6, ".1f"),
            _number(speedup, ".2f") + ("x" if speedup is not None else ""),
            _number(saving, ".2f") + ("x" if saving is not None else ""),
        ])
    return rows


def header(records: Sequence[dict[str, Any]]) -> list[str]:
    """Column names of :func:`summary_rows`; the error columns name their measure: ``test err
    %`` (classification), ``test MSE`` (regression) or, for records of both kinds, ``test err
    % / MSE``."""
    kinds = {get_task(r["task"]).kind for r in records}
    measure = " / ".join(name for kind, name in ((CLASSIFICATION, "test err %"), (REGRESSION, "test MSE"))
                         if kind in kinds) or "test err %"
    return ["method", "formats", f"{measure} (iterate)", f"{measure} (average)", f"{measure} (avg, LP)",
            "energy/step uJ", "speedup vs fp32", "energy saving vs fp32"]


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    """Aligned text table, or a Markdown table with ``markdown``."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*row) for row in rows]
    return "\n".join(out)


def summary_table(records: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The demo's table for ``records`` (see :func:`summary_rows`)."""
    return render_table(header(records), summary_rows(records), markdown)
