"""The quantitative-analysis part of a model card, from an audit result.

``render_modelcard`` writes a CycloneDX ML-BOM (JSON, spec 1.6) with one
``machine-learning-model`` component whose ``modelCard.quantitativeAnalysis.performanceMetrics``
lists every defined group metric, overall metric and fairness criterion of the audit as
``{type, value, slice, confidenceInterval: {lowerBound, upperBound}}`` (CycloneDX writes these as
strings). ``render_checklist`` writes a Markdown checklist mapping the audit's sections to the
subgroup-reporting items of TRIPOD+AI and STARD 2015: which the audit answers, which it answers in
part, and which the authors must still write. Items are named by their content; check the item
numbers against the checklist version you report to.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fairaudit.naming import SEPARATOR
from fairaudit.result import AuditResult, Estimate

SPEC_VERSION = "1.6"


def _num(x: float) -> str:
    return f"{x:.6g}"


def _slice(attribute: str, group: str, values: tuple[str, ...]) -> str:
    """``sex=F``; an intersection as ``sex=F, race=Black`` (from the group's own values)."""
    names = attribute.split(SEPARATOR) if values and len(values) > 1 else [attribute]
    parts = values if values and len(values) == len(names) else (group,)
    return ", ".join(f"{a}={v}" for a, v in zip(names, parts, strict=False))


def _metric(kind: str, est: Estimate | None, slice_: str) -> dict[str, Any] | None:
    if est is None or est.value is None:
        return None
    out: dict[str, Any] = {"type": kind, "value": _num(est.value), "slice": slice_}
    if est.ci is not None:
        out["confidenceInterval"] = {"lowerBound": _num(est.ci[0]), "upperBound": _num(est.ci[1])}
    return out


def performance_metrics(result: AuditResult) -> list[dict[str, Any]]:
    """Every defined overall metric, group metric and criterion, in the audit's order."""
    out = [m for name, est in result.overall.metrics.items()
           if (m := _metric(name, est, "overall")) is not None]
    for g in result.groups:
        s = _slice(g.attribute, g.group, g.values)
        out += [m for name, est in g.metrics.items() if (m := _metric(name, est, s)) is not None]
    for c in result.criteria:
        est = Estimate(c.value, c.ci) if c.status == "ok" else None
        m = _metric(c.name, est, f"{c.attribute} (across groups)")
        if m is not None:
            out.append(m)
    return out


def render_modelcard(result: AuditResult, *, model_name: str | None = None) -> str:
    """The CycloneDX ML-BOM JSON (deterministic: its serial number derives from the result)."""
    run = result.run
    name = model_name or (f"model-{run.model_sha256[:12]}" if run.model_sha256 else "audited model")
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"fairaudit:{run.data_sha256}:{run.model_sha256}:{run.created}")
    insufficient = [_slice(g.attribute, g.group, g.values) for g in result.groups if g.status == "insufficient"]
    component: dict[str, Any] = {
        "type": "machine-learning-model", "bom-ref": "model", "name": name,
        "modelCard": {
            "quantitativeAnalysis": {"performanceMetrics": performance_metrics(result)},
            "considerations": {"fairnessAssessments": [
                {"groupAtRisk": _slice(g.attribute, g.group, g.values),
                 "harms": f"too few rows or events to estimate performance ({'; '.join(g.reasons)})",
                 "mitigationStrategy": "collect more data for this group before relying on the model for it"}
                for g in result.groups if g.status == "insufficient"
            ]},
        },
        "properties": [
            {"name": "fairaudit:threshold", "value": _num(result.threshold.value)},
            {"name": "fairaudit:threshold_source", "value": result.threshold.source},
            {"name": "fairaudit:confidence_level", "value": _num(run.confidence_level)},
            {"name": "fairaudit:n_bootstrap", "value": str(run.n_bootstrap)},
            {"name": "fairaudit:bootstrap_unit", "value": run.bootstrap_unit},
            {"name": "fairaudit:interval_method", "value": run.interval_method or ""},
            {"name": "fairaudit:data_sha256", "value": run.data_sha256},
            {"name": "fairaudit:gate", "value": result.gate.status},
            {"name": "fairaudit:insufficient_groups", "value": "; ".join(insufficient)},
        ],
    }
    if run.model_sha256:
        component["hashes"] = [{"alg": "SHA-256", "content": run.model_sha256}]
    bom = {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {"timestamp": run.created, "tools": {"components": [
            {"type": "application", "name": "fairaudit", "version": run.tool_version}]},
            "component": {"type": "machine-learning-model", "bom-ref": "model", "name": name}},
        "components": [component],
    }
    return json.dumps(bom, indent=2, ensure_ascii=False) + "\n"


