"""The compare views render a CompareResult only: escaping, suppression, rule marks, JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from fairaudit.gate.change import evaluate_changes
from fairaudit.gate.policy import parse_policy
from fairaudit.metrics.paired import paired_changes
from fairaudit.report.compare import build_compare_context, render_compare_html, rule_subject
from fairaudit.report.compare_text import render_compare_junit, render_compare_markdown
from fairaudit.result_paired import CompareResult, CompareSide

HOSTILE = "<img src=x onerror=alert(1)> [a]"


@pytest.fixture(scope="module")
def result() -> CompareResult:
    rng = np.random.default_rng(5)
    n = 1500
    y = rng.integers(0, 2, n)
    grp = rng.choice([HOSTILE, "B", "tiny"], n, p=[0.5, 0.49, 0.01])
    a = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    b = a.copy()
    b[(grp == HOSTILE) & (y == 1) & (rng.random(n) < 0.4)] = 0.05
    paired = paired_changes(y, {"baseline": a, "candidate": b}, {"baseline": 0.5, "candidate": 0.5},
                            {"site": grp}, reference="baseline", n_bootstrap=100, seed=1)
    policy = parse_policy('[[change]]\npreset = "do_no_harm"\nmargin = 0.02\n', "p.toml")
    gate = evaluate_changes(paired, policy, "candidate")
    side = CompareSide("baseline", "predictions", "a.csv", "0" * 64, "score", 0.5, "given")
    return CompareResult(
        created="2026-01-01T00:00:00+00:00", tool_version="t", command=None, baseline=side,
        candidate=CompareSide(**{**side.__dict__, "role": "candidate", "source": "b.csv"}),
        n_rows=n, label="y", attributes=("site",), data_source="a.csv", data_sha256="0" * 64,
        id_column=None, cluster_column=None, paired=paired, gate=gate,
        change_rules=tuple({k: v for k, v in vars(r).items() if k != "location"} for r in policy.changes),
    )


def test_rule_subject_survives_brackets_in_group_names():
    subjects = {f"site = {HOSTILE}", "site = B"}
    assert rule_subject(f"do_no_harm [x]: sensitivity [site = {HOSTILE}]", subjects) == f"site = {HOSTILE}"
    assert rule_subject("rule [site = C]", subjects) is None


def test_failed_group_is_marked_in_its_metric_only(result):
    assert result.gate.status == "fail"
    failed = [r.id for r in result.gate.rules if r.status == "fail"]
    assert failed == [f"do_no_harm (margin 0.02): sensitivity [site = {HOSTILE}]"]
    insufficient = [r for r in result.gate.rules if "tiny" in r.id]
    assert insufficient and all(r.status == "inconclusive" for r in insufficient)


def test_html_escapes_group_names_and_puts_the_verdict_first(result):
    html = render_compare_html(result)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.index("Verdict: FAIL") < html.index("Changes by group")
    assert html.count("data:image/svg+xml;base64,") == 3  # TPR, FPR, AUC forest plots of "site"


def test_markdown_escapes_and_names_the_failing_group(result):
    md = render_compare_markdown(result)
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt; \\[a\\]" in md
    assert "❌ fairaudit compare: FAIL" in md


def test_suppression_withholds_small_groups_everywhere(result):
    ctx = build_compare_context(result, suppress_small_cells=100, figures=False)
    rows = next(a for a in ctx["attributes"] if a["name"] == "site")["rows"]
    tiny = [r for r in rows if r["group"] == "tiny"]
    assert tiny and all(r["change"] == "suppressed" and r["ci"] == "" and r["n"] == "<100" for r in tiny)
    tiny_rules = [r for r in ctx["verdict"]["rules"] + ctx["verdict"]["rules_folded"] if "tiny" in r["id"]]
    assert tiny_rules and all(r["message"] == "values withheld: small cell." for r in tiny_rules)


def test_junit_has_one_case_per_rule_outcome(result):
    root = ET.fromstring(render_compare_junit(result).split("\n", 1)[1])
    cases = list(root.iter("testcase"))
    assert len(cases) == len(result.gate.rules)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["gate.status"] == "fail" and props["exit_code"] == "1" and props["candidate"] == "b.csv"
