"""AuditResult -> plain context: formatted strings, ordered rows, figures as data URIs.

Nothing here computes a statistic; it only selects, orders and formats what the result holds
(coverage.py's pattern: build plain data, then render). The HTML and Markdown views share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fairaudit.report.formatting import fmt, fmt_ci, fmt_pct
from fairaudit.report.manygroups import MANY_GROUPS as MANY_GROUPS_THRESHOLD
from fairaudit.report.manygroups import MAX_FIGURE_GROUPS
from fairaudit.result import (
    CRITERION_LABELS,
    METRIC_NAMES,
    METRICS,
    AuditResult,
    DatasetInfo,
    Estimate,
    GateOutcome,
    GroupResult,
    OverallResult,
    RuleOutcome,
    Summary,
    ThresholdInfo,
)

# Display names, from the one table of metrics and criteria (fairaudit.result).
METRIC_LABELS: Mapping[str, str] = {name: info.label for name, info in METRICS.items()}
# Shown by default; the rest sit in a collapsible "all metrics" table.
KEY_METRICS = ("auc", "tpr", "fpr", "ppv", "npv", "balanced_accuracy", "ece")

STATUS_LABELS: Mapping[str, str] = {
    "pass": "PASS",
    "fail": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    "not_run": "NOT RUN",
    "warn": "INCONCLUSIVE (warning)",
}


LONG_MESSAGE = 400  # characters of a rule message shown before the rest folds away
MAX_MESSAGE = 4000  # a longer message (hundreds of group names) is cut; the tables list every group
MANY_RULES = 25  # with more rule outcomes, failed and inconclusive ones lead and the rest fold


def _truncate(text: str, limit: int, mark: str | None = None) -> str:
    """``text`` cut at a word boundary before ``limit`` characters, with a note of what was cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + (mark if mark is not None else f" … ({len(text) - len(cut)} more characters)")

# Counts inside free text: "n=17" / "n = 17", and "3 positives", "12 rows", ... (not bounds such as
# "fewer than 30 rows", "at least 10 rows", "minimum 10" or "10 positives/negatives").
_N_EQUALS = re.compile(r"\bn\s*=\s*(?P<n>\d+)\b")
_COUNT_NOUN = re.compile(
    r"(?<!than )(?<!least )(?<!most )(?<!minimum )\b(?P<n>\d+)(?= (?:positives?|negatives?|rows?|events?|"
    r"patients?|studies|study|cases?|samples?)\b(?!/))"
)


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

    def text(self, text: str) -> str:
        """Free text (reasons, notes, gate messages, warnings) with small counts replaced.

        Counts appear in the result's texts as ``n=17``, ``3 positives``, ``3 negatives``,
        ``12 rows`` (and events, patients, studies); each below K becomes ``<K``. Bounds such
        as "fewer than 30 rows" or "minimum 10" are thresholds, not counts, and are kept.
        """
        if self.k <= 0:
            return text

        def hide(match: re.Match[str]) -> str:
            return f"<{self.k}" if self.hides(int(match.group("n"))) else match.group(0)

        text = _N_EQUALS.sub(lambda m: f"n<{self.k}" if self.hides(int(m.group("n"))) else m.group(0), text)
        return _COUNT_NOUN.sub(hide, text)


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


def _rule_row(rule: RuleOutcome, warning: bool, sup: Suppressor) -> dict[str, Any]:
    status = "warn" if (rule.status == "inconclusive" and warning) else rule.status
    message = sup.text(rule.message)
    return {
        "id": sup.text(rule.id),
        "status": status,
        "status_label": STATUS_LABELS[status],
        "message": _truncate(message, MAX_MESSAGE),
        # A message that lists hundreds of groups folds after its first words (HTML).
        "message_head": _truncate(message, LONG_MESSAGE, mark="") if len(message) > LONG_MESSAGE else "",
        "value": fmt(rule.value),
        "ci": fmt_ci(rule.ci),
        "bound": f"{rule.bound:g}" if rule.bound is not None else "",
    }


_EXPLANATIONS: Mapping[str, str] = {
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
}


class Gated(Protocol):
    """Anything with a gate outcome: an audit result, a comparison result."""

    @property
    def gate(self) -> GateOutcome: ...


