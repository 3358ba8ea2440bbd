"""Policy files: the shipped example loads; every malformed file is one clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairaudit.errors import ConfigError
from fairaudit.gate import load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]


def test_sample_policy_loads_with_every_rule_kind():
    policy = load_policy(ROOT / "sample_data" / "policy.toml")
    assert policy.name == "chest-xray-triage-v1"
    assert policy.criteria and policy.group_metrics and policy.summaries and policy.group_size
    assert policy.criteria[1].id == "sensitivity gap"
    assert policy.criteria[1].attributes == ("*",)
    assert policy.group_size.min_size == 50 and not policy.group_size.allow_insufficient
    assert not policy.inconclusive_is_warning


def test_defaults_are_the_demanding_ones():
    policy = parse_policy('[[criterion]]\nname = "equalized_odds_ratio"\nmin = 0.8\n')
    assert policy.inconclusive == "fail"
    assert policy.insufficient == "inconclusive"
    assert policy.without_ci == "inconclusive"
    assert policy.criteria[0].bound.min == 0.8 and policy.criteria[0].bound.max is None
    assert policy.criteria[0].attributes == ("*",)


GOOD_HEAD = '[policy]\nname = "p"\n\n'


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # unknown key inside a rule: names the line, the table, the key and what is allowed
        (GOOD_HEAD + '[[criterion]]\nname = "equalized_odds_difference"\nmaximum = 0.1\n',
         ["p.toml:6", "[[criterion]] #1", "'maximum'", "allowed keys are id, name, attributes, max, min"]),
        # a criterion name that does not exist
        (GOOD_HEAD + '[[criterion]]\nname = "equalised_odds"\nmax = 0.1\n',
         ["p.toml:5", "key 'name'", "equalized_odds_difference", "'equalised_odds'"]),
        # the second rule of a kind is located correctly
        (GOOD_HEAD + '[[group_metric]]\nmetric = "auc"\nmin = 0.8\n\n[[group_metric]]\nmetric = "sensitivity"\nmax = 0.3\n',
         ["p.toml:9", "[[group_metric]] #2", "key 'metric'", "tpr"]),
        (GOOD_HEAD + '[[group_metric]]\nmetric = "auc"\nmin = "high"\n',
         ["p.toml:6", "key 'min'", "finite number", "'high'"]),
        (GOOD_HEAD + '[[summary]]\nmetric = "auc"\nstatistic = "range"\nmax = 2\n',
         ["p.toml:6", "key 'statistic'", "'sd'", "'ser'"]),
        (GOOD_HEAD + '[[criterion]]\nname = "equalized_odds_ratio"\nmin = 0.9\nmax = 0.8\n',
         ["p.toml:6", "greater than max"]),
        (GOOD_HEAD + '[[criterion]]\nname = "equalized_odds_ratio"\n',
         ["p.toml:4", "needs 'max' and/or 'min'"]),
        (GOOD_HEAD + '[[criterion]]\nname = "equalized_odds_ratio"\nmin = 0.8\nattributes = []\n',
         ["p.toml:7", "key 'attributes'", "non-empty list"]),
        ('[policy]\ninconclusive = "ignore"\n[[criterion]]\nname = "equalized_odds_ratio"\nmin = 0.8\n',
         ["p.toml:2", "[policy] key 'inconclusive'", "'fail', 'warn'"]),
        ('[policy]\nname = "p"\n[gruops]\nmin_size = 10\n',
         ["p.toml:3", "unknown table or key 'gruops'", "[groups]"]),
        ('[groups]\nmin_size = -1\n', ["p.toml:2", "[groups] key 'min_size'", "non-negative integer"]),
        ('[groups]\nmin_size = 0\n', ["p.toml:1", "checks nothing"]),
        ('[criterion]\nname = "equalized_odds_ratio"\nmin = 0.8\n', ["p.toml:1", "[[criterion]]"]),
        # TOML syntax errors: tomllib's own position
        (GOOD_HEAD + '[[criterion]]\nname = "equalized_odds_ratio\nmin = 0.8\n', ["p.toml", "not valid TOML", "line 5"]),
        (GOOD_HEAD, ["p.toml", "no rules"]),
    ],
)
def test_malformed_policy_is_one_line_naming_line_and_key(tmp_path, text, fragments):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_policy(path)
