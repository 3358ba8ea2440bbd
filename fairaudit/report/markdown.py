"""The Markdown view (``--format markdown``): for a CI job summary or a pull-request comment.

Built from the same plain context as the HTML report. Every piece of data text (group and
attribute names, messages) is escaped for Markdown tables: HTML-significant characters become
entities and Markdown punctuation is backslash-escaped, so a group called ``<script>`` or
``a|b`` renders literally.
"""

from __future__ import annotations

import re
from typing import Any

from fairaudit.report.formatting import md_code
from fairaudit.result import AuditResult

# Inside a table cell only these can start Markdown syntax ("[" and "]" cover links/images).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "warn": "⚠️", "not_run": "➖"}
_MD_METRICS = ("auc", "tpr", "fpr", "ppv", "balanced_accuracy", "ece")


def escape(text: Any) -> str:
    """Escape data text for a Markdown table cell (one line, no HTML, no Markdown syntax)."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _num(text: str) -> str:
    # Formatted numbers and CIs are our own text; only escape what a table would misread.
    return text.replace("|", "\\|")


def _cell(cell: dict[str, Any]) -> str:
    return _num(f"{cell['text']} ({cell['ci']})" if cell["ci"] else cell["text"])


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _rule_table(rules: list[dict[str, Any]], level: str) -> list[str]:
    rows = [
        [f"{_ICONS[r['status']]} {r['status_label']}", escape(r["id"]), _num(r["value"]),
         _num(r["ci"]), _num(r["bound"]),
         escape(r["message_head"] + " …" if r["message_head"] else r["message"])]
        for r in rules
    ]
    return _table(["Status", "Rule", "Value", f"{level} CI", "Bound", "Finding"], rows,
                  ["---", "---", "--:", "--:", "--:", "---"])


def _group_tables(attr: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """Groups of one attribute; with many groups the flagged first and the rest folded."""
    header = ["Group", "n", "Prevalence"] + [labels[m] for m in _MD_METRICS] + ["Status"]
    align = ["---"] + ["--:"] * (len(header) - 2) + ["---"]
    comp = {r["group"]: r for r in attr["composition"] + attr["composition_folded"]}

    def rows(perf: list[dict[str, Any]]) -> list[list[str]]:
        return [
            [escape(r["group"]), _num(r["n"]), _num(comp[r["group"]]["prevalence"])]
            + [_cell(r["cells"][m]) for m in _MD_METRICS]
            + [escape(r["status"]) + (f" (flagged: {escape(r['flag'])})" if r["flag"] else "")]
            for r in perf
        ]

    out: list[str] = []
    if attr["performance"] or not attr["performance_folded"]:
        out += _table(header, rows(attr["performance"]), align) + [""]
    if attr["performance_folded"]:
        n = len(attr["performance_folded"])
        out += ["<details>", f"<summary>{n} more groups within the 99.8% funnel limits (most divergent first)</summary>", ""]
        out += _table(header, rows(attr["performance_folded"]), align) + ["", "</details>", ""]
    return out


def _criteria_and_spread(attr: dict[str, Any], level: str) -> list[str]:
    """The criteria and spread tables of one attribute."""
    lines: list[str] = []
    if attr["criteria"]:
        rows = []
        for c in attr["criteria"]:
            note = escape(c["reason"]) if c["reason"] else ""
            if c["sufficient_only"]:
                so = c["sufficient_only"]
                note += f" Over sufficient groups only: {so['value']}" + (f" ({so['ci']})" if so["ci"] else "")
            rows.append([escape(c["label"]), _num(c["value"]), _num(c["ci"]), _num(c["q"]),
                         escape(c["status"]), note.strip()])
        lines += _table(["Criterion", "Value", f"{level} CI", "q", "Status", "Notes"], rows,
                        ["---", "--:", "--:", "--:", "---", "---"])
        lines.append("")
    if attr["summaries"]:
        rows = [
            [escape(s["label"]), _num(s["sd"]), _num(s["sd_ci"]), _num(s["ser"]), _num(s["ser_ci"]),
             escape(s["worst"]) + (f"; {escape(s['worst_insufficient'])}"
                                   if s["worst_insufficient"] else "")]
            for s in attr["summaries"]
        ]
        lines += _table(["Metric", "SD", f"{level} CI", "SER", f"{level} CI", "Worst group"], rows,
                        ["---", "--:", "--:", "--:", "--:", "---"])
        lines.append("")
    return lines


def render_markdown(result: AuditResult, *, suppress_small_cells: int = 0, no_fail: bool = False) -> str:
    """Render the verdict, rules, groups, criteria and spread summaries as GitHub Markdown.

    Parameters
    ----------
    result
        The audit result.
    suppress_small_cells
        Show counts from 1 to K-1 as ``<K`` (in tables and in every message) and withhold the
        numbers of groups with fewer than K rows (0: off).
    no_fail
        The run used ``--no-fail``: the exit code printed is 0, the process's own.
    """
    from fairaudit.report.context import build_context

    ctx = build_context(result, suppress_small_cells=suppress_small_cells, figures=False, no_fail=no_fail)
    v = ctx["verdict"]
    level = ctx["level_pct"]
    labels = ctx["metric_labels"]
    lines: list[str] = []
    title = f"## {_ICONS[v['status']]} fairaudit: {v['label']}"
    if v["policy"]:
        title += f" (policy {escape(v['policy'])})"
    lines += [title, "", v["explanation"], ""]
    if v["rules"]:
        c = v["counts"]
        code = f"exit code {v['exit_code']}" + (" (--no-fail)" if v["no_fail"] else "")
        lines += [f"{c['pass']} passed, {c['fail']} failed, {c['inconclusive']} inconclusive; {code}.", ""]
        lines += _rule_table(v["rules"], level) + [""]
        if v["rules_folded"]:
            lines += ["<details>", f"<summary>{len(v['rules_folded'])} more rule outcomes "
                      "(every failed rule is listed above)</summary>", ""]
            lines += _rule_table(v["rules_folded"], level) + ["", "</details>", ""]
    for w in ctx["warnings"]:
        lines.append(f"> **Warning:** {escape(w)}")
    if ctx["warnings"]:
        lines.append("")
    ds = ctx["dataset"]
    lines += [
        f"**Data:** {ds['n_used']} of {ds['n_rows']} rows used ({ds['n_excluded']} excluded); "
        f"label {md_code(ds['label'])}; threshold {ctx['threshold']['value']} "
        f"({escape(ctx['threshold']['source'])}); values are shown with {level} confidence intervals.",
        "",
    ]
    if ds["inputs"]:
        lines += [f"**Inputs:** {escape('; '.join(ds['inputs']))}.", ""]
    if suppress_small_cells:
        lines += [f"Small-cell suppression: counts below {suppress_small_cells} are hidden.", ""]
    for attr in ctx["attributes"]:
        name = escape(attr["name"])
        collapsed = attr["kind"] == "intersection"
        if collapsed:
            lines += ["<details>", f"<summary>Intersection {name}</summary>", ""]
        lines += [f"### {name}", ""]
        lines += _group_tables(attr, labels)
        lines += _criteria_and_spread(attr, level)
        if collapsed:
            lines += ["</details>", ""]
    lines.append(f"<sub>fairaudit {escape(ctx['tool_version'])} · seed {result.run.seed} · "
                 f"{result.run.n_bootstrap} bootstrap replicates · data SHA-256 `{escape(result.run.data_sha256[:12])}`</sub>")
    if result.run.cross_check is not None:
        lines.append(f"<sub>Cross-check: {escape(result.run.cross_check.describe())}</sub>")
    return "\n".join(lines) + "\n"
