"""The gate decision: intervals decide, insufficiency and missing intervals are explicit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairaudit.errors import ConfigError
from fairaudit.gate import combine, decide, evaluate, exit_code, parse_policy
from fairaudit.gate.policy import Bound
from fairaudit.result import Estimate, GateOutcome, RuleOutcome
from tests.gate.gatedata import criterion, group, result, summary

EOD = "equalized_odds_difference"


@pytest.mark.parametrize(
    ("ci", "bound", "expected"),
    [
        ((0.12, 0.20), Bound(max=0.10), "fail"),
        ((0.02, 0.08), Bound(max=0.10), "pass"),
        ((0.05, 0.15), Bound(max=0.10), "inconclusive"),
        ((0.10, 0.15), Bound(max=0.10), "inconclusive"),  # touching is not "wholly beyond"
        ((0.05, 0.10), Bound(max=0.10), "pass"),  # bounds are inclusive
        ((0.70, 0.78), Bound(min=0.80), "fail"),
        ((0.82, 0.90), Bound(min=0.80), "pass"),
        ((0.75, 0.85), Bound(min=0.80), "inconclusive"),
        ((0.85, 0.95), Bound(min=0.80, max=0.90), "inconclusive"),
        ((0.82, 0.88), Bound(min=0.80, max=0.90), "pass"),
    ],
)
def test_decide_by_interval(ci, bound, expected):
    value = sum(ci) / 2
    assert decide(value, ci, bound)[0] == expected


def test_no_interval_is_inconclusive_unless_point_allowed():
    status, why = decide(0.5, None, Bound(max=0.1))
    assert status == "inconclusive" and "no confidence interval" in why
    assert decide(0.5, None, Bound(max=0.1), without_ci="point")[0] == "fail"
    assert decide(0.05, None, Bound(max=0.1), without_ci="point")[0] == "pass"
    assert decide(None, (0.0, 1.0), Bound(max=0.1))[0] == "inconclusive"


finite = st.floats(-10, 10, allow_nan=False)


@given(a=finite, b=finite, bound=finite, is_max=st.booleans())
def test_decide_is_consistent_with_the_interval(a, b, bound, is_max):
    lo, hi = min(a, b), max(a, b)
    bnd = Bound(max=bound) if is_max else Bound(min=bound)
    status, _ = decide(lo, (lo, hi), bnd)
    inside = [lo <= bound, hi <= bound] if is_max else [lo >= bound, hi >= bound]
    assert status == {(True, True): "pass", (False, False): "fail"}.get(tuple(inside), "inconclusive")
    # Widening the interval can never turn an undecided rule into a decided one.
    if status == "inconclusive":
        assert decide(lo, (lo - 1, hi + 1), bnd)[0] == "inconclusive"


def _policy(body, head=""):
    return parse_policy(head + body)


def test_criterion_rules_per_attribute_and_star():
    res = result(attributes=("sex", "race"), criteria=[
        criterion("sex", EOD, 0.03, (0.01, 0.06)),
        criterion("race", EOD, 0.20, (0.12, 0.30)),
    ])
    out = evaluate(res, _policy(f'[[criterion]]\nname = "{EOD}"\nmax = 0.1\n'))
    assert [(r.id, r.status) for r in out.rules] == [
        (f"{EOD} <= 0.1 [sex]", "pass"), (f"{EOD} <= 0.1 [race]", "fail"),
    ]
    assert out.status == "fail"
    fail = out.rules[1]
    assert fail.value == 0.20 and fail.ci == (0.12, 0.30) and fail.bound == 0.1
    assert "0.200" in fail.message and "0.120 to 0.300" in fail.message
    only_sex = evaluate(res, _policy(f'[[criterion]]\nname = "{EOD}"\nattributes = ["sex"]\nmax = 0.1\n'))
    assert only_sex.status == "pass" and len(only_sex.rules) == 1


def test_unknown_attribute_is_a_config_error():
    res = result(criteria=[criterion("race", EOD, 0.03, (0.01, 0.06))])
    with pytest.raises(ConfigError, match="'rcae'.*audited attributes and intersections: race"):
        evaluate(res, _policy(f'[[criterion]]\nname = "{EOD}"\nattributes = "rcae"\nmax = 0.1\n'))


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("inconclusive", "inconclusive"), ("fail", "fail"), ("sufficient_groups_only", "pass")],
)
def test_insufficient_criterion(setting, expected):
    res = result(criteria=[criterion("race", EOD, None, None, status="insufficient",
                                     sufficient=Estimate(0.04, (0.01, 0.07)))])
    out = evaluate(res, _policy(f'[[criterion]]\nname = "{EOD}"\nmax = 0.1\n',
                                f'[policy]\ninsufficient = "{setting}"\n'))
    assert out.status == expected
    assert "Tiny" in out.rules[0].message  # the insufficient group is named


def test_no_bootstrap_means_inconclusive_by_default():
    res = result(criteria=[criterion("race", EOD, 0.5, None)], n_bootstrap=0)
    rule = f'[[criterion]]\nname = "{EOD}"\nmax = 0.1\n'
    out = evaluate(res, _policy(rule))
    assert out.status == "inconclusive" and "without_ci" in out.rules[0].message
    assert evaluate(res, _policy(rule, '[policy]\nwithout_ci = "point"\n')).status == "fail"


def test_group_metric_floor_every_group():
    res = result(groups=[
        group("race", "A", 0.90, (0.85, 0.95)),
        group("race", "B", 0.76, (0.70, 0.79)),
        group("race", "C", 0.82, (0.78, 0.86)),
        group("race", "Tiny", 0.99, (0.9, 1.0), n=12, status="insufficient"),
    ])
    out = evaluate(res, _policy('[[group_metric]]\nmetric = "auc"\nmin = 0.8\n'))
    assert [r.status for r in out.rules] == ["pass", "fail", "inconclusive", "inconclusive"]
    assert out.rules[1].id == "every group auc >= 0.8 [race = B]"
    assert "insufficient" in out.rules[3].message  # never a pass, even with a high value
    skip = evaluate(res, _policy('[[group_metric]]\nmetric = "auc"\nmin = 0.8\n',
                                 '[policy]\ninsufficient = "sufficient_groups_only"\n'))
    assert len(skip.rules) == 3
    undefined = evaluate(res, _policy('[[group_metric]]\nmetric = "fnr"\nmax = 0.3\n',
                                      '[policy]\ninsufficient = "sufficient_groups_only"\n'))
    assert {r.status for r in undefined.rules} == {"inconclusive"}
    assert "no positives" in undefined.rules[0].message


def test_group_size_rule_is_exact():
    res = result(groups=[group("race", "A", 0.9, (0.8, 0.95), n=400),
                         group("race", "B", 0.9, (0.8, 0.95), n=40),
                         group("race", "C", 0.9, (0.8, 0.95), n=25, status="insufficient")])
    assert evaluate(res, _policy("[groups]\nmin_size = 20\n")).status == "pass"
    out = evaluate(res, _policy("[groups]\nmin_size = 50\n"))
    assert out.status == "fail" and "B, C" in out.rules[0].message
    out = evaluate(res, _policy("[groups]\nallow_insufficient = false\n"))
    assert out.status == "fail" and "C" in out.rules[0].message and "B" not in out.rules[0].message


def test_summary_rules_use_their_own_interval():
    res = result(summaries=[summary("race", "accuracy", 1.3, (1.1, 1.45), sd=0.05, sd_ci=(0.03, 0.09))])
    assert evaluate(res, _policy('[[summary]]\nmetric = "accuracy"\nstatistic = "ser"\nmax = 1.5\n')).status == "pass"
    assert evaluate(res, _policy('[[summary]]\nmetric = "accuracy"\nstatistic = "sd"\nmax = 0.02\n')).status == "fail"
    missing = evaluate(res, _policy('[[summary]]\nmetric = "auc"\nstatistic = "ser"\nmax = 1.5\n'))
    assert missing.status == "inconclusive" and "no summary" in missing.rules[0].message


def test_combine_and_warning_flag():
    assert combine(["pass", "inconclusive", "fail"]) == "fail"
    assert combine(["pass", "inconclusive"]) == "inconclusive"
    assert combine(["pass"]) == "pass"
    res = result(criteria=[criterion("race", EOD, 0.1, (0.05, 0.15))])
    out = evaluate(res, _policy(f'[[criterion]]\nname = "{EOD}"\nmax = 0.1\n', '[policy]\ninconclusive = "warn"\n'))
    assert out.status == "inconclusive" and out.inconclusive_is_warning
    assert exit_code(out) == 0


@pytest.mark.parametrize(
    ("status", "warning", "no_fail", "code"),
    [
        ("pass", False, False, 0), ("not_run", False, False, 0), ("fail", False, False, 1),
        ("inconclusive", False, False, 3), ("inconclusive", True, False, 0), ("fail", True, False, 1),
        ("fail", False, True, 0), ("inconclusive", False, True, 0),
    ],
)
def test_exit_code(status, warning, no_fail, code):
    outcome = GateOutcome(status, (RuleOutcome("r", status if status != "not_run" else "pass", "m"),),
                          inconclusive_is_warning=warning)
    assert exit_code(outcome, no_fail=no_fail) == code


def test_evaluate_is_pure():
    res = result(criteria=[criterion("race", EOD, 0.2, (0.12, 0.3))])
    policy = _policy(f'[[criterion]]\nname = "{EOD}"\nmax = 0.1\n')
    assert evaluate(res, policy) == evaluate(res, policy)
    assert res.gate.status == "not_run"  # the input is not modified


def test_unbounded_ser_interval_is_not_blamed_on_missing_bootstrap():
    """A group whose accuracy may be 1 makes the SER unbounded above: the rule is inconclusive
    and says why, instead of claiming the audit ran without bootstrap replicates."""
    import numpy as np
    import pandas as pd

    import fairaudit
    from fairaudit.gate.policy import parse_policy

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    perfect = np.where(y[:200] == 1, 0.9, 0.1)  # group A: all decisions right but two
    perfect[:2] = 1 - perfect[:2]
    noisy = np.clip(0.5 + 0.4 * (y[200:] - 0.5) + rng.normal(0, 0.3, 200), 0, 1)
    df = pd.DataFrame({"y": y, "score": np.r_[perfect, noisy], "g": ["A"] * 200 + ["B"] * 200})
    policy = parse_policy('[[summary]]\nmetric = "accuracy"\nstatistic = "ser"\nmax = 1.5\n')
    res = fairaudit.audit(df, label="y", sensitive="g", threshold=0.5, n_bootstrap=100,
                          n_permutations=0, policy=policy)
    rule = res.gate.rules[0]
    assert rule.status == "inconclusive"
    assert "unbounded" in rule.message and "without bootstrap" not in rule.message
