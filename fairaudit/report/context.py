"""AuditResult -> plain context: formatted strings, ordered rows, figures as data URIs.

Nothing here computes a statistic; it only selects, orders and formats what the result holds
(coverage.py's pattern: build plain data, then render). The HTML and Markdown views share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairaudit.result import METRIC_NAMES, AuditResult, Estimate, GroupResult, RuleOutcome

METRIC_LABELS: Mapping[str, str] = {
    "prevalence": "Prevalence",
    "tpr": "TPR (sensitivity)",
    "fpr": "FPR",
    "tnr": "TNR (specificity)",
    "fnr": "FNR (underdiagnosis)",
    "ppv": "PPV",
    "npv": "NPV",
    "selection_rate": "Selection rate",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "auc": "AUC",
    "brier": "Brier score",
    "ece": "ECE",
}
# Shown by default; the rest sit in a collapsible "all metrics" table.
KEY_METRICS = ("auc", "tpr", "fpr", "ppv", "npv", "balanced_accuracy", "ece")

CRITERION_LABELS: Mapping[str, str] = {
    "demographic_parity_difference": "Demographic parity difference",
    "demographic_parity_ratio": "Demographic parity ratio",
    "equal_opportunity_difference": "Equal opportunity difference",
    "equal_opportunity_ratio": "Equal opportunity ratio",
    "equalized_odds_difference": "Equalised odds difference",
    "equalized_odds_ratio": "Equalised odds ratio",
    "auc_difference": "AUC difference",
}

STATUS_LABELS: Mapping[str, str] = {
    "pass": "PASS",
    "fail": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    "not_run": "NOT RUN",
    "warn": "INCONCLUSIVE (warning)",
}


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for display; ``—`` when undefined."""
    if x is None:
        return "—"
    return f"{x:.{digits}f}"


def fmt_ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    if ci is None:
        return ""
    return f"{ci[0]:.{digits}f}–{ci[1]:.{digits}f}"


def fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


class Suppressor:
    """Small-cell suppression: counts 1..K-1 are shown as ``<K`` (0 and K+ are shown)."""

    def __init__(self, k: int) -> None:
        if k < 0:
            raise ValueError("suppress_small_cells must be >= 0")
        self.k = k

    def hides(self, count: int | None) -> bool:
        return self.k > 0 and count is not None and 0 < count < self.k

    def count(self, count: int | None) -> str:
        if count is None:
            return "—"
        return f"<{self.k}" if self.hides(count) else str(count)

    def group_hidden(self, g: GroupResult) -> bool:
        """Every number of a group with fewer than K rows is withheld (rates reveal counts)."""
        return self.hides(g.n)

    def events_hidden(self, g: GroupResult) -> bool:
        # n_pos and n_neg are complementary: hiding one alone would not hide it.
        return self.hides(g.n) or self.hides(g.n_pos) or self.hides(g.n_neg)


def estimate_cell(est: Estimate | None, *, hidden: bool = False) -> dict[str, Any]:
    """A table cell: display text, CI text, a sort key and a tooltip reason."""
    if hidden:
        return {"text": "suppressed", "ci": "", "sort": "", "reason": "small cell suppressed"}
    if est is None:
        return {"text": "—", "ci": "", "sort": "", "reason": "not computed"}
    return {
        "text": fmt(est.value),
        "ci": fmt_ci(est.ci),
        "sort": "" if est.value is None else repr(float(est.value)),
        "reason": est.reason or "",
    }


def _rule_row(rule: RuleOutcome, warning: bool) -> dict[str, Any]:
    status = "warn" if (rule.status == "inconclusive" and warning) else rule.status
    return {
        "id": rule.id,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "message": rule.message,
        "value": fmt(rule.value),
        "ci": fmt_ci(rule.ci),
        "bound": f"{rule.bound:g}" if rule.bound is not None else "",
    }


def verdict_context(result: AuditResult) -> dict[str, Any]:
    gate = result.gate
    warning = gate.inconclusive_is_warning
    status = "warn" if (gate.status == "inconclusive" and warning) else gate.status
    rules = [_rule_row(r, warning) for r in gate.rules]
    counts = {s: sum(1 for r in gate.rules if r.status == s) for s in ("pass", "fail", "inconclusive")}
    explanation = {
        "pass": "Every rule of the policy passed: each confidence interval lies within its bound.",
        "fail": "At least one rule failed: its confidence interval lies wholly beyond the bound.",
        "inconclusive": (
            "No rule failed, but at least one could not be decided: its interval straddles the "
            "bound, or the evidence is insufficient."
        ),
        "warn": (
            "No rule failed; at least one could not be decided, which this policy treats as a "
            "warning rather than a failure."
        ),
        "not_run": "No policy was given, so no pass/fail decision was made.",
    }[status]
    return {
        "status": status,
        "label": STATUS_LABELS[status],
        "policy": gate.policy,
        "explanation": explanation,
        "rules": rules,
        "counts": counts,
        "exit_code": {"pass": 0, "not_run": 0, "fail": 1, "inconclusive": 3, "warn": 0}[status],
    }


