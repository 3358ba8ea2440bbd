"""Text views of a comparison: Markdown (a pull-request comment), JUnit XML, a terminal summary.

All built from :func:`fairaudit.report.compare.build_compare_context` (no figures); data text is
escaped for Markdown (group names such as ``<script>`` or ``a|b`` render literally).
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

from fairaudit.report.compare import WITHHELD, build_compare_context, hidden_subjects, rule_subject
from fairaudit.report.context import Suppressor
from fairaudit.report.formatting import md_code, terminal_safe
from fairaudit.report.markdown import escape
from fairaudit.result import GateOutcome
from fairaudit.result_paired import CompareResult

_ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "warn": "⚠️", "not_run": "➖"}
MD_METRICS = ("tpr", "fpr", "ppv", "auc")
MAX_MD_RULES = 30


def _num(text: str) -> str:
    return text.replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
            + ["| " + " | ".join(r) + " |" for r in rows])


def _rules(rules: list[dict[str, Any]], level: str) -> list[str]:
    rows = [[f"{_ICONS[r['status']]} {r['status_label']}", escape(r["id"]), _num(r["value"]),
             _num(r["ci"]), _num(r["bound"]), escape(r["message_head"] + " …" if r["message_head"] else r["message"])]
            for r in rules]
    return _table(["Status", "Rule", "Change", f"{level} CI", "Bound", "Finding"], rows,
                  ["---", "---", "--:", "--:", "--:", "---"])


def _group_lines(attr: dict[str, Any], level: str) -> list[str]:
    by_group: dict[str, dict[str, Any]] = {}
    for r in attr["rows"]:
        by_group.setdefault(r["group"], {"n": r["n"], "status": r["status"]})[r["metric"]] = r
    metrics = [m for m in MD_METRICS if any(m in g for g in by_group.values())]
    header = ["Group", "n"] + [f"Δ {next(g[m]['metric_label'] for g in by_group.values() if m in g)} ({level} CI)"
                               for m in metrics] + ["Status"]
    rows = []
    for group, g in by_group.items():
        cells = [_num(f"{g[m]['change']} ({g[m]['ci']})" if g[m]["ci"] else g[m]["change"]) for m in metrics]
        rows.append([escape(group), _num(g["n"]), *cells, g["status"]])
    return _table(header, rows, ["---", "--:"] + ["--:"] * len(metrics) + ["---"])


def render_compare_markdown(result: CompareResult, *, suppress_small_cells: int = 0,
                            no_fail: bool = False) -> str:
    """The verdict, its rules, the overall changes and each attribute's group changes."""
    ctx = build_compare_context(result, suppress_small_cells=suppress_small_cells, no_fail=no_fail,
                                figures=False)
    v, level = ctx["verdict"], ctx["level_pct"]
    title = f"## {_ICONS[v['status']]} fairaudit compare: {v['label']}"
    if v["policy"]:
        title += f" (policy {escape(v['policy'])})"
    b, c = ctx["sides"]
    lines = [title, "", f"Candidate {md_code(c['source'])} against baseline {md_code(b['source'])} "
             f"on the same {_num(ctx['n_rows'])} rows; changes are candidate − baseline "
             f"with paired {level} intervals.", "", v["explanation"], ""]
    if v["rules"]:
        counts = v["counts"]
        code = f"exit code {v['exit_code']}" + (" (--no-fail)" if v["no_fail"] else "")
        lines += [f"{counts['pass']} passed, {counts['fail']} failed, {counts['inconclusive']} "
                  f"inconclusive; {code}. Per-group rules are judged on simultaneous intervals.", ""]
        rules = v["rules"] + v["rules_folded"]
        shown = [r for r in rules if r["status"] != "pass"][:MAX_MD_RULES] or rules[:MAX_MD_RULES]
        lines += _rules(shown, level) + [""]
        if len(shown) < len(rules):
            lines += [f"{len(rules) - len(shown)} more rule outcomes (passed, or beyond the first "
                      f"{MAX_MD_RULES}) are in the HTML report and compare.json.", ""]
    lines += [f"> **Warning:** {escape(w)}" for w in ctx["warnings"]]
    lines += [""] if ctx["warnings"] else []
    lines += ["### Overall", ""]
    lines += _table(["Metric", "Baseline", "Candidate", "Change", f"{level} CI", "p"],
                    [[r["metric_label"], r["baseline"], r["candidate"], r["change"], _num(r["ci"]), r["p"]]
                     for r in ctx["overall"]], ["---", "--:", "--:", "--:", "--:", "--:"]) + [""]
    if suppress_small_cells:
        lines += [f"Small-cell suppression: counts below {suppress_small_cells} are hidden.", ""]
    for attr in ctx["attributes"]:
        name = escape(attr["name"])
        folded = attr["kind"] == "intersection"
        # Raw HTML: Markdown's backslash escapes would show there, so HTML-escape only.
        summary = html.escape(" ".join(attr["name"].split()))
        lines += (["<details>", f"<summary>Intersection {summary}</summary>", ""] if folded else [])
        lines += [f"### {name}", ""] + _group_lines(attr, level) + [""]
        lines += (["</details>", ""] if folded else [])
    p = result.paired
    lines.append(f"<sub>fairaudit {escape(result.tool_version)} · seed {p.seed} · {p.n_bootstrap} "
                 f"paired replicates over {p.unit}s · data SHA-256 `{escape(result.data_sha256[:12])}`</sub>")
    return "\n".join(lines) + "\n"