# (guideline, item named by content, status, what the audit gives / what is left to write)
def _checklist_rows(result: AuditResult) -> list[tuple[str, str, str, str]]:
    ds, run = result.dataset, result.run
    n_groups = len(result.groups)
    n_insuff = sum(1 for g in result.groups if g.status == "insufficient")
    attrs = ", ".join(ds.attributes)
    ci = f"{run.confidence_level:.0%} intervals ({run.n_bootstrap} bootstrap replicates over {run.bootstrap_unit}s)"
    return [
        ("TRIPOD+AI", "Model performance estimates with confidence intervals, including for key subgroups (e.g. sociodemographic)",
         "answered", f"overall and {n_groups} groups of {attrs} and their intersections, every metric with {ci}"),
        ("TRIPOD+AI", "Fairness: approaches used to address model fairness, and their rationale",
         "partly", f"criteria measured (demographic parity, equal opportunity, equalised odds, AUC gap) per attribute; "
                   f"write which mitigation was used and why{' (group thresholds: ' + str(result.threshold.group_attribute) + ')' if result.threshold.group_thresholds else ''}"),
        ("TRIPOD+AI", "Known health inequalities between sociodemographic groups (background)",
         "to write", "the audit measures gaps, it cannot say which were expected"),
        ("TRIPOD+AI", "Participant characteristics, including sociodemographic groups and missing data",
         "partly", f"group sizes, prevalence and unknown demographics ({sum(ds.unknown_counts.values())} unknown values kept as their own group)"),
        ("TRIPOD+AI", "Sample size, including for subgroups",
         "partly", f"{n_insuff} of {n_groups} groups flagged insufficient (fewer than {run.min_group_size} rows or {run.min_group_events} events); justify the sample size"),
        ("TRIPOD+AI", "Model output and decision threshold",
         "answered", f"threshold {result.threshold.value:g} ({result.threshold.source})"),
        ("TRIPOD+AI", "Calibration, including by subgroup", "answered", "Brier score and ECE per group, reliability curves in the HTML report"),
        ("TRIPOD+AI", "Data sources, eligibility, outcome definition, predictors", "to write", "not known to the audit"),
        ("TRIPOD+AI", "Interpretation: limitations and implications for fairness", "to write", "use the criteria and insufficient groups above"),
        ("STARD 2015", "Estimates of diagnostic accuracy and their precision (e.g. 95% confidence intervals)",
         "answered", f"sensitivity, specificity (1 - FPR), PPV, NPV, AUC per group with {ci}"),
        ("STARD 2015", "Analyses of variability in diagnostic accuracy, distinguishing pre-specified from exploratory",
         "partly", "per-group and intersection analyses done; the policy file's rules are the pre-specified ones "
                   f"(gate: {result.gate.status}); say which other analyses were exploratory"),
        ("STARD 2015", "Baseline demographic and clinical characteristics of participants",
         "partly", "demographics and prevalence per group; clinical characteristics to write"),
        ("STARD 2015", "Cross tabulation of index test results by reference standard results",
         "partly", "per group: positives, negatives, TPR and FPR give the 2x2 table; tabulate it"),
        ("STARD 2015", "Definition of and rationale for test positivity cut-offs, pre-specified or not",
         "partly", f"cut-off {result.threshold.value:g} ({result.threshold.source}); write the rationale"),
        ("STARD 2015", "Methods for estimating or comparing measures of diagnostic accuracy",
         "answered", run.interval_method or "percentile bootstrap"),
        ("STARD 2015", "How indeterminate or missing index test and reference results were handled",
         "partly", f"{ds.n_excluded} rows excluded; unknown demographics kept as a group; write the rest"),
        ("STARD 2015", "Intended use and clinical role of the index test", "to write", "not known to the audit"),
    ]


def render_checklist(result: AuditResult) -> str:
    """Markdown checklist: TRIPOD+AI and STARD 2015 subgroup-reporting items against the audit."""
    from fairaudit.report.markdown import escape

    marks = {"answered": "[x]", "partly": "[~]", "to write": "[ ]"}
    lines = ["# Subgroup reporting checklist (TRIPOD+AI, STARD 2015)", "",
             "Generated by fairaudit from one audit result. `[x]` the audit answers the item, "
             "`[~]` it answers part of it, `[ ]` the authors must write it. Items are named by their "
             "content; take the item numbers from the checklist version you report to.", ""]
    current = None
    for guideline, item, status, note in _checklist_rows(result):
        if guideline != current:
            lines += ["", f"## {guideline}", ""] if current else [f"## {guideline}", ""]
            current = guideline
        lines.append(f"- {marks[status]} **{item}** ({status}): {escape(note)}")
    return "\n".join(lines) + "\n"


__all__ = ["performance_metrics", "render_checklist", "render_modelcard"]
