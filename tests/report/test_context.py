"""fairaudit.report.context: the plain context every report renders (no statistic computed)."""

from __future__ import annotations

import pytest

from fairaudit.report.context import (
    CRITERION_LABELS,
    MANY_RULES,
    METRIC_LABELS,
    STATUS_LABELS,
    Suppressor,
    build_context,
    estimate_cell,
    verdict_context,
)
from fairaudit.result import (
    CRITERIA_NAMES,
    METRIC_NAMES,
    AuditResult,
    Estimate,
    GateOutcome,
    RuleOutcome,
)
from tests.report.reportdata import make_result


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(n_bootstrap=20)


@pytest.fixture(scope="module")
def context(result: AuditResult) -> dict:
    return build_context(result, figures=False)


def _gated(result: AuditResult, *statuses: str, warning: bool = False, gate: str | None = None) -> AuditResult:
    rules = tuple(RuleOutcome(id=f"r{i}", status=s, message=f"rule {i}") for i, s in enumerate(statuses))
    return result.with_gate(GateOutcome(status=gate or statuses[0], rules=rules, policy="p",
                                        inconclusive_is_warning=warning))


def test_every_metric_and_criterion_has_a_label() -> None:
    assert set(METRIC_LABELS) == set(METRIC_NAMES)
    assert set(CRITERION_LABELS) == set(CRITERIA_NAMES)


def test_context_lists_every_attribute_and_intersection_in_order(result: AuditResult, context: dict) -> None:
    assert [a["name"] for a in context["attributes"]] == list(result.audited_attributes)
    kinds = {a["name"]: a["kind"] for a in context["attributes"]}
    assert kinds["sex"] == "attribute" and kinds["sex & race"] == "intersection"
    assert [a["anchor"] for a in context["attributes"]] == [f"attr-{i}" for i in range(len(kinds))]
    assert context["metric_names"] == list(METRIC_NAMES)
    assert context["level_pct"] == f"{result.run.confidence_level:.0%}"


def test_group_rows_carry_the_results_numbers_formatted(result: AuditResult, context: dict) -> None:
    race = next(a for a in context["attributes"] if a["name"] == "race")
    groups = result.groups_of("race")
    assert [r["group"] for r in race["performance"]] == [g.group for g in groups]
    for row, g in zip(race["performance"], groups, strict=True):
        auc = g.metrics["auc"]
        assert row["cells"]["auc"] == estimate_cell(auc)
        assert row["n"] == str(g.n) and row["status"] == g.status
    assert race["n_insufficient"] == sum(g.status == "insufficient" for g in groups)


def test_criteria_and_summaries_are_those_of_the_attribute(result: AuditResult, context: dict) -> None:
    race = next(a for a in context["attributes"] if a["name"] == "race")
    assert [r["name"] for r in race["criteria"]] == [c.name for c in result.criteria if c.attribute == "race"]
    eod = next(r for r in race["criteria"] if r["name"] == "equalized_odds_difference")
    crit = result.criterion("race", "equalized_odds_difference")
    assert eod["label"] == "Equalised odds difference"
    assert eod["sort"] == ("" if crit.value is None else repr(float(crit.value)))
    assert [s["metric"] for s in race["summaries"]] == [s.metric for s in result.summaries if s.attribute == "race"]


def test_estimate_cell_formats_hides_and_explains() -> None:
    cell = estimate_cell(Estimate(0.81234, (0.75, 0.86)))
    assert cell["text"] == "0.812" and "0.750" in cell["ci"] and cell["sort"] == repr(0.81234)
    assert estimate_cell(Estimate(None, reason="no positives"))["reason"] == "no positives"
    assert estimate_cell(None)["text"] == "—"
    assert estimate_cell(Estimate(0.5), hidden=True) == {
        "text": "suppressed", "ci": "", "sort": "", "reason": "small cell suppressed",
    }


@pytest.mark.parametrize(
    ("statuses", "warning", "status", "code"),
    [
        (("pass", "pass"), False, "pass", 0),
        (("fail", "pass"), False, "fail", 1),
        (("inconclusive", "pass"), False, "inconclusive", 3),
        (("inconclusive", "pass"), True, "warn", 0),
    ],
)
def test_verdict_status_label_and_exit_code(result, statuses, warning, status, code) -> None:
    v = verdict_context(_gated(result, *statuses, warning=warning))
    assert v["status"] == status and v["label"] == STATUS_LABELS[status]
    assert v["exit_code"] == code and v["no_fail"] is False
    assert v["counts"] == {s: statuses.count(s) for s in ("pass", "fail", "inconclusive")}
    if warning:
        assert v["rules"][0]["status"] == "warn"


def test_verdict_under_no_fail_shows_the_process_exit_code(result: AuditResult) -> None:
    v = verdict_context(_gated(result, "fail"), no_fail=True)
    assert v["status"] == "fail" and v["exit_code"] == 0 and v["no_fail"] is True
    assert verdict_context(result.with_gate(GateOutcome(status="not_run")), no_fail=True)["no_fail"] is False


def test_many_rules_put_failures_first_and_fold_the_rest(result: AuditResult) -> None:
    statuses = ["pass"] * (MANY_RULES + 5) + ["fail", "inconclusive"]
    v = verdict_context(_gated(result, *statuses, gate="fail"))
    assert len(v["rules"]) == MANY_RULES and len(v["rules_folded"]) == len(statuses) - MANY_RULES
    assert [r["status"] for r in v["rules"][:2]] == ["fail", "inconclusive"]


def test_small_counts_are_suppressed_in_rules_and_warnings(result: AuditResult) -> None:
    gated = _gated(result, "fail").with_gate(GateOutcome(status="fail", rules=(
        RuleOutcome(id="r", status="fail", message="group X has n=3 and 2 positives"),
    )))
    context = build_context(gated, suppress_small_cells=5, figures=False)
    message = context["verdict"]["rules"][0]["message"]
    assert message == "group X has n<5 and <5 positives"
    assert context["suppress_small_cells"] == 5


def test_suppressor_rejects_a_negative_k() -> None:
    with pytest.raises(ValueError, match="suppress_small_cells"):
        Suppressor(-1)
    s = Suppressor(5)
    assert [s.count(c) for c in (None, 0, 4, 5)] == ["—", "0", "<5", "5"]