def render_compare_junit(result: CompareResult, *, suppress_small_cells: int = 0,
                         no_fail: bool = False) -> str:
    """JUnit XML: one test case per judged change rule (see :func:`fairaudit.report.junit.gate_junit`).

    As in the other views, the rule outcomes of a group withheld by small-cell suppression carry
    no value, interval or message (its change would reveal counts)."""
    from fairaudit.report.junit import gate_junit

    p = result.paired
    return gate_junit(
        _withhold(result, Suppressor(suppress_small_cells)), level=p.confidence_level, created=result.created,
        properties=(("fairaudit.version", result.tool_version), ("seed", str(p.seed)),
                    ("n_bootstrap", str(p.n_bootstrap)), ("confidence_level", str(p.confidence_level)),
                    ("data_sha256", result.data_sha256), ("baseline", result.baseline.source),
                    ("candidate", result.candidate.source)),
        suppress_small_cells=suppress_small_cells, no_fail=no_fail, suite="fairaudit compare",
    )


def _withhold(result: CompareResult, sup: Suppressor) -> GateOutcome:
    """The gate with every outcome on a withheld group stripped of its numbers and message."""
    hidden = hidden_subjects(result, sup)
    return replace(result.gate, rules=tuple(
        replace(o, message=WITHHELD, value=None, ci=None, simultaneous_ci=None)
        if rule_subject(o.id, hidden) else o for o in result.gate.rules))


def render_compare_table(result: CompareResult, *, suppress_small_cells: int = 0,
                         no_fail: bool = False) -> str:
    """A plain-text summary for the terminal: verdict, overall changes, failed rules."""
    ctx = build_compare_context(result, suppress_small_cells=suppress_small_cells, no_fail=no_fail,
                                figures=False)
    v, level = ctx["verdict"], ctx["level_pct"]
    out = [f"fairaudit compare: {v['label']}" + (f" (policy {v['policy']})" if v["policy"] else ""), ""]
    out.append(f"{'metric':<20} {'baseline':>9} {'candidate':>9} {'change':>8}  {level} paired CI")
    for r in ctx["overall"]:
        out.append(f"{r['metric_label'][:20]:<20} {r['baseline']:>9} {r['candidate']:>9} {r['change']:>8}  {r['ci']}")
    bad = [r for r in v["rules"] + v["rules_folded"] if r["status"] != "pass"]
    if bad:
        out += ["", "rules not passed:"]
        out += [f"  {r['status_label']}: {r['message']}" for r in bad[:MAX_MD_RULES]]
        if len(bad) > MAX_MD_RULES:
            out.append(f"  ... and {len(bad) - MAX_MD_RULES} more (see the HTML or JSON)")
    return "\n".join(terminal_safe(line) for line in out) + "\n"


__all__ = ["render_compare_junit", "render_compare_markdown", "render_compare_table"]
