"""The compare report: a :class:`~fairaudit.result_paired.CompareResult` as a plain context, HTML
and forest plots.

The verdict comes first; then the overall changes, one forest plot per attribute and key metric
(each group's change with its paired interval, thick, and its simultaneous interval, thin; the
rule's bound as a dashed line), and the full per-group tables. Small-cell suppression follows the
audit report: a group with fewer than K rows has every number withheld and is left out of the
plots; counts from 1 to K-1 show as ``<K``. Nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairaudit.naming import SEPARATOR
from fairaudit.report.context import Suppressor, verdict_context
from fairaudit.report.figures import RC, new_figure, plot_label, to_data_uri
from fairaudit.report.formatting import fmt, fmt_p
from fairaudit.result import METRICS
from fairaudit.result_paired import CompareResult, MetricChange

TEMPLATE = "compare.html.j2"
METRIC_LABELS = {
    "tpr": "Sensitivity (TPR)", "fpr": "False-positive rate (FPR)", "ppv": "PPV", "npv": "NPV",
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy",
    "selection_rate": "Selection rate", "auc": "AUC", "brier": "Brier score", "ece": "ECE",
}
HIGHER_IS_BETTER = {k: m.higher_is_better for k, m in METRICS.items() if m.higher_is_better is not None}
"""The direction of every performance metric, from the one metric table (``result.METRICS``)."""
FOREST_METRICS = ("tpr", "fpr", "auc")
MAX_FOREST_GROUPS = 40


def signed(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:+.{digits}f}"


def signed_ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return "" if ci is None else f"{ci[0]:+.{digits}f} to {ci[1]:+.{digits}f}"


def rule_subject(rule_id: str, subjects: set[str]) -> str | None:
    """The subject (``"race = White"``, ``"sex"``) a rule outcome's id ends with (``"... [race = White]"``);
    group names may themselves hold brackets, so every ``[`` is tried against the known subjects."""
    if not rule_id.endswith("]"):
        return None
    for pos in (i for i, ch in enumerate(rule_id) if ch == "["):
        if rule_id[pos + 1:-1] in subjects:
            return rule_id[pos + 1:-1]
    return None


def _judged_subjects(result: CompareResult) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per metric, the subjects (``"race = White"``) of failed and of inconclusive rule outcomes."""
    subjects = {f"{c.attribute} = {c.group}" for c in result.paired.changes} | set(result.paired.attributes)
    metric_of = {r["id"]: r.get("metric") for r in result.change_rules}
    failed: dict[str, set[str]] = {}
    undecided: dict[str, set[str]] = {}
    for o in result.gate.rules:
        subject = rule_subject(o.id, subjects)
        if subject is None or o.status == "pass":
            continue
        metric = metric_of.get(o.id[: -len(subject) - 3])
        if metric is not None:
            (failed if o.status == "fail" else undecided).setdefault(metric, set()).add(subject)
    for m in undecided:
        undecided[m] -= failed.get(m, set())
    return failed, undecided


WITHHELD = "values withheld: small cell."
"""The message of a rule outcome whose group is withheld by small-cell suppression."""


def hidden_subjects(result: CompareResult, sup: Suppressor) -> set[str]:
    """The subjects (``"site = tiny"``) of groups that ``sup`` withholds (fewer than K rows)."""
    return {f"{c.attribute} = {c.group}" for c in result.paired.changes
            if c.attribute != "overall" and sup.hides(c.n)}


def _change_row(c: MetricChange, sup: Suppressor) -> dict[str, Any]:
    hidden = sup.hides(c.n)
    # Coloured only when the paired interval excludes 0: worse (harmful side) or better.
    direction = ""
    if c.ci is not None and c.metric in HIGHER_IS_BETTER and not hidden:
        sign = 1.0 if HIGHER_IS_BETTER[c.metric] else -1.0
        lo, hi = sorted((sign * c.ci[0], sign * c.ci[1]))
        direction = "worse" if hi < 0 else ("better" if lo > 0 else "")
    return {
        "group": c.group, "metric": c.metric, "metric_label": METRIC_LABELS.get(c.metric, c.metric),
        "n": sup.count(c.n), "n_pos": "—" if hidden else sup.count(c.n_pos),
        "n_neg": "—" if hidden else sup.count(c.n_neg),
        "baseline": "suppressed" if hidden else fmt(c.reference_value),
        "candidate": "suppressed" if hidden else fmt(c.value),
        "change": "suppressed" if hidden else signed(c.change),
        "change_sort": "" if hidden or c.change is None else repr(c.change),
        "ci": "" if hidden else signed_ci(c.ci),
        "sim_ci": "" if hidden else signed_ci(c.simultaneous_ci),
        "p": "" if hidden else fmt_p(c.p_value), "p_method": c.p_method,
        "status": "ok" if c.sufficient else "insufficient",
        "reason": sup.text(c.reason or ""),
        "direction": direction,
    }


def _bound_lines(result: CompareResult, metric: str) -> list[float]:
    """Bounds of the policy's per-group change rules on ``metric``."""
    out = set()
    for r in result.change_rules:
        if r.get("metric") == metric and r.get("per_group"):
            if r.get("max_drop") is not None:
                out.add(-float(r["max_drop"]))
            if r.get("max_increase") is not None:
                out.add(float(r["max_increase"]))
    return sorted(out)


def forest_figure(rows: Sequence[MetricChange], attribute: str, metric: str,
                  bounds: Sequence[float], failed: set[str],
                  undecided: set[str] | frozenset[str] = frozenset()) -> str | None:
    """Change of one metric per group: paired CI (thick), simultaneous interval (thin), bounds.

    Groups (``"attr = group"``) in ``failed`` are drawn as red crosses, in ``undecided``
    (an inconclusive rule) in amber, insufficient groups in grey."""
    rows = [c for c in rows if c.change is not None]
    if not rows:
        return None
    import matplotlib

    if len(rows) > MAX_FOREST_GROUPS:  # the groups whose interval reaches furthest into harm
        higher = HIGHER_IS_BETTER.get(metric, True)

        def harm(c: MetricChange) -> float:
            lo, hi = c.simultaneous_ci or c.ci or (c.change or 0.0, c.change or 0.0)
            return -lo if higher else hi

        rows = sorted(rows, key=harm, reverse=True)[:MAX_FOREST_GROUPS]
    with matplotlib.rc_context(RC):
        fig = new_figure(6.2, 1.5 + 0.3 * len(rows))
        ax = fig.add_subplot()
        ax.axvline(0.0, color="#8a929b", linewidth=0.9)
        for b in bounds:
            ax.axvline(b, color="#D55E00", linewidth=1.0, linestyle="--")
        for i, c in enumerate(rows):
            subject = f"{attribute} = {c.group}"
            colour = ("#D55E00" if subject in failed else "#8a929b" if not c.sufficient
                      else "#E69F00" if subject in undecided else "#0072B2")
            if c.simultaneous_ci is not None:
                ax.plot(c.simultaneous_ci, [i, i], color=colour, linewidth=1.0)
            if c.ci is not None:
                ax.plot(c.ci, [i, i], color=colour, linewidth=3.2, solid_capstyle="butt")
            ax.plot([c.change], [i], marker="X" if subject in failed else "o", color=colour,
                    markersize=6, markeredgecolor="white", linestyle="none")
        labels = [plot_label(c.group) + ("" if c.sufficient else " (insufficient)") for c in rows]
        ax.set_yticks(range(len(rows)), labels)
        ax.invert_yaxis()
        ax.set(xlabel=f"Change in {METRIC_LABELS.get(metric, metric)}: candidate − baseline")
        shown = {f"{attribute} = {c.group}" for c in rows}
        handles = [matplotlib.lines.Line2D([], [], color="#0072B2", linewidth=3.2, label="paired CI"),
                   matplotlib.lines.Line2D([], [], color="#0072B2", linewidth=1.0, label="simultaneous")]
        if failed & shown:
            handles.append(matplotlib.lines.Line2D([], [], color="#D55E00", marker="X", linestyle="none",
                                                   label="rule failed"))
        if undecided & shown:
            handles.append(matplotlib.lines.Line2D([], [], color="#E69F00", marker="o", linestyle="none",
                                                   label="inconclusive"))
        if bounds:
            handles.append(matplotlib.lines.Line2D([], [], color="#D55E00", linestyle="--", label="rule bound"))
        # Above the axes: below them it would meet the axis label when there are few groups.
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=len(handles),
                  handlelength=2.0, columnspacing=1.2)
        return to_data_uri(fig, f"Change in {metric} by group of {attribute}")


