"""The frozen audit result: status vocabularies, lookups, and the JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import math
import typing

import pytest

from fairaudit.result import (
    CRITERIA_NAMES,
    METRIC_NAMES,
    SCHEMA_VERSION,
    AuditResult,
    CriterionStatus,
    CrossCheck,
    Estimate,
    GateOutcome,
    GateStatus,
    GroupStatus,
    RuleOutcome,
    RuleStatus,
)
from fairaudit.schema import load_schema
from tests.report.reportdata import make_result


@pytest.fixture(scope="module")
def result() -> AuditResult:
    gate = GateOutcome(status="fail", policy="p", rules=(
        RuleOutcome(id="r1", status="fail", message="m", value=0.3, ci=(0.2, 0.4), bound=0.1, bound_max=0.1),
        RuleOutcome(id="r2", status="pass", message="ok"),
    ))
    return make_result(n_bootstrap=20).with_gate(gate)


def _enums(node: object, key: str = "status") -> list[set[str]]:
    """Every ``{"status": {"enum": [...]}}`` in the JSON schema."""
    found: list[set[str]] = []
    if isinstance(node, dict):
        spec = node.get(key)
        if isinstance(spec, dict) and "enum" in spec:
            found.append(set(spec["enum"]))
        for value in node.values():
            found.extend(_enums(value, key))
    elif isinstance(node, list):
        for value in node:
            found.extend(_enums(value, key))
    return found


def test_status_types_are_the_schema_enums() -> None:
    enums = _enums(load_schema())
    for status_type in (GroupStatus, CriterionStatus, RuleStatus, GateStatus):
        assert set(typing.get_args(status_type)) in enums, status_type
    assert set(typing.get_args(RuleStatus)) < set(typing.get_args(GateStatus))


def test_json_round_trip_is_exact(result: AuditResult) -> None:
    text = result.to_json()
    again = AuditResult.from_json(text)
    assert again == result
    assert again.to_json() == text


def test_to_dict_puts_the_contract_keys_first(result: AuditResult) -> None:
    data = result.to_dict()
    assert list(data)[:2] == ["schema_version", "tool"]
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["tool"] == {"name": "fairaudit", "version": result.run.tool_version}
    assert "schema_version" not in list(data)[2:]


def test_non_finite_numbers_are_written_as_null(result: AuditResult) -> None:
    g = result.groups[0]
    nan_group = dataclasses.replace(g, metrics={**g.metrics, "auc": Estimate(math.nan, (math.inf, 1.0))})
    text = dataclasses.replace(result, groups=(nan_group, *result.groups[1:])).to_json()
    auc = json.loads(text)["groups"][0]["metrics"]["auc"]
    assert auc["value"] is None and auc["ci"] == [None, 1.0]


def test_from_dict_rejects_a_status_outside_its_vocabulary(result: AuditResult) -> None:
    data = result.to_dict()
    data["gate"]["rules"][0]["status"] = "passed"
    with pytest.raises(ValueError, match="'passed' is not one of 'pass', 'fail', 'inconclusive'"):
        AuditResult.from_dict(data)
    data = result.to_dict()
    data["groups"][0]["status"] = "sufficient"
    with pytest.raises(ValueError, match="'sufficient'"):
        AuditResult.from_dict(data)


def test_from_dict_reads_integers_as_floats_and_lists_as_tuples(result: AuditResult) -> None:
    data = result.to_dict()
    data["gate"]["rules"][0]["value"] = 1
    back = AuditResult.from_dict(data)
    value = back.gate.rules[0].value
    assert value == 1.0 and isinstance(value, float)
    assert back.gate.rules[0].ci == (0.2, 0.4)
    assert isinstance(back.groups, tuple) and isinstance(back.dataset.attributes, tuple)


def test_from_dict_ignores_unknown_keys(result: AuditResult) -> None:
    data = result.to_dict()
    data["added_in_a_later_minor_version"] = {"x": 1}
    data["run"]["also_new"] = True
    assert AuditResult.from_dict(data) == result


def test_lookups_find_what_exists_and_name_what_does_not(result: AuditResult) -> None:
    g = result.groups_of("race")[0]
    assert result.group("race", g.group) is g
    assert all(x.attribute == "race" for x in result.groups_of("race"))
    c = result.criterion("race", "equalized_odds_difference")
    assert c.attribute == "race" and c.name in CRITERIA_NAMES
    assert result.summary("race", "auc").metric == "auc"
    with pytest.raises(KeyError, match="'Martian'.*'race'"):
        result.group("race", "Martian")
    with pytest.raises(KeyError, match="no criterion 'x'"):
        result.criterion("race", "x")
    with pytest.raises(KeyError, match="no summary of 'auc' for attribute 'planet'"):
        result.summary("planet", "auc")
    assert result.groups_of("planet") == ()


def test_audited_attributes_are_attributes_then_intersections(result: AuditResult) -> None:
    assert result.audited_attributes == result.dataset.attributes + result.dataset.intersections
    assert "sex & race" in result.audited_attributes


def test_with_gate_returns_a_new_result(result: AuditResult) -> None:
    other = result.with_gate(GateOutcome(status="not_run"))
    assert other.gate.status == "not_run" and result.gate.status == "fail"
    assert other.groups is result.groups
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.gate = other.gate


def test_every_group_carries_every_metric_and_the_json_keeps_their_order(result: AuditResult) -> None:
    for g in result.groups:
        assert set(g.metrics) == set(METRIC_NAMES)
    assert set(result.overall.metrics) == set(METRIC_NAMES)
    assert len(METRIC_NAMES) == len(set(METRIC_NAMES))
    assert len(CRITERIA_NAMES) == len(set(CRITERIA_NAMES))
    assert list(result.to_dict()["overall"]["metrics"]) == list(result.overall.metrics)


def test_cross_check_describes_what_it_compared() -> None:
    cc = CrossCheck(fairlearn_version="0.10", aif360_version="0.6", n_compared=120, n_skipped=3,
                    max_abs_difference=2.5e-16)
    text = cc.describe()
    assert text.startswith("120 comparisons agree with fairlearn 0.10 and aif360 0.6")
    assert "largest difference 2.5e-16" in text and "3 skipped" in text


def test_to_json_is_the_standard_encoding_of_to_dict(result: AuditResult) -> None:
    """to_json writes in one walk (no dictionary first); its bytes are json.dumps of to_dict."""
    expected = json.dumps(result.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    assert result.to_json() == expected
    assert result.to_json(indent=None) == json.dumps(result.to_dict(), allow_nan=False, ensure_ascii=False) + "\n"
