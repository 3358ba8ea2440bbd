"""The before/after mitigation page: context from a :class:`Comparison`, then Jinja2.

Numbers come from the comparison (itself read from the variants' audits); this module only
formats them, orders rows and draws two figures with matplotlib's object API (never pyplot):
the performance-fairness trade-off (one point per variant) and the change in each group's
sensitivity with its paired confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fairaudit.report.figures import RC, legend, new_figure, plot_label, style, to_data_uri
from fairaudit.report.formatting import fmt, fmt_ci

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.comparison_result import Comparison, GroupChange, VariantSummary

TEMPLATE = "comparison.html.j2"
METRIC_LABELS = {"tpr": "Sensitivity (TPR)", "fpr": "False-positive rate (FPR)", "ppv": "PPV",
                 "auc": "AUC"}
VERDICT_STATUS = {
    "baseline": "not_run",
    "no harm detected": "pass",
    "possible harm": "inconclusive",
    "harm": "fail",
    "levelling down": "fail",
}
GROUP_METRICS = ("auc", "tpr", "fpr", "fnr", "ppv", "balanced_accuracy")
CRITERIA = (
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "demographic_parity_difference",
    "auc_difference",
)


def _cell(value: float | None, ci: tuple[float, float] | None) -> dict[str, str]:
    return {"text": fmt(value), "ci": fmt_ci(ci), "sort": "" if value is None else repr(float(value)),
            "reason": "" if value is not None else "undefined or not computed"}


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def tradeoff_figure(variants: Sequence[VariantSummary], attribute: str) -> str:
    """Worst-group AUC and worst-group sensitivity against the equalised-odds gap."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = new_figure(8.4, 4.2)
        axes = fig.subplots(1, 2)
        panels = (
            ("worst_group_auc", "worst_group_auc_ci", f"Worst-group AUC ({plot_label(attribute)})"),
            ("worst_group_tpr", "worst_group_tpr_ci", f"Worst-group sensitivity ({plot_label(attribute)})"),
        )
        for ax, (key, key_ci, ylabel) in zip(axes, panels, strict=True):
            for i, v in enumerate(variants):
                x, y = v.equalized_odds_difference, getattr(v, key)
                if x is None or y is None:
                    continue
                xci, yci = v.equalized_odds_difference_ci, getattr(v, key_ci)
                xerr = [[x - xci[0]], [xci[1] - x]] if xci else None
                yerr = [[y - yci[0]], [yci[1] - y]] if yci else None
                st = style(i)
                ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o", color=st["color"],
                            capsize=3, markersize=6, linewidth=1.0, label=plot_label(v.name))
            ax.set(xlabel="Equalised-odds gap (lower is fairer)", ylabel=ylabel)
        legend(axes[0], ncol=2)
        return to_data_uri(fig, "Performance-fairness trade-off")


def change_figure(changes: Sequence[GroupChange], attribute: str, metric: str) -> str | None:
    """Change in one metric per group and variant, with paired CIs (a forest plot)."""
    rows = [c for c in changes if c.attribute == attribute and c.metric == metric and c.change is not None]
    if not rows:
        return None
    import matplotlib

    variants = list(dict.fromkeys(c.variant for c in rows))
    groups = list(dict.fromkeys(c.group for c in rows))
    with matplotlib.rc_context(RC):
        fig = new_figure(6.0, 1.2 + 0.32 * len(groups) * len(variants))
        ax = fig.add_subplot()
        ax.axvline(0.0, color="#8a929b", linewidth=0.9)
        height = 0.8 / max(1, len(variants))
        for vi, name in enumerate(variants):
            st = style(vi + 1)
            for gi, g in enumerate(groups):
                c = next((r for r in rows if r.variant == name and r.group == g), None)
                if c is None:
                    continue
                y = gi + (vi - (len(variants) - 1) / 2) * height
                err = [[c.change - c.ci[0]], [c.ci[1] - c.change]] if c.ci else None
                marker = "X" if c.status == "harmed" else "o"
                ax.errorbar([c.change], [y], xerr=err, fmt=marker, color=st["color"], capsize=2,
                            markersize=5, linewidth=1.0, label=plot_label(name) if gi == 0 else None)
        ax.set_yticks(range(len(groups)), [plot_label(g) for g in groups])
        ax.invert_yaxis()
        ax.set(xlabel=f"Change in {METRIC_LABELS.get(metric, metric)} vs baseline")
        legend(ax, ncol=2)
        return to_data_uri(fig, f"Change in {metric} by group")