def _attribute_kind(result: AuditResult, attribute: str) -> str:
    return "intersection" if attribute in result.dataset.intersections else "attribute"


def build_context(
    result: AuditResult,
    *,
    suppress_small_cells: int = 0,
    figures: bool = True,
) -> dict[str, Any]:
    """The complete, plain context of a report.

    Parameters
    ----------
    result
        The audit result; nothing new is computed from it.
    suppress_small_cells
        Counts 1..K-1 are shown as ``<K``; groups with fewer than K rows have every number and
        their curves withheld. 0 disables suppression.
    figures
        Draw the ROC, calibration and threshold figures (needs matplotlib).
    """
    sup = Suppressor(suppress_small_cells)
    level = result.run.confidence_level
    attributes = []
    for attribute in result.audited_attributes:
        groups = result.groups_of(attribute)
        if not groups:
            continue
        total = sum(g.n for g in groups)
        modalities = sorted({m for g in groups for m in g.missing_modalities})
        comp_rows, perf_rows = [], []
        for g in groups:
            hidden = sup.group_hidden(g)
            ev_hidden = sup.events_hidden(g)
            comp_rows.append({
                "group": g.group,
                "n": sup.count(g.n),
                "n_sort": "" if hidden else g.n,
                "share": "suppressed" if hidden else fmt_pct(g.n / total if total else None),
                "n_pos": "suppressed" if ev_hidden else sup.count(g.n_pos),
                "n_neg": "suppressed" if ev_hidden else sup.count(g.n_neg),
                "prevalence": "suppressed" if ev_hidden else fmt(g.metrics.get("prevalence", Estimate(None)).value),
                "missing": [sup.count(g.missing_modalities.get(m, 0)) for m in modalities],
                "status": g.status,
                "reasons": "; ".join(g.reasons),
            })
            perf_rows.append({
                "group": g.group,
                "n": sup.count(g.n),
                "n_sort": "" if hidden else g.n,
                "status": g.status,
                "reasons": "; ".join(g.reasons),
                "cells": {m: estimate_cell(g.metrics.get(m), hidden=hidden) for m in METRIC_NAMES},
            })
        crit_rows = []
        for c in result.criteria:
            if c.attribute != attribute:
                continue
            sgo = c.sufficient_groups_only
            crit_rows.append({
                "name": c.name,
                "label": CRITERION_LABELS.get(c.name, c.name),
                "value": fmt(c.value),
                "ci": fmt_ci(c.ci),
                "sort": "" if c.value is None else repr(float(c.value)),
                "p": fmt(c.p_value, 4) if c.p_value is not None else "—",
                "q": fmt(c.q_value, 4) if c.q_value is not None else "—",
                "q_sort": "" if c.q_value is None else repr(float(c.q_value)),
                "status": c.status,
                "reason": c.reason or "",
                "extremes": " vs ".join(c.groups),
                "excluded": [{"group": e.group, "reason": e.reason} for e in c.excluded_groups],
                "sufficient_only": None if (sgo is None or c.status == "ok") else {
                    "value": fmt(sgo.value), "ci": fmt_ci(sgo.ci),
                },
            })
        summ_rows = [
            {
                "metric": s.metric,
                "label": METRIC_LABELS.get(s.metric, s.metric),
                "n_groups": s.n_groups,
                "min": fmt(s.min), "max": fmt(s.max), "mean": fmt(s.mean),
                "sd": fmt(s.sd), "sd_ci": fmt_ci(s.sd_ci),
                "ser": fmt(s.ser, 2), "ser_ci": fmt_ci(s.ser_ci, 2),
                "worst": s.worst_group or "—", "best": s.best_group or "—",
            }
            for s in result.summaries if s.attribute == attribute
        ]
        figs = None
        curves = [c for c in result.curves if c.attribute == attribute]
        if figures and curves:
            figs = _figures(result, attribute, curves, sup)
        attributes.append({
            "name": attribute,
            "kind": _attribute_kind(result, attribute),
            "anchor": f"attr-{len(attributes)}",
            "modalities": modalities,
            "unknown": sup.count(result.dataset.unknown_counts[attribute])
            if attribute in result.dataset.unknown_counts else None,
            "composition": comp_rows,
            "performance": perf_rows,
            "criteria": crit_rows,
            "summaries": summ_rows,
            "figures": figs,
            "n_insufficient": sum(1 for g in groups if g.status == "insufficient"),
        })
    run = result.run
    ds = result.dataset
    th = result.threshold
    overall = result.overall
    return {
        "title": "Fairness audit report",
        "tool_version": run.tool_version,
        "created": run.created,
        "level_pct": f"{level:.0%}",
        "suppress_small_cells": suppress_small_cells,
        "verdict": verdict_context(result),
        "dataset": {
            "source": ds.source or "—",
            "label": ds.label,
            "score": ds.score or "—",
            "n_rows": ds.n_rows,
            "n_used": ds.n_used,
            "n_excluded": ds.n_excluded,
            "n_clusters": ds.n_clusters,
            "attributes": list(ds.attributes),
            "intersections": list(ds.intersections),
        },
        "threshold": {
            "value": fmt(th.value, 4),
            "source": th.source,
            "group_attribute": th.group_attribute,
            "group_thresholds": [
                {"group": k, "value": fmt(v, 4)} for k, v in (th.group_thresholds or {}).items()
            ],
        },
        "overall": {
            "n": sup.count(overall.n),
            "n_pos": sup.count(overall.n_pos),
            "n_neg": sup.count(overall.n_neg),
            "cells": {m: estimate_cell(overall.metrics.get(m)) for m in METRIC_NAMES},
        },
        "metric_names": list(METRIC_NAMES),
        "key_metrics": list(KEY_METRICS),
        "metric_labels": dict(METRIC_LABELS),
        "attributes": attributes,
        "warnings": list(result.warnings),
        "repro": _repro(result),
    }