def _attribute_context(result: CompareResult, attribute: str, sup: Suppressor, figures: bool,
                       failed: dict[str, set[str]], undecided: dict[str, set[str]]) -> dict[str, Any]:
    p = result.paired
    cond = result.condition
    rows = [_change_row(p.change(cond, attribute, g, m), sup) for g in p.groups[attribute] for m in p.metrics]
    forests = []
    if figures:
        for m in (x for x in FOREST_METRICS if x in p.metrics):
            shown = [p.change(cond, attribute, g, m) for g in p.groups[attribute]]
            shown = [c for c in shown if not sup.hides(c.n)]
            uri = forest_figure(shown, attribute, m, _bound_lines(result, m), failed.get(m, set()),
                                undecided.get(m, set()))
            if uri:
                forests.append({"uri": uri, "metric": METRIC_LABELS[m]})
    crits = [
        {"criterion": c.criterion, "baseline": fmt(c.reference_value), "candidate": fmt(c.value),
         "change": signed(c.change), "ci": signed_ci(c.ci), "p": fmt_p(c.p_value),
         "excluded": ", ".join(c.excluded_groups)}
        for c in p.criterion_changes if c.condition == cond and c.attribute == attribute
    ]
    n_hidden = sum(1 for g in p.groups[attribute] if sup.hides(p.change(cond, attribute, g, p.metrics[0]).n))
    return {
        "name": attribute, "anchor": f"a{p.attributes.index(attribute)}",
        "kind": "intersection" if SEPARATOR in attribute and attribute not in result.attributes else "attribute",
        "n_groups": len(p.groups[attribute]), "rows": rows, "forests": forests, "criteria": crits,
        "n_hidden": n_hidden,
    }


