"""fairaudit.report.stress: the stress audit's page renders what the result holds, escaped."""

from __future__ import annotations

import json

from fairaudit.report.stress import build_stress_context, render_stress_html
from fairaudit.stress_result import StressResult

HOSTILE = '<img src=x onerror="alert(1)">'


def _renamed(result: StressResult, old: str, new: str) -> StressResult:
    """The result with one group name replaced everywhere (a name from the data)."""
    text = json.dumps(result.to_dict()).replace(json.dumps(old), json.dumps(new))
    return StressResult.from_dict(json.loads(text))


def test_every_reference_condition_and_criterion_gets_a_row(tiny_stress_result: StressResult) -> None:
    ctx = build_stress_context(tiny_stress_result, figures=False)
    judged = [c for c in tiny_stress_result.conditions if c.get("reference")]
    n_groups = sum(len(c["groups"]) for c in judged if c["kind"] in ("removal", "realistic", "corruption"))
    assert len(ctx["removal_rows"]) + len(ctx["corruption_rows"]) == n_groups
    assert len(ctx["criteria_rows"]) == sum(len(c["criteria"]) for c in judged)
    assert {r["condition"] for r in ctx["corruption_rows"]} == {"brightness:1", "brightness:5"}
    assert ctx["figures"] == []
    # A change is flagged exactly when its interval excludes zero.
    raw = [k for c in judged for k in c["criteria"]]
    expected = [k.get("ci") is not None and (k["ci"][0] > 0 or k["ci"][1] < 0) for k in raw]
    assert [r["significant"] for r in ctx["criteria_rows"]] == expected
    assert [r["change"]["text"] for r in ctx["criteria_rows"]] == [
        "—" if k.get("change") is None else f"{k['change']:+.3f}" for k in raw]
    assert [r["status"] for r in ctx["gate_rules"]] == [r.status for r in tiny_stress_result.gate.rules]


def test_the_page_has_its_sections_and_one_figure_per_attribute(tiny_stress_result: StressResult) -> None:
    html = render_stress_html(tiny_stress_result)
    for heading in ("Stress audit", "brightness", "sex", "race"):
        assert heading in html
    assert html.count("data:image/svg+xml") >= len(tiny_stress_result.data["sensitive"])
    assert html.count("<script") == 1  # the page's own sort/expand script, nothing from data


def test_group_names_from_the_data_are_escaped(tiny_stress_result: StressResult) -> None:
    group = tiny_stress_result.conditions[0]["groups"][0]["group"]
    html = render_stress_html(_renamed(tiny_stress_result, group, HOSTILE), figures=False)
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=" in html