def verdict_context(
    result: Gated, *, no_fail: bool = False, sup: Suppressor | None = None,
) -> dict[str, Any]:
    """The verdict, its rules and the process exit code.

    ``exit_code`` is :func:`fairaudit.exit_codes.exit_code` of the gate -- the code the
    ``audit`` command exits with -- so ``no_fail`` (``--no-fail``) makes it 0.
    """
    from fairaudit.exit_codes import exit_code

    sup = sup or Suppressor(0)
    gate = result.gate
    warning = gate.inconclusive_is_warning
    status = "warn" if (gate.status == "inconclusive" and warning) else gate.status
    rules = [_rule_row(r, warning, sup) for r in gate.rules]
    folded: list[dict[str, Any]] = []
    if len(rules) > MANY_RULES:  # e.g. one [[group_metric]] outcome per group of 1,000
        severity = {"fail": 0, "inconclusive": 1, "warn": 1}
        rules.sort(key=lambda r: severity.get(r["status"], 2))  # stable: policy order within
        n_open = max(MANY_RULES, sum(1 for r in rules if r["status"] == "fail"))
        rules, folded = rules[:n_open], rules[n_open:]
    counts = {s: sum(1 for r in gate.rules if r.status == s) for s in ("pass", "fail", "inconclusive")}
    code = exit_code(gate, no_fail=no_fail)
    return {
        "status": status,
        "label": STATUS_LABELS[status],
        "policy": gate.policy,
        "explanation": _EXPLANATIONS[status],
        "rules": rules,
        "rules_folded": folded,
        "counts": counts,
        "exit_code": code,
        "no_fail": no_fail and exit_code(gate) != code,
    }


def _attribute_kind(result: AuditResult, attribute: str) -> str:
    return "intersection" if attribute in result.dataset.intersections else "attribute"


