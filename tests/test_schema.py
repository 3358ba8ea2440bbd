"""The JSON Schema shipped in the package: it extends the project's contract and forbids
impossible values, and `fairaudit schema` prints it.

``tests/contracts/audit-result.schema.json`` is a copy of the project's contract (the original
``shared/contracts/audit-result.schema.json``); every key it requires must stay required in the
packaged schema, so the check runs on a fresh clone too. When the shared folder sits beside the
repository (as on the developers' machines and in CI) it is checked as well.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.errors import InputError
from fairaudit.gate import evaluate, parse_policy
from fairaudit.result import METRIC_NAMES, SCHEMA_VERSION, FlaggedValue
from fairaudit.schema import SCHEMA_FILE, load_schema, schema_text, validate_result
from tests.report.reportdata import make_result

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "fairaudit" / "schema" / SCHEMA_FILE
CONTRACT_COPY = Path(__file__).parent / "contracts" / "audit-result.schema.json"


def _shared_contract() -> Path | None:
    for parent in ROOT.parents[:3]:
        candidate = parent / "shared" / "contracts" / "audit-result.schema.json"
        if candidate.is_file():
            return candidate
    return None


def _contracts() -> list[Path]:
    shared = _shared_contract()
    return [CONTRACT_COPY] + ([shared] if shared is not None else [])


def _walk(node: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every sub-schema (a dict) with its location, as a tuple of keys and list indices."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, str(i)))


def _at(schema: dict, path: tuple[str, ...]) -> dict | None:
    node: object = schema
    for key in path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node if isinstance(node, dict) else None


POLICY = """
[[criterion]]
name = "equalized_odds_difference"
max = 0.1
[[group_metric]]
metric = "auc"
attributes = ["race"]
min = 0.8
"""


@pytest.fixture(scope="module")
def result_dict() -> dict:
    """A result using every key of version 1.2: insufficient and excluded groups, group values,
    simultaneous intervals, flagged summary values, curves and a gate."""
    result = make_result()
    first = result.groups[0]
    metrics = dict(first.metrics)
    metrics["tpr"] = dataclasses.replace(metrics["tpr"], simultaneous_ci=(0.41, 0.93))
    groups = (dataclasses.replace(first, metrics=metrics, values=(first.group,)), *result.groups[1:])
    summaries = (dataclasses.replace(result.summaries[0], insufficient_groups=(
        FlaggedValue(group="Pacific Islander", value=0.61, reason="fewer than 30 rows"),
        FlaggedValue(group="unknown", value=None, reason="no positives"),
    )), *result.summaries[1:])
    run = dataclasses.replace(result.run, interval_method="percentile bootstrap")
    full = dataclasses.replace(result, groups=groups, summaries=summaries, run=run)
    return full.with_gate(evaluate(full, parse_policy(POLICY))).to_dict()


def test_the_packaged_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(PACKAGED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == load_schema() and schema_text() == PACKAGED.read_text(encoding="utf-8")
    assert schema["properties"]["schema_version"]["pattern"] == "^1\\."
    assert f"schema version {SCHEMA_VERSION}" in schema["description"]


@pytest.mark.parametrize("contract", _contracts(), ids=lambda p: str(p.relative_to(p.parents[2])))
def test_every_contract_requirement_stays_in_the_packaged_schema(contract: Path) -> None:
    packaged = load_schema()
    checked = 0
    for path, node in _walk(json.loads(contract.read_text(encoding="utf-8"))):
        mine = _at(packaged, path)
        assert mine is not None, f"{'/'.join(path)} of the contract is missing from the packaged schema"
        if "required" in node:
            assert set(node["required"]) <= set(mine.get("required", [])), "/".join(path)
            checked += 1
        for key in node.get("properties", {}):
            assert key in mine.get("properties", {}), f"{'/'.join(path)}/properties/{key}"
        for keyword in ("type", "enum", "const", "pattern"):
            if keyword in node:
                assert mine.get(keyword) == node[keyword], f"{'/'.join(path)}/{keyword}"
    assert checked >= 10  # root, tool, run, dataset, threshold, overall, groups, ... metrics


def test_the_contract_copy_matches_the_shared_contract() -> None:
    shared = _shared_contract()
    if shared is None:
        pytest.skip("no shared/contracts beside the repository")
    assert json.loads(CONTRACT_COPY.read_text()) == json.loads(shared.read_text())


def test_a_current_result_validates_against_the_packaged_schema_and_the_contract(result_dict) -> None:
    assert result_dict["schema_version"] == SCHEMA_VERSION
    assert any(s["insufficient_groups"] for s in result_dict["summaries"])
    assert any(g["status"] == "insufficient" for g in result_dict["groups"])
    assert result_dict["gate"]["rules"] and result_dict["groups"][0]["values"]
    validate_result(result_dict)
    for contract in _contracts():
        jsonschema.validate(result_dict, json.loads(contract.read_text()))


def _declared(schema: dict, node: dict) -> set[str]:
    if "$ref" in node:
        node = {**_at(schema, tuple(node["$ref"].lstrip("#/").split("/"))), **node}
    return set(node.get("properties", {}))


def test_the_schema_declares_every_key_the_result_writes(result_dict) -> None:
    """Version 1.2 documents the whole result, not only the contract's keys."""
    schema = load_schema()
    props = schema["properties"]
    assert set(result_dict) <= set(props)
    for key in ("run", "dataset", "threshold", "overall", "gate"):
        assert set(result_dict[key]) <= _declared(schema, props[key]), key
    for key in ("groups", "criteria", "summaries", "curves"):
        for item in result_dict[key]:
            assert set(item) <= _declared(schema, props[key]["items"]), key
    estimate = schema["$defs"]["estimate"]["properties"]
    assert set(result_dict["groups"][0]["metrics"]["tpr"]) <= set(estimate)
    assert set(result_dict["gate"]["rules"][0]) - {"bound"} <= _declared(
        schema, props["gate"]["properties"]["rules"]["items"])


