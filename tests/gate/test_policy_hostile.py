"""Hostile policies: unknown attributes name file and line, duplicate ids, byte-order marks,
absurd nesting. Every one is a one-line ConfigError (exit 2), never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.errors import ConfigError
from fairaudit.gate import evaluate, load_policy, parse_policy
from tests.gate.gatedata import criterion, group, result

RULE = '[[criterion]]\nname = "demographic_parity_difference"\nmax = 0.1\n'


@pytest.mark.parametrize(
    ("table", "body"),
    [
        ("criterion", 'name = "demographic_parity_difference"\nmax = 0.1'),
        ("group_metric", 'metric = "auc"\nmin = 0.7'),
        ("summary", 'metric = "auc"\nstatistic = "sd"\nmax = 0.1'),
    ],
)
def test_unknown_attribute_names_the_policy_file_and_line(table: str, body: str) -> None:
    text = f'[policy]\nname = "p"\n\n{RULE}\n[[{table}]]\n{body}\nattributes = ["race", "sex"]\n'
    policy = parse_policy(text, source="gate.toml")
    audited = result(groups=[group("race", "A", 0.8, (0.7, 0.9))],
                     criteria=[criterion("race", "demographic_parity_difference", 0.05, (0.0, 0.09))])
    with pytest.raises(ConfigError) as info:
        evaluate(audited, policy)
    assert str(info.value).startswith("gate.toml:8: policy rule ")
    assert "names attribute 'sex', which this audit does not contain" in str(info.value)


def test_unknown_attribute_through_the_cli(predictions_csv: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(RULE + '\n[[group_metric]]\nmetric = "auc"\nmin = 0.6\nattributes = "age"\n')
    res = CliRunner().invoke(app, ["audit", "-p", str(predictions_csv), "-l", "y", "-a", "sex", "-B", "0",
                                   "--permutations", "0", "--policy", str(policy), "-q"])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {policy}:5: policy rule 'every group auc >= 0.6' names attribute 'age'")


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    text = RULE + 'id = "gap"\n\n[[group_metric]]\nmetric = "auc"\nmin = 0.7\nid = "gap"\n'
    with pytest.raises(ConfigError, match=r"^p.toml:6: policy rule id 'gap' is used twice \(first at p.toml:1\)"):
        parse_policy(text, source="p.toml")
    with pytest.raises(ConfigError, match="is used twice"):
        parse_policy(RULE + RULE, source="p.toml")  # the same rule twice
    path = tmp_path / "dup.toml"
    path.write_text(text)
    res = CliRunner().invoke(app, ["audit", "-p", "nope.csv", "-l", "y", "-a", "sex", "--policy", str(path)])
    assert res.exit_code == 2 and "is used twice" in res.stderr


def test_same_bound_on_different_attributes_gets_distinct_ids() -> None:
    policy = parse_policy(RULE + 'attributes = "sex"\n' + RULE + 'attributes = "race"\n')
    assert [r.id for r in policy.criteria] == ["demographic_parity_difference <= 0.1 (sex)",
                                               "demographic_parity_difference <= 0.1 (race)"]


def test_a_policy_with_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + RULE.encode())
    assert load_policy(path).criteria[0].location == f"{path}:1"
    path.write_bytes(RULE.encode("utf-16"))
    with pytest.raises(ConfigError, match="UTF-16 byte-order mark; save it as UTF-8"):
        load_policy(path)


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 5000 + "]" * 5000,
        RULE + "attributes = " + "[" * 3000 + '"a"' + "]" * 3000,
        "policy = " + "{a = " * 2000 + "1" + "}" * 2000,
    ],
)
def test_absurd_nesting_is_a_policy_error(text: str) -> None:
    with pytest.raises(ConfigError, match="nests arrays or tables too deeply"):
        parse_policy(text, source="p.toml")


def test_tables_where_values_belong_are_short_policy_errors() -> None:
    text = RULE + "min = " + "{a = " * 50 + "1" + "}" * 50 + "\n"
    with pytest.raises(ConfigError) as info:
        parse_policy(text, source="p.toml")
    assert "key 'min': must be a finite number" in str(info.value)
    assert len(str(info.value)) < 200
