"""[[change]] rules: parsing (one-line errors with file:line) and decisions on paired intervals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fairaudit.errors import ConfigError
from fairaudit.gate import evaluate, parse_policy
from fairaudit.gate.change import evaluate_changes
from fairaudit.result_paired import CriterionChange, MetricChange, PairedResult

sys.path.insert(0, str(Path(__file__).parent))
from gatedata import criterion, result  # noqa: E402


def _mc(group, change, ci, sim, metric="tpr", sufficient=True, attribute="sex"):
    return MetricChange("candidate", attribute, group, metric, 0.8, None if change is None else 0.8 + change,
                        change, ci, sim, 0.5, "paired bootstrap", 100, 50, 50, sufficient,
                        None if sufficient else "n=12 < minimum group size 30")


def _paired(rows, crits=()):
    groups = {"overall": ("overall",)}
    for r in rows:
        groups.setdefault(r.attribute, ())
        if r.attribute != "overall" and r.group not in groups[r.attribute]:
            groups[r.attribute] += (r.group,)
    return PairedResult("baseline", ("candidate",), ("tpr", "fpr"), ("equalized_odds_difference",),
                        tuple(groups), groups, tuple(rows), tuple(crits), 200, 0.95, 0, "row", 1000,
                        30, 10)


BASE = [_mc("overall", 0.0, (0.0, 0.0), None, attribute="overall"),
        _mc("overall", 0.0, (0.0, 0.0), None, metric="fpr", attribute="overall")]


def _policy(body, head=""):
    return parse_policy(head + body, "p.toml")


TPR_RULE = '[[change]]\nmetric = "tpr"\nmax_drop = 0.02\n'


def test_parses_metric_criterion_and_preset_rules():
    p = _policy(TPR_RULE + '[[change]]\ncriterion = "equalized_odds_difference"\nmax_increase = 0.0\n'
                '[[change]]\npreset = "do_no_harm"\nmargin = 0.02\n')
    assert [(r.metric, r.criterion, r.per_group, r.max_drop, r.max_increase) for r in p.changes] == [
        ("tpr", None, True, 0.02, None), (None, "equalized_odds_difference", False, None, 0.0),
        ("tpr", None, True, 0.02, None), ("fpr", None, True, None, 0.02),
    ]
    assert p.changes[0].location == "p.toml:1" and p.changes[2].location == "p.toml:7"
    assert p.n_rules == 0  # change rules are not audit rules


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[change]]\nmetric = "sensitivity"\nmax_drop = 0.1\n', "p.toml:2: policy [[change]] #1 key 'metric': must be one of tpr"),
        ('[[change]]\nmetric = "tpr"\n', "needs 'max_drop' and/or 'max_increase'"),
        ('[[change]]\nmetric = "tpr"\nmax_drop = -0.1\n', "key 'max_drop': must be 0 or more"),
        ('[[change]]\nmax_drop = 0.1\n', "needs exactly one of 'metric', 'criterion' or 'preset'"),
        ('[[change]]\npreset = "do_no_harm"\n', "needs 'margin'"),
        ('[[change]]\npreset = "do_no_harm"\nmargin = 0.02\nmetric = "tpr"\n', "key 'metric': does not go with 'preset'"),
        ('[[change]]\npreset = "be_nice"\nmargin = 0.02\n', "key 'preset': must be one of do_no_harm"),
        ('[[change]]\ncriterion = "equalized_odds_difference"\nper_group = true\nmax_increase = 0\n', "applies to metrics"),
        ('[[change]]\nmetric = "tpr"\nmax_drop = 0.1\nmax_dorp = 1\n', "key 'max_dorp': unknown key"),
        (TPR_RULE + TPR_RULE, "is used twice"),
        ('change = 1\n', "[[change]]"),
    ],
)
def test_bad_change_tables_are_one_line_config_errors(body, message):
    with pytest.raises(ConfigError) as err:
        _policy(body)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_audit_ignores_change_rules_and_refuses_a_change_only_policy():
    audit = result(criteria=[criterion("race", "equalized_odds_difference", 0.05, (0.01, 0.08))])
    mixed = _policy('[[criterion]]\nname = "equalized_odds_difference"\nmax = 0.1\n' + TPR_RULE)
    out = evaluate(audit, mixed)
    assert out.status == "pass" and len(out.rules) == 1
    with pytest.raises(ConfigError, match=r"only \[\[change\]\] rules"):
        evaluate(audit, _policy(TPR_RULE))


def test_compare_refuses_a_policy_without_change_rules():
    p = _policy('[[criterion]]\nname = "equalized_odds_difference"\nmax = 0.1\n')
    with pytest.raises(ConfigError, match=r"no \[\[change\]\] rules"):
        evaluate_changes(_paired(BASE), p, "candidate")


def test_per_group_rules_decide_on_the_simultaneous_interval():
    rows = BASE + [
        # marginal CI wholly below -0.02, simultaneous interval straddles: inconclusive
        _mc("F", -0.06, (-0.10, -0.03), (-0.12, 0.0)),
        _mc("M", 0.0, (0.0, 0.0), (0.0, 0.0)),
        _mc("X", -0.2, (-0.3, -0.1), (-0.35, -0.05)),
    ]
    out = evaluate_changes(_paired(rows), _policy(TPR_RULE), "candidate")
    status = {r.id.split("[")[1][:-1]: r.status for r in out.rules}
    assert status == {"sex = F": "inconclusive", "sex = M": "pass", "sex = X": "fail"}
    assert out.status == "fail"
    fail = next(r for r in out.rules if r.status == "fail")
    assert "sex = X" in fail.message and "simultaneous interval lies wholly beyond" in fail.message
    assert "across the 3 groups" in fail.message


def test_identical_models_pass():
    rows = BASE + [_mc("F", 0.0, (0.0, 0.0), (0.0, 0.0)), _mc("M", 0.0, (0.0, 0.0), (0.0, 0.0))]
    p = _policy('[[change]]\npreset = "do_no_harm"\nmargin = 0.0\n')
    rows += [_mc(g, 0.0, (0.0, 0.0), (0.0, 0.0), metric="fpr") for g in ("F", "M")]
    assert evaluate_changes(_paired(rows), p, "candidate").status == "pass"


@pytest.mark.parametrize(("setting", "expected"), [("inconclusive", "inconclusive"), ("fail", "fail"),
                                                   ("sufficient_groups_only", "pass")])
def test_insufficient_groups_are_never_a_pass(setting, expected):
    rows = BASE + [_mc("F", 0.0, (0.0, 0.0), (0.0, 0.0)), _mc("tiny", 0.0, (0.0, 0.0), None, sufficient=False)]
    p = _policy(TPR_RULE, f'[policy]\ninsufficient = "{setting}"\n')
    out = evaluate_changes(_paired(rows), p, "candidate")
    assert out.status == expected
    assert all("tiny" not in r.id for r in out.rules if r.status == "pass")


def test_overall_rule_and_criterion_rule():
    crit = CriterionChange("candidate", "sex", "equalized_odds_difference", 0.05, 0.09, 0.04,
                           (0.01, 0.07), 0.01, True)
    rows = BASE + [_mc("F", 0.0, (0.0, 0.0), (0.0, 0.0))]
    p = _policy('[[change]]\nmetric = "tpr"\nper_group = false\nmax_drop = 0.0\n'
                '[[change]]\ncriterion = "equalized_odds_difference"\nmax_increase = 0.0\n')
    out = evaluate_changes(_paired(rows, [crit]), p, "candidate")
    assert [(r.id, r.status) for r in out.rules] == [
        ("tpr may drop by at most 0 [overall]", "pass"),
        ("equalized_odds_difference may rise by at most 0 [sex]", "fail"),
    ]


def test_incomplete_criterion_is_inconclusive_by_default():
    crit = CriterionChange("candidate", "sex", "equalized_odds_difference", 0.05, 0.05, 0.0,
                           (0.0, 0.0), 1.0, False, ("tiny",))
    p = _policy('[[change]]\ncriterion = "equalized_odds_difference"\nmax_increase = 0.0\n')
    out = evaluate_changes(_paired(BASE + [_mc("F", 0.0, (0, 0), (0, 0))], [crit]), p, "candidate")
    assert out.status == "inconclusive" and "insufficient groups: tiny" in out.rules[0].message


def test_unknown_attribute_names_the_rule():
    p = _policy('[[change]]\nmetric = "tpr"\nmax_drop = 0.1\nattributes = ["race"]\n')
    with pytest.raises(ConfigError, match=r"p.toml:1: policy rule .* names attribute 'race'"):
        evaluate_changes(_paired(BASE + [_mc("F", 0.0, (0, 0), (0, 0))]), p, "candidate")


def test_without_replicates_rules_are_inconclusive_unless_point_is_allowed():
    rows = [_mc("overall", -0.05, None, None, attribute="overall"), _mc("F", -0.05, None, None)]
    paired = _paired(rows)
    paired = PairedResult(**{**{f: getattr(paired, f) for f in paired.__dataclass_fields__ if f != "_index"},
                             "n_bootstrap": 0})
    out = evaluate_changes(paired, _policy(TPR_RULE), "candidate")
    assert out.status == "inconclusive" and "without bootstrap replicates" in out.rules[0].message
    out = evaluate_changes(paired, _policy(TPR_RULE, '[policy]\nwithout_ci = "point"\n'), "candidate")
    assert out.status == "fail"