def build_comparison_context(comparison: Comparison, *, figures: bool = True) -> dict[str, Any]:
    """Plain data for ``comparison.html.j2``: strings, rows and figure URIs."""
    from fairaudit._version import __version__

    attr = comparison.attribute
    level = comparison.settings.get("confidence_level", 0.95)
    harm_rows = _harm_rows(comparison)
    settings = [{"key": k, "value": _setting(v)} for k, v in comparison.settings.items()]
    provenance = [
        {"variant": v.name, "items": [{"key": k, "value": _setting(val)} for k, val in v.provenance.items()
                                      if k != "group_thresholds"]}
        for v in comparison.variants
    ]
    return {
        "title": "Mitigation: before and after",
        "tool_version": __version__,
        "attribute": attr,
        "baseline": comparison.baseline,
        "level_pct": f"{round(100 * float(level))}%",
        "variants": _variant_rows(comparison),
        "harm_rows": harm_rows,
        "any_partial_gaps": any(v.gaps_over != "all groups" for v in comparison.variants),
        "n_harmed": sum(1 for r in harm_rows if r["status"] == "harmed"),
        "group_metrics": [METRIC_LABELS.get(m, m.replace("_", " ").upper() if len(m) <= 3 else m.replace("_", " ")) for m in GROUP_METRICS],
        "group_tables": _group_tables(comparison),
        "settings": settings,
        "provenance": provenance,
        "tradeoff_figure": tradeoff_figure(comparison.variants, attr) if figures else None,
        "tpr_change_figure": change_figure(comparison.changes, attr, "tpr") if figures else None,
        "auc_change_figure": change_figure(comparison.changes, attr, "auc") if figures else None,
    }


def _variant_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One summary row per variant: overall and worst-group numbers, gaps and the verdict."""
    variants = []
    for v in comparison.variants:
        harmed = [c for c in comparison.changes_of(v.name, "harmed")]
        variants.append({
            "name": v.name,
            "method": v.method,
            "overall_auc": _cell(v.overall_auc, v.overall_auc_ci),
            "overall_tpr": _cell(v.overall_tpr, v.overall_tpr_ci),
            "worst_auc": _cell(v.worst_group_auc, v.worst_group_auc_ci),
            "worst_auc_group": v.worst_auc_group or "—",
            "worst_tpr": _cell(v.worst_group_tpr, v.worst_group_tpr_ci),
            "worst_tpr_group": v.worst_tpr_group or "—",
            "eo_gap": _cell(v.equalized_odds_difference, v.equalized_odds_difference_ci),
            "fnr_gap": _cell(v.fnr_gap, v.fnr_gap_ci),
            "accuracy": fmt(v.accuracy),
            "verdict": v.verdict,
            "partial_gaps": v.gaps_over != "all groups",
            "verdict_status": VERDICT_STATUS.get(v.verdict, "not_run"),
            "n_harmed": len(harmed),
            "n_improved": len(comparison.changes_of(v.name, "improved")),
        })
    return variants


def _harm_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Every group change; harm first, then the targeted attribute, then the rest in audit order."""
    attr = comparison.attribute
    harm_rows = []
    for c in comparison.changes:
        harm_rows.append({
            "variant": c.variant,
            "attribute": c.attribute,
            "group": c.group,
            "metric": METRIC_LABELS.get(c.metric, c.metric),
            "before": fmt(c.before),
            "after": fmt(c.after),
            "change": _signed(c.change),
            "change_sort": "" if c.change is None else repr(c.change),
            "ci": fmt_ci(c.ci),
            "status": c.status,
            "badge": {"harmed": "fail", "possible harm": "inconclusive", "improved": "pass",
                      "unchanged": "not_run", "insufficient": "insufficient"}[c.status],
            "target": c.attribute == attr,
        })
    order = {"harmed": 0, "possible harm": 1, "improved": 2, "unchanged": 3, "insufficient": 4}
    harm_rows.sort(key=lambda r: (order[r["status"]], not r["target"]))
    return harm_rows


def _group_tables(comparison: Comparison) -> list[dict[str, Any]]:
    """Per variant: the targeted attribute's groups, its criteria and the thresholds used."""
    attr = comparison.attribute
    group_tables = []
    for name, result in comparison.audits.items():
        rows = []
        for g in result.groups_of(attr):
            rows.append({
                "group": g.group, "n": g.n, "status": g.status,
                "cells": [_cell(g.metrics[m].value, g.metrics[m].ci) if m in g.metrics else _cell(None, None)
                          for m in GROUP_METRICS],
            })
        crit = []
        for cname in CRITERIA:
            try:
                c = result.criterion(attr, cname)
            except KeyError:
                continue
            crit.append({"name": cname.replace("_", " "), "cell": _cell(c.value, c.ci), "status": c.status})
        th = result.threshold
        group_tables.append({
            "variant": name, "rows": rows, "criteria": crit,
            "threshold": fmt(th.value),
            "group_thresholds": [{"group": k, "value": fmt(v)} for k, v in (th.group_thresholds or {}).items()],
            "group_attribute": th.group_attribute or "",
        })
    return group_tables


def _setting(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value, 4)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return "; ".join(f"{k}={_setting(v)}" for k, v in value.items())
    return "—" if value is None else str(value)


def render_comparison_html(comparison: Comparison, *, figures: bool = True) -> str:
    """The self-contained before/after HTML page."""
    from fairaudit.report.html import render_template

    return render_template(TEMPLATE, build_comparison_context(comparison, figures=figures))


__all__ = ["build_comparison_context", "change_figure", "render_comparison_html", "tradeoff_figure"]