def build_compare_context(result: CompareResult, *, suppress_small_cells: int = 0,
                          no_fail: bool = False, figures: bool = True) -> dict[str, Any]:
    """Everything the compare views show, as plain strings (data text unescaped: the
    template's autoescape and the Markdown escaper handle it)."""
    sup = Suppressor(suppress_small_cells)
    verdict = verdict_context(result, no_fail=no_fail, sup=sup)  # reads result.gate only
    hidden = hidden_subjects(result, sup)
    outcomes = {sup.text(o.id): o for o in result.gate.rules}
    for r in verdict["rules"] + verdict["rules_folded"]:
        o = outcomes.get(r["id"])
        if o is not None:  # changes read better signed: "-0.117 to -0.068"
            r.update(value=signed(o.value), ci=signed_ci(o.ci))
        if rule_subject(r["id"], hidden):
            r.update(value="suppressed", ci="", message=WITHHELD, message_head="")
    failed, undecided = _judged_subjects(result)
    p = result.paired
    overall = [_change_row(p.change(result.condition, "overall", "overall", m), sup) for m in p.metrics]
    sides = [
        {"role": s.role, "kind": s.kind, "source": s.source, "sha256": (s.sha256 or "")[:12],
         "score": s.score or "", "threshold": fmt(s.threshold), "threshold_source": s.threshold_source,
         "group_thresholds": "" if not s.group_thresholds else
         f"{s.group_attribute}: " + ", ".join(f"{g} {t:.3f}" for g, t in s.group_thresholds.items())}
        for s in (result.baseline, result.candidate)
    ]
    return {
        "title": "Pre-deployment comparison: candidate against baseline",
        "tool_version": result.tool_version, "level_pct": f"{p.confidence_level:.0%}",
        "verdict": verdict, "sides": sides, "overall": overall,
        "attributes": [_attribute_context(result, a, sup, figures, failed, undecided) for a in p.attributes[1:]],
        "warnings": [sup.text(w) for w in result.warnings],
        "suppress": suppress_small_cells, "n_rows": sup.count(result.n_rows),
        "settings": [
            ("data", f"{result.data_source} (SHA-256 {result.data_sha256[:12]})"),
            ("rows", sup.count(result.n_rows)), ("label", result.label),
            ("paired on", result.id_column or "row position (one shared file)"),
            ("resampled unit", f"{p.unit} ({p.n_units} {p.unit}s)"),
            ("bootstrap replicates", str(p.n_bootstrap)), ("seed", str(p.seed)),
            ("confidence level", f"{p.confidence_level:g}"),
            ("sufficient group", f"at least {p.min_group_size} rows and {p.min_group_events} positives and negatives"),
            *((k.replace("_", " "), v) for k, v in p.method.items()),
            ("command", result.command or "—"), ("created", result.created),
        ],
    }


def render_compare_html(result: CompareResult, *, suppress_small_cells: int = 0,
                        no_fail: bool = False, figures: bool = True) -> str:
    """The self-contained HTML page of a comparison (verdict first)."""
    from fairaudit.report.html import render_template

    return render_template(TEMPLATE, build_compare_context(
        result, suppress_small_cells=suppress_small_cells, no_fail=no_fail, figures=figures))


__all__ = ["WITHHELD", "build_compare_context", "forest_figure", "hidden_subjects", "render_compare_html",
           "rule_subject"]
