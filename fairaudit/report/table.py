"""Terminal view: rich tables of groups, criteria and the gate verdict (plain text when piped)."""

from __future__ import annotations

import io

from fairaudit.report.formatting import fmt, fmt_estimate, fmt_p
from fairaudit.result import AuditResult

GROUP_COLUMNS = ("prevalence", "tpr", "fpr", "fnr", "ppv", "selection_rate", "balanced_accuracy", "auc", "ece")
HEADERS = {
    "prevalence": "prev", "tpr": "TPR", "fpr": "FPR", "fnr": "FNR", "ppv": "PPV",
    "selection_rate": "sel. rate", "balanced_accuracy": "bal. acc", "auc": "AUC", "ece": "ECE",
}


def render_table(
    result: AuditResult, *, width: int = 160, color: bool = False, suppress_small_cells: int = 0, **_: object,
) -> str:
    """The audit as rich tables; one block per attribute and intersection.

    With ``suppress_small_cells`` K, counts from 1 to K-1 (in cells and messages) show as ``<K``
    and groups with fewer than K rows have their numbers withheld, as in the other reports.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from fairaudit.report.context import Suppressor

    sup = Suppressor(suppress_small_cells)

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="auto" if color else None,
                      highlight=False, emoji=False)
    level = int(round(result.run.confidence_level * 100))
    ci_note = f"{level}% CI, {result.run.n_bootstrap} bootstrap replicates ({result.run.bootstrap_unit})" \
        if result.run.n_bootstrap else "no confidence intervals (--bootstrap 0)"
    console.print(
        f"fairaudit {escape(result.run.tool_version)} · {sup.count(result.dataset.n_rows)} rows · label "
        f"'{escape(result.dataset.label)}' · threshold {result.threshold.value:g} "
        f"({escape(result.threshold.source)}) · {ci_note}"
    )
    ov = Table(title="Overall", title_justify="left", show_lines=False)
    for col in ("n", "pos", "neg", *GROUP_COLUMNS):
        ov.add_column(HEADERS.get(col, col), justify="right")
    m = result.overall.metrics
    ov.add_row(sup.count(result.overall.n), sup.count(result.overall.n_pos), sup.count(result.overall.n_neg),
               *(fmt_estimate(m[c]) for c in GROUP_COLUMNS))
    console.print(ov)
    for attr in result.audited_attributes:
        t = Table(title=f"By {escape(attr)}", title_justify="left")
        t.add_column("group", justify="left")
        for col in ("n", "pos", "neg", *GROUP_COLUMNS):
            t.add_column(HEADERS.get(col, col), justify="right")
        t.add_column("status")
        for g in result.groups_of(attr):
            hidden, ev_hidden = sup.group_hidden(g), sup.events_hidden(g)
            t.add_row(escape(g.group), sup.count(g.n),
                      "suppressed" if ev_hidden else sup.count(g.n_pos),
                      "suppressed" if ev_hidden else sup.count(g.n_neg),
                      *("suppressed" if (hidden or (ev_hidden and c == "prevalence")) else fmt_estimate(g.metrics[c])
                        for c in GROUP_COLUMNS),
                      "ok" if g.status == "ok" else "insufficient")
        console.print(t)
        c = Table(title=f"Fairness criteria: {escape(attr)}", title_justify="left")
        for col in ("criterion", "value [CI]", "p", "q", "status", "note"):
            c.add_column(col)
        for crit in (x for x in result.criteria if x.attribute == attr):
            note = ""
            if crit.status != "ok":
                note = escape(sup.text(crit.reason or ""))
                if crit.sufficient_groups_only is not None:
                    note += f" · over sufficient groups: {fmt_estimate(crit.sufficient_groups_only)}"
            c.add_row(crit.name, fmt_estimate(_est(crit)), fmt_p(crit.p_value), fmt_p(crit.q_value),
                      crit.status, note)
        console.print(c)
        s = Table(title=f"Spread across groups: {escape(attr)}", title_justify="left")
        for col in ("metric", "min", "max", "SD", "SER", "worst group"):
            s.add_column(col)
        for sm in (x for x in result.summaries if x.attribute == attr and x.metric in ("auc", "tpr", "fnr", "balanced_accuracy")):
            s.add_row(sm.metric, fmt(sm.min), fmt(sm.max), fmt(sm.sd), fmt(sm.ser, 2),
                      escape(sm.worst_group or "—"))
        console.print(s)
    if result.gate.status != "not_run":
        console.print(f"Gate: {result.gate.status.upper()}")
        for r in result.gate.rules:
            console.print(f"  [{r.status}] {sup.text(r.id)}: {sup.text(r.message)}", markup=False)
    return buf.getvalue()


def _est(crit):  # a criterion's value and CI as an Estimate-like pair
    from fairaudit.result import Estimate

    return Estimate(crit.value, crit.ci)