def _group_rows(
    groups: Sequence[GroupResult], total: int, modalities: list[str], sup: Suppressor,
    flags: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    comp_rows, perf_rows = [], []
    for g in groups:
        hidden = sup.group_hidden(g)
        ev_hidden = sup.events_hidden(g)
        reasons = sup.text("; ".join(g.reasons))
        flag = flags.get(g.group)
        common = {
            "group": g.group, "n": sup.count(g.n), "n_sort": "" if hidden else g.n,
            "status": g.status, "reasons": reasons,
            "flag": "; ".join(flag.findings) if (flag is not None and flag.flagged and not hidden) else "",
        }
        comp_rows.append({
            **common,
            "share": "suppressed" if hidden else fmt_pct(g.n / total if total else None),
            "n_pos": "suppressed" if ev_hidden else sup.count(g.n_pos),
            "n_neg": "suppressed" if ev_hidden else sup.count(g.n_neg),
            "prevalence": "suppressed" if ev_hidden else fmt(g.metrics.get("prevalence", Estimate(None)).value),
            "missing": [sup.count(g.missing_modalities.get(m, 0)) for m in modalities],
        })
        perf_rows.append({
            **common,
            "cells": {m: estimate_cell(g.metrics.get(m), hidden=hidden) for m in METRIC_NAMES},
        })
    return comp_rows, perf_rows


def _criterion_rows(result: AuditResult, attribute: str, sup: Suppressor, many: bool) -> list[dict[str, Any]]:
    rows = []
    for c in result.criteria:
        if c.attribute != attribute:
            continue
        sgo = c.sufficient_groups_only
        excluded = [{"group": e.group, "reason": sup.text(e.reason)} for e in c.excluded_groups]
        reason = sup.text(c.reason or "")
        if many and excluded:
            # The engine's reason lists every excluded group; with hundreds that is the page.
            reason = (f"{len(excluded)} groups are too small to judge (see the data composition)"
                      if reason.startswith("groups too small") else reason)
            excluded = []
        rows.append({
            "name": c.name,
            "label": CRITERION_LABELS.get(c.name, c.name),
            "value": fmt(c.value),
            "ci": fmt_ci(c.ci),
            "sort": "" if c.value is None else repr(float(c.value)),
            "p": fmt(c.p_value, 4) if c.p_value is not None else "—",
            "q": fmt(c.q_value, 4) if c.q_value is not None else "—",
            "q_sort": "" if c.q_value is None else repr(float(c.q_value)),
            "status": c.status,
            "reason": reason,
            "extremes": " vs ".join(c.groups),
            "excluded": excluded,
            "sufficient_only": None if (sgo is None or c.status == "ok") else {
                "value": fmt(sgo.value), "ci": fmt_ci(sgo.ci),
            },
        })
    return rows


def _flagged_text(s: Summary, result: AuditResult, sup: Suppressor) -> str:
    """The summary's insufficient groups (worst first), e.g. ``worst including insufficient
    groups: Switzerland 0.458 (insufficient: n=24 < ...)`` when it is worse than every sufficient
    group, else ``insufficient, left out: ...``."""
    if not s.insufficient_groups:
        return ""
    f = s.insufficient_groups[0]
    try:
        hidden = sup.group_hidden(result.group(s.attribute, f.group))
    except KeyError:
        hidden = False
    worst = s.min if s.higher_is_better else s.max
    worse = (not hidden and f.value is not None and
             (worst is None or (f.value < worst if s.higher_is_better else f.value > worst)))
    head = "worst including insufficient groups" if worse else "insufficient, left out"
    value = "suppressed" if hidden else fmt(f.value)
    why = f"insufficient: {sup.text(f.reason)}" if worse else sup.text(f.reason)
    text = f"{head}: {f.group} {value} ({why})"
    if len(s.insufficient_groups) > 1:
        text += f"; {len(s.insufficient_groups) - 1} more insufficient"
    return text


def _summary_rows(result: AuditResult, attribute: str, sup: Suppressor) -> list[dict[str, Any]]:
    return [
        {
            "metric": s.metric,
            "label": METRIC_LABELS.get(s.metric, s.metric),
            "n_groups": s.n_groups,
            "min": fmt(s.min), "max": fmt(s.max), "mean": fmt(s.mean),
            "sd": fmt(s.sd), "sd_ci": fmt_ci(s.sd_ci),
            "ser": fmt(s.ser, 2), "ser_ci": fmt_ci(s.ser_ci, 2),
            "worst": s.worst_group or "—", "best": s.best_group or "—",
            "worst_insufficient": _flagged_text(s, result, sup),
        }
        for s in result.summaries if s.attribute == attribute
    ]


def _attribute_context(
    result: AuditResult, attribute: str, index: int, sup: Suppressor, figures: bool,
) -> dict[str, Any] | None:
    from fairaudit.report import manygroups

    groups = result.groups_of(attribute)
    if not groups:
        return None
    many = manygroups.is_many(len(groups))
    assessment = manygroups.assess(result, groups, METRIC_LABELS) if many else None
    if assessment is not None:
        rank = {g: i for i, g in enumerate(assessment.order)}
        # Groups whose numbers are withheld are never flagged and come last in name order: their
        # place in a ranking would tell their rate.
        shown_flag = {g.group for g in groups if assessment.groups[g.group].flagged and not sup.group_hidden(g)}
        groups = tuple(sorted(groups, key=lambda g: (
            g.group not in shown_flag, sup.group_hidden(g), rank[g.group] if not sup.group_hidden(g) else 0, g.group,
        )))
    flags = assessment.groups if assessment is not None else {}
    total = sum(g.n for g in groups)
    modalities = sorted({m for g in groups for m in g.missing_modalities})
    comp_rows, perf_rows = _group_rows(groups, total, modalities, sup, flags)
    # Many groups: the flagged stay in view, the rest fold away (worst first in both).
    n_open = len(shown_flag) if assessment is not None else len(groups)
    figs = None
    curves = [c for c in result.curves if c.attribute == attribute]
    if figures and curves:
        figs = _figures(result, attribute, curves, sup, assessment)
    comparison = None
    if figures and assessment is not None:
        comparison = manygroups.comparison_figures(result, attribute, groups, assessment, sup, METRIC_LABELS)
    return {
        "name": attribute,
        "kind": _attribute_kind(result, attribute),
        "anchor": f"attr-{index}",
        "modalities": modalities,
        "unknown": sup.count(result.dataset.unknown_counts[attribute])
        if attribute in result.dataset.unknown_counts else None,
        "many": many,
        "n_groups": len(groups),
        "min_rows": result.run.min_group_size,
        "min_events": result.run.min_group_events,
        "composition": comp_rows[:n_open],
        "composition_folded": comp_rows[n_open:],
        "performance": perf_rows[:n_open],
        "performance_folded": perf_rows[n_open:],
        "criteria": _criterion_rows(result, attribute, sup, many),
        "summaries": _summary_rows(result, attribute, sup),
        "figures": figs,
        "comparison": comparison,
        "n_insufficient": sum(1 for g in groups if g.status == "insufficient"),
    }


def build_context(
    result: AuditResult,
    *,
    suppress_small_cells: int = 0,
    figures: bool = True,
    no_fail: bool = False,
) -> dict[str, Any]:
    """The complete, plain context of a report.

    Parameters
    ----------
    result
        The audit result; nothing new is computed from it.
    suppress_small_cells
        Counts 1..K-1 are shown as ``<K`` -- in tables and in every text (reasons, notes, gate
        messages, warnings); groups with fewer than K rows have every number and their curves
        withheld. 0 disables suppression.
    figures
        Draw the ROC, calibration and threshold figures (needs matplotlib).
    no_fail
        The run used ``--no-fail``: the exit code shown is 0, as the process's.
    """
    sup = Suppressor(suppress_small_cells)
    attributes = _attribute_contexts(result, sup, figures)
    return {
        "title": "Fairness audit report",
        "tool_version": result.run.tool_version,
        "created": result.run.created,
        "level_pct": f"{result.run.confidence_level:.0%}",
        "suppress_small_cells": suppress_small_cells,
        "verdict": verdict_context(result, no_fail=no_fail, sup=sup),
        "dataset": _dataset_context(result.dataset, sup),
        "threshold": _threshold_context(result.threshold),
        "overall": _overall_context(result.overall, sup),
        "metric_names": list(METRIC_NAMES),
        "key_metrics": list(KEY_METRICS),
        "metric_labels": dict(METRIC_LABELS),
        "attributes": attributes,
        "any_many": any(a["many"] for a in attributes),
        "many_groups": MANY_GROUPS_THRESHOLD,
        "max_figure_groups": MAX_FIGURE_GROUPS,
        "warnings": [sup.text(w) for w in result.warnings],
        "repro": _repro(result),
    }


def _attribute_contexts(result: AuditResult, sup: Suppressor, figures: bool) -> list[dict[str, Any]]:
    """One context per audited attribute that has groups, anchored ``attr-0``, ``attr-1``, ..."""
    attributes: list[dict[str, Any]] = []
    for attribute in result.audited_attributes:
        attr = _attribute_context(result, attribute, len(attributes), sup, figures)
        if attr is not None:
            attributes.append(attr)
    return attributes


def _dataset_context(ds: DatasetInfo, sup: Suppressor) -> dict[str, Any]:
    """The data block: source, columns and row counts (counts suppressed like any other)."""
    return {
        "source": ds.source or "—",
        "label": ds.label,
        "score": ds.score or "—",
        "n_rows": sup.count(ds.n_rows),
        "n_used": sup.count(ds.n_used),
        "n_excluded": sup.count(ds.n_excluded),
        "n_clusters": sup.count(ds.n_clusters) if ds.n_clusters else ds.n_clusters,
        "n_clusters_estimated": bool(ds.n_clusters_estimated),
        "attributes": list(ds.attributes),
        "intersections": list(ds.intersections),
        "inputs": _input_notes(ds, sup),
    }


def _input_notes(ds: DatasetInfo, sup: Suppressor) -> list[str]:
    """One short line per way the inputs were prepared: metadata join, bins, logits, labels."""
    notes = []
    if ds.metadata is not None:
        m = ds.metadata
        key = m.key if m.key == m.metadata_key else f"{m.key} = {m.metadata_key}"
        notes.append(f"{', '.join(m.columns)} joined from {m.source} on {key}; "
                     f"{sup.count(ds.n_unmatched_metadata or 0)} rows unmatched (attributes unknown)")
    for col, b in (ds.bins or {}).items():
        cuts = ", ".join(f"{c:g}" for c in b.cuts)
        how = f"{b.q} quantile bins" if b.method == "quantile" else "cut points"
        notes.append(f"{col} binned ({how}) at {cuts}")
    if ds.score_type == "logit":
        notes.append("scores given as logits, turned into probabilities by the logistic function")
    if ds.pos_label is not None:
        notes.append(f"positive label: {ds.pos_label!r} (other values are 0)")
    return notes


def _threshold_context(th: ThresholdInfo) -> dict[str, Any]:
    """The operating threshold, its source and any per-group thresholds (4 decimals)."""
    return {
        "value": fmt(th.value, 4),
        "source": th.source,
        "group_attribute": th.group_attribute,
        "group_thresholds": [
            {"group": k, "value": fmt(v, 4)} for k, v in (th.group_thresholds or {}).items()
        ],
    }


def _overall_context(overall: OverallResult, sup: Suppressor) -> dict[str, Any]:
    """The whole-cohort counts and one cell per metric."""
    return {
        "n": sup.count(overall.n),
        "n_pos": sup.count(overall.n_pos),
        "n_neg": sup.count(overall.n_neg),
        "cells": {m: estimate_cell(overall.metrics.get(m)) for m in METRIC_NAMES},
    }


def _figures(
    result: AuditResult, attribute: str, curves: list, sup: Suppressor, assessment: Any = None,
) -> dict[str, Any]:
    from fairaudit.report import figures as F
    from fairaudit.report import manygroups

    groups = {g.group: g for g in result.groups_of(attribute)}
    withheld = [c.group for c in curves if c.group in groups and sup.group_hidden(groups[c.group])]
    shown = [c for c in curves if c.group not in withheld]
    selection = None
    if assessment is not None and len(shown) > manygroups.MAX_FIGURE_GROUPS:
        visible = [groups[c.group] for c in shown if c.group in groups]
        chosen, n_largest, n_flagged = manygroups.figure_groups(visible, assessment)
        by_name = {c.group: c for c in shown}
        selection = {"shown": len(chosen), "of": len(groups), "largest": n_largest, "flagged": n_flagged}
        shown = [by_name[g] for g in chosen]
    operating = {}
    for c in shown:
        g = groups.get(c.group)
        if g is None:
            continue
        fpr, tpr = g.metrics.get("fpr"), g.metrics.get("tpr")
        if fpr is not None and tpr is not None and fpr.value is not None and tpr.value is not None:
            operating[c.group] = (fpr.value, tpr.value)
    th = result.threshold
    group_th = th.group_thresholds if th.group_attribute == attribute else None
    insufficient = [g.group for g in groups.values() if g.status == "insufficient"]
    # With many groups the withheld list would be a page of names; its length says enough.
    withheld_note = (f"{len(withheld)} groups" if (assessment is not None and len(withheld) > 10)
                     else ", ".join(withheld))
    if not shown:
        return {"roc": None, "reliability": None, "threshold": None, "withheld": withheld_note,
                "selection": selection}
    return {
        "roc": F.roc_figure(attribute, shown, operating, insufficient),
        "reliability": F.reliability_figure(attribute, shown, insufficient),
        "threshold": F.threshold_figure(attribute, shown, th.value, group_th, insufficient),
        "withheld": withheld_note,
        "selection": selection,
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
        ("Minimum group size / events", f"{run.min_group_size} rows / {run.min_group_events} of each class (positive, negative)"),
        ("p-value method", run.p_value_method or "—"),
        ("Calibration bins (ECE)", str(run.ece_bins)),
        ("Data SHA-256", run.data_sha256),
        ("Model SHA-256", run.model_sha256 or "— (predictions file)"),
    ]
    if run.model_adapter is not None:
        rows.append(("Model adapter", run.model_adapter))
    if run.model_config_sha256 is not None:
        rows.append(("Model config SHA-256", run.model_config_sha256))
    if run.cross_check is not None:
        rows.append(("Cross-check", run.cross_check.describe()))
    rows += [(f"Package: {k}", v) for k, v in sorted(run.package_versions.items())]
    return [{"key": k, "value": v} for k, v in rows]
