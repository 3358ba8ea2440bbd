"""The stress audit's HTML page: a :class:`~fairaudit.stress_result.StressResult` rendered with
``templates/stress.html.j2`` (autoescaped; figures are SVG data URIs). Nothing is computed here
beyond formatting and plotting what the result holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairaudit.report.figures import RC, legend, new_figure, plot_label, style, to_data_uri
from fairaudit.report.formatting import fmt, fmt_ci_bracketed, fmt_p
from fairaudit.stress_result import StressResult

STRESS_TEMPLATE = "stress.html.j2"
_METRICS = ("auc", "tpr", "fpr")


def _cell(m: Mapping[str, Any] | None, *, change: bool = True, simultaneous: bool = False) -> dict[str, str]:
    if not m:
        return {"text": "—", "ci": "", "sort": "", "reason": ""}
    value = m.get("change") if change else m.get("value")
    ci = m.get("simultaneous_ci" if simultaneous else "ci") if change else m.get("ci")
    text = "—" if value is None else (f"{value:+.3f}" if change else fmt(value))
    return {"text": text, "ci": fmt_ci_bracketed(ci) if ci else "",
            "sort": "" if value is None else f"{value:.6f}", "reason": ""}


def _excludes_zero(m: Mapping[str, Any] | None) -> bool:
    ci = (m or {}).get("ci")
    return ci is not None and len(ci) == 2 and (ci[0] > 0 or ci[1] < 0)


def _condition_rows(result: StressResult, kinds: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for c in result.conditions:
        if c["kind"] not in kinds or not c.get("reference"):
            continue
        for g in c["groups"]:
            rows.append({
                "condition": c["id"], "attribute": g["attribute"], "group": g["group"], "n": g["n"],
                "sufficient": g["sufficient"],
                "cells": [_cell(g["metrics"].get(k)) for k in _METRICS],
                "flags": [_excludes_zero(g["metrics"].get(k)) for k in _METRICS],
                "rbe": fmt(g.get("rbe")),
            })
    return rows


def _criteria_rows(result: StressResult) -> list[dict[str, Any]]:
    return [{"condition": c["id"], "attribute": k["attribute"], "criterion": k["criterion"],
             "value": fmt(k["value"]), "reference": fmt(k["reference_value"]),
             "change": _cell(k), "significant": _excludes_zero(k)}
            for c in result.conditions if c.get("reference") for k in c["criteria"]]


def _severity_figure(result: StressResult, attribute: str) -> str | None:
    corrs = list(result.config.get("corruptions", []))
    if not corrs:
        return None
    import matplotlib

    ref_id = f"reference:{result.config['imputes'][0]}"
    try:
        ref = result.condition(ref_id)
    except KeyError:
        return None
    groups = [g["group"] for g in ref["groups"] if g["attribute"] == attribute]
    clean = {g["group"]: g["metrics"]["auc"]["value"] for g in ref["groups"] if g["attribute"] == attribute}
    cols = min(4, len(corrs))
    rows = (len(corrs) + cols - 1) // cols
    with matplotlib.rc_context(RC):
        fig = new_figure(max(5.6, 2.6 * cols), 2.4 * rows + 0.9)
        axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
        for k, name in enumerate(corrs):
            ax = axes[k // cols][k % cols]
            sev = result.config["severities"]
            for i, g in enumerate(groups):
                ys = [clean[g]]
                for s in sev:
                    c = result.condition(f"{name}:{s}")
                    row = next(r for r in c["groups"] if r["attribute"] == attribute and r["group"] == g)
                    ys.append(row["metrics"]["auc"]["value"])
                xs = [0, *sev]
                ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", ms=3,
                        label=plot_label(g), **style(i))
            ax.set_title(plot_label(name), fontsize=9)
            ax.set_xticks([0, *sev])
            ax.set_xlabel("severity (0 = clean)", fontsize=8)
            if k % cols == 0:
                ax.set_ylabel("AUC")
        for k in range(len(corrs), rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        legend(axes[-1][0], ncol=min(3, max(1, len(groups))))
        return to_data_uri(fig, f"AUC by severity, {attribute}")


def build_stress_context(result: StressResult, *, figures: bool = True) -> dict[str, Any]:
    """Everything the stress template shows, formatted."""
    level = result.config.get("confidence_level", 0.95)
    index_rows = [{"corruption": e["corruption"], "attribute": i["attribute"],
                   "index": fmt(i["index"]), "ci": fmt_ci_bracketed(i["ci"]) if i["ci"] else "",
                   "worst": [(s, w) for s, w in e.get("worst_group", {}).items()]}
                  for e in result.corruptions for i in e["index"]]
    missing = [{"attribute": e["attribute"], "modality": e["modality"],
                "p": fmt_p(e["test"]["p_value"]),
                "groups": [{**g, "rate_text": fmt(g["rate"]),
                            "ci_text": fmt_ci_bracketed(g["ci"]) if g["ci"] else "",
                            "diff": _cell({"change": g["difference_from_rest"], "ci": g["difference_ci"]}),
                            "significant": _excludes_zero({"ci": g["difference_ci"]})}
                           for g in e["groups"]]} for e in result.missingness]
    probe = None
    if result.probe:
        probe = {"method": result.probe["method"], "reading": result.probe["reading"],
                 "rows": [{**r, "auc_text": fmt(r["auc"]),
                           "ci_text": fmt_ci_bracketed(r["ci"]) if r["ci"] else ""}
                          for r in result.probe["results"]],
                 "controls": [{**c, "auc_text": fmt(c["auc"]),
                               "ci_text": fmt_ci_bracketed(c["ci"]) if c["ci"] else ""}
                              for c in result.probe["controls"]]}
    attribution = None
    if result.attribution:
        attribution = {
            "method": result.attribution["method"],
            "rows": [{"impute": r["impute"], "attribute": r["attribute"], "group": r["group"],
                      "n": r["n"], "shares": [_cell({"value": s["value"], "ci": s["ci"]}, change=False)
                                               for s in r["shares"].values()]}
                     for r in result.attribution["results"]],
            "modalities": list(next(iter(result.attribution["results"]), {"shares": {}})["shares"]),
            "flags": result.attribution["flags"],
            "efficiency": result.attribution["efficiency_max_error"],
        }
    attrs = result.data.get("sensitive", [])
    return {
        "title": "Stress audit", "tool_version": result.tool_version, "result": result,
        "level_pct": f"{level:.0%}", "gate": result.gate,
        "gate_rules": [{"id": r.id, "status": r.status, "message": r.message} for r in result.gate.rules],
        "index_rows": index_rows, "missing": missing,
        "removal_rows": _condition_rows(result, ("removal", "realistic")),
        "corruption_rows": _condition_rows(result, ("corruption",)),
        "criteria_rows": _criteria_rows(result), "probe": probe, "attribution": attribution,
        "gaps": [{**g, "rho": fmt(g["spearman"]), "p": fmt_p(g["p_value"])}
                 for g in result.gap_vs_missingness],
        "figures": [{"attribute": a, "uri": _severity_figure(result, a)} for a in attrs] if figures else [],
        "parameters": result.corruption_parameters, "timings": result.timings,
        "warnings": result.warnings,
    }


def render_stress_html(result: StressResult, *, figures: bool = True) -> str:
    """The stress audit as one self-contained HTML page."""
    from fairaudit.report.html import render_template

    return render_template(STRESS_TEMPLATE, build_stress_context(result, figures=figures))
