"""JUnit XML: one test case per rule; failures carry value, interval and bound; escaping holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fairaudit.gate import evaluate, parse_policy
from fairaudit.report.junit import render_junit
from tests.report.reportdata import make_result

NASTY = {"Black": '<script>alert("x")</script> & \x07bell'}


def _policy(extra=""):
    return parse_policy(
        f'[policy]\nname = "ci <gate>"\n{extra}\n[groups]\nmin_size = 30\n'
        '[[group_metric]]\nmetric = "auc"\nattributes = ["race"]\nmin = 0.8\n'
    )


@pytest.fixture(scope="module")
def base():
    return make_result(names=NASTY, n_bootstrap=30)


def test_one_case_per_rule_with_details(base):
    result = base.with_gate(evaluate(base, _policy()))
    root = ET.fromstring(render_junit(result))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(result.gate.rules) == int(suite.get("tests"))
    statuses = [r.status for r in result.gate.rules]
    assert int(suite.get("failures")) == statuses.count("fail") + statuses.count("inconclusive")
    assert "fail" in statuses and "inconclusive" in statuses and "pass" in statuses
    for rule, case in zip(result.gate.rules, cases, strict=True):
        assert case.get("name") == rule.id.replace("\x07", "")
        failure = case.find("failure")
        if rule.status == "pass":
            assert failure is None
        else:
            assert failure.get("type") == rule.status
            assert failure.get("message") == rule.message.replace("\x07", "")
            if rule.value is not None:
                assert f"value: {rule.value:.4g}" in failure.text
                assert f"[{rule.ci[0]:.4g}, {rule.ci[1]:.4g}]" in failure.text
    assert suite.get("name") == "fairaudit gate: ci <gate>"


def test_inconclusive_as_warning_is_skipped(base):
    result = base.with_gate(evaluate(base, _policy('inconclusive = "warn"')))
    suite = ET.fromstring(render_junit(result)).find("testsuite")
    n_inc = sum(r.status == "inconclusive" for r in result.gate.rules)
    assert n_inc > 0 and int(suite.get("skipped")) == n_inc
    assert len(suite.findall("testcase/skipped")) == n_inc


def test_escaping_and_control_characters(base):
    result = base.with_gate(evaluate(base, _policy()))
    text = render_junit(result)
    assert "<script>" not in text and "&lt;script&gt;" in text and "\x07" not in text
    names = [c.get("name") for c in ET.fromstring(text).iter("testcase")]
    assert any('<script>alert("x")</script> & bell' in n for n in names)


def test_no_policy_gives_an_empty_suite():
    suite = ET.fromstring(render_junit(make_result(n_bootstrap=0))).find("testsuite")
    assert suite.get("tests") == "0" and not suite.findall("testcase")


def test_two_sided_bounds_are_recorded_in_json_and_junit():
    """A rule with min and max keeps both (JSON bound_min/bound_max; JUnit 'bound: >= a and <= b')."""
    import json

    import fairaudit
    from fairaudit.gate.policy import parse_policy
    from fairaudit.report.junit import render_junit
    from tests.conftest import make_predictions

    policy = parse_policy('[[group_metric]]\nmetric = "tpr"\nattributes = ["sex"]\nmin = 0.1\nmax = 0.99\n')
    res = fairaudit.audit(make_predictions(0), label="y", sensitive="sex", threshold=0.5,
                          n_bootstrap=100, n_permutations=0, policy=policy)
    rule = json.loads(res.to_json())["gate"]["rules"][0]
    assert (rule["bound_min"], rule["bound_max"]) == (0.1, 0.99)
    assert rule["simultaneous_ci"] is not None
    xml = render_junit(res)
    assert "bound: &gt;= 0.1 and &lt;= 0.99" in xml or "bound: >= 0.1 and <= 0.99" in xml
    assert "simultaneous 95% CI" in xml
