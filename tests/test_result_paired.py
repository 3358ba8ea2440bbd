"""fairaudit.result_paired: the paired-comparison result, its lookups and its JSON round trip."""

from __future__ import annotations

import json

import pytest

from fairaudit.result_paired import CriterionChange, MetricChange, PairedResult


def _result() -> PairedResult:
    change = MetricChange(
        condition="new", attribute="sex", group="F", metric="tpr", reference_value=0.7, value=0.8,
        change=0.1, ci=(0.02, 0.18), simultaneous_ci=None, p_value=0.01, p_method="bootstrap",
        n=120, n_pos=40, n_neg=80, sufficient=True,
    )
    crit = CriterionChange(
        condition="new", attribute="sex", criterion="equal_opportunity_difference",
        reference_value=0.2, value=0.05, change=-0.15, ci=(-0.25, -0.05), p_value=None,
        complete=False, excluded_groups=("unknown",),
    )
    return PairedResult(
        reference="old", conditions=("new",), metrics=("tpr",),
        criteria=("equal_opportunity_difference",), attributes=("overall", "sex"),
        groups={"overall": ("overall",), "sex": ("F", "M", "unknown")}, changes=(change,),
        criterion_changes=(crit,), n_bootstrap=200, confidence_level=0.95, seed=0, unit="patient",
        n_units=90, min_group_size=30, min_group_events=10, method={"interval": "percentile"},
    )


def test_lookups_find_changes_and_raise_key_error_otherwise() -> None:
    r = _result()
    assert r.change("new", "sex", "F", "tpr").change == 0.1
    assert r.criterion_change("new", "sex", "equal_opportunity_difference").excluded_groups == ("unknown",)
    with pytest.raises(KeyError):
        r.change("new", "sex", "M", "tpr")
    with pytest.raises(KeyError):
        r.criterion_change("old", "sex", "equal_opportunity_difference")


def test_json_round_trip_restores_tuples_and_equality() -> None:
    r = _result()
    data = json.loads(json.dumps(r.to_dict()))
    assert data["changes"][0]["ci"] == [0.02, 0.18] and "_index" not in data
    back = PairedResult.from_dict(data)
    assert back == r
    assert back.change("new", "sex", "F", "tpr").ci == (0.02, 0.18)