def _figures(result: AuditResult, attribute: str, curves: list, sup: Suppressor) -> dict[str, Any]:
    from fairaudit.report import figures as F

    shown, withheld = [], []
    for c in curves:
        try:
            g = result.group(attribute, c.group)
        except KeyError:
            g = None
        if g is not None and sup.group_hidden(g):
            withheld.append(c.group)
        else:
            shown.append(c)
    operating = {}
    for c in shown:
        try:
            m = result.group(attribute, c.group).metrics
        except KeyError:
            continue
        fpr, tpr = m.get("fpr"), m.get("tpr")
        if fpr is not None and tpr is not None and fpr.value is not None and tpr.value is not None:
            operating[c.group] = (fpr.value, tpr.value)
    th = result.threshold
    group_th = th.group_thresholds if th.group_attribute == attribute else None
    insufficient = [g.group for g in result.groups_of(attribute) if g.status == "insufficient"]
    if not shown:
        return {"roc": None, "reliability": None, "threshold": None, "withheld": withheld}
    return {
        "roc": F.roc_figure(attribute, shown, operating, insufficient),
        "reliability": F.reliability_figure(attribute, shown, insufficient),
        "threshold": F.threshold_figure(attribute, shown, th.value, group_th, insufficient),
        "withheld": withheld,
        "ece_bins": result.run.ece_bins,
    }


def _repro(result: AuditResult) -> list[dict[str, str]]:
    run = result.run
    rows = [
        ("fairaudit version", run.tool_version or "—"),
        ("Schema version", result.schema_version),
        ("Created", run.created),
        ("Command", run.command or "—"),
        ("Seed", str(run.seed)),
        ("Bootstrap replicates", f"{run.n_bootstrap} (resampling unit: {run.bootstrap_unit})"),
        ("Confidence level", f"{run.confidence_level:.0%}"),
        ("Minimum group size / events", f"{run.min_group_size} rows / {run.min_group_events} positives and negatives"),
        ("p-value method", run.p_value_method or "—"),
        ("Calibration bins (ECE)", str(run.ece_bins)),
        ("Data SHA-256", run.data_sha256),
        ("Model SHA-256", run.model_sha256 or "— (predictions file)"),
    ]
    if run.cross_check is not None:
        from fairaudit.crosscheck import describe

        rows.append(("Cross-check", describe(run.cross_check)))
    rows += [(f"Package: {k}", v) for k, v in sorted(run.package_versions.items())]
    return [{"key": k, "value": v} for k, v in rows]