def _broken(data: dict, dotted: str, value: object) -> dict:
    out = copy.deepcopy(data)
    *keys, last = dotted.split(".")
    node = out
    for key in keys:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return out


@pytest.mark.parametrize(
    ("dotted", "value", "fragment"),
    [
        ("groups.0.metrics.tpr.value", 1.7, "$.groups[0].metrics.tpr.value is 1.7; it must be at most 1"),
        ("groups.1.n", -5, "$.groups[1].n is -5; it must be at least 0"),
        ("overall.metrics.auc.value", "high", '$.overall.metrics.auc.value is "high"; expected number or null'),
        ("overall.metrics.ece.ci", [0.1, 1.2], "$.overall.metrics.ece.ci[1] is 1.2; it must be at most 1"),
        ("overall.n", -1, "$.overall.n is -1; it must be at least 0"),
        ("criteria.0.value", -0.25, "$.criteria[0].value is -0.25; it must be at least 0"),
        ("criteria.0.q_value", 1.5, "$.criteria[0].q_value is 1.5; it must be at most 1"),
        ("summaries.0.sd", -0.1, "$.summaries[0].sd is -0.1; it must be at least 0"),
        ("summaries.0.max", 2.0, "$.summaries[0].max is 2.0; it must be at most 1"),
        ("threshold.value", 1.5, "$.threshold.value is 1.5; it must be at most 1"),
        ("dataset.n_rows", 3.5, "$.dataset.n_rows is 3.5; expected integer"),
        ("gate.status", "maybe", '$.gate.status is "maybe"; expected one of "pass", "fail"'),
        ("run.confidence_level", 1.0, "$.run.confidence_level is 1.0; it must be less than 1"),
        ("groups.0.values", "F", '$.groups[0].values is "F"; expected array'),
    ],
)
def test_impossible_values_are_refused_with_their_path_and_value(result_dict, dotted, value, fragment) -> None:
    validate_result(result_dict)  # the unbroken result is valid
    with pytest.raises(InputError) as info:
        validate_result(_broken(result_dict, dotted, value), source="r.json")
    message = str(info.value)
    assert message.startswith("r.json is not a valid fairaudit result: ") and fragment in message
    assert "\n" not in message


def test_every_metric_is_bounded_and_undefined_values_are_allowed(result_dict) -> None:
    result_dict = {k: v for k, v in result_dict.items() if k != "curves"}  # optional; faster
    for metric in METRIC_NAMES:
        validate_result(_broken(result_dict, f"groups.0.metrics.{metric}.value", None))
        validate_result(_broken(result_dict, f"groups.0.metrics.{metric}.value", 1))
        with pytest.raises(InputError, match=metric):
            validate_result(_broken(result_dict, f"groups.0.metrics.{metric}.value", 1.0001))


def test_a_missing_required_key_is_named(result_dict) -> None:
    data = copy.deepcopy(result_dict)
    del data["groups"][2]["n_pos"]
    with pytest.raises(InputError, match=r"\$\.groups\[2\] lacks the required key 'n_pos'"):
        validate_result(data)


def test_schema_command_prints_the_packaged_schema() -> None:
    res = CliRunner().invoke(app, ["schema"])
    assert res.exit_code == 0
    assert res.stdout == PACKAGED.read_text(encoding="utf-8")
    assert json.loads(res.stdout)["title"] == "fairaudit audit result"
    assert "schema" in CliRunner().invoke(app, ["--help"]).stdout


def test_the_schema_ships_in_the_wheel_and_jsonschema_is_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    assert "fairaudit.schema" in setuptools["packages"]
    globs = setuptools["package-data"]["fairaudit.schema"]
    assert any(PACKAGED.match(g) for g in globs)
    deps = project["project"]["dependencies"]
    assert any(d.startswith("jsonschema") for d in deps)


def test_the_schema_names_every_metric_and_criterion_of_the_result() -> None:
    """A metric added to fairaudit.result.METRICS needs its key in the schema (an enum entry and
    a property; not a required key, which would reject results written before it existed)."""
    from fairaudit.result import CRITERIA_NAMES

    defs = load_schema()["$defs"]
    assert defs["metric_name"]["enum"] == list(METRIC_NAMES)
    assert list(defs["metrics"]["properties"]) == list(METRIC_NAMES)
    assert set(defs["metrics"]["required"]) <= set(METRIC_NAMES)
    assert defs["criterion_name"]["enum"] == list(CRITERIA_NAMES)
