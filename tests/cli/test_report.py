"""`fairaudit report`: schema validation of the saved result and the default HTML path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from tests.report.reportdata import make_result

runner = CliRunner()


@pytest.fixture(scope="module")
def saved_dict() -> dict:
    return make_result().to_dict()


def _save(tmp_path: Path, data: dict, name: str = "result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("where", "value", "fragment"),
    [
        (("groups", 0, "metrics", "tpr", "value"), 1.7, "$.groups[0].metrics.tpr.value is 1.7"),
        (("groups", 2, "n"), -5, "$.groups[2].n is -5"),
        # Once an "internal error" (a format code applied to a string while rendering).
        (("overall", "metrics", "auc", "value"), "0.9", '$.overall.metrics.auc.value is "0.9"'),
        (("criteria", 0, "ci"), "wide", '$.criteria[0].ci is "wide"'),
    ],
)
@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_impossible_values_exit_2_naming_path_and_value(tmp_path, saved_dict, where, value, fragment, fmt):
    data = json.loads(json.dumps(saved_dict))
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    saved = _save(tmp_path, data)
    out = tmp_path / "r.out"
    res = runner.invoke(app, ["report", str(saved), "--format", fmt, "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and str(saved) in lines[0], res.stderr
    assert "internal error" not in res.stderr and not out.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(tmp_path, saved_dict, constant):
    text = json.dumps(saved_dict).replace('"value": 0.5,', f'"value": {constant},', 1)
    assert constant in text
    saved = tmp_path / "result.json"
    saved.write_text(text)
    res = runner.invoke(app, ["report", str(saved), "--format", "table"])
    assert res.exit_code == 2 and f"contains {constant}, which is not valid JSON" in res.stderr
    assert res.stdout == ""


def test_html_without_out_goes_next_to_the_input(tmp_path, saved_dict):
    saved = _save(tmp_path, saved_dict, "audit.json")
    res = runner.invoke(app, ["report", str(saved)])
    assert res.exit_code == 0, res.output
    written = tmp_path / "audit.html"
    assert written.read_text().startswith("<!DOCTYPE html>")
    assert f"wrote html report to {written}" in res.stderr
    assert res.stdout == ""


def test_html_without_out_never_overwrites_an_input_named_html(tmp_path, saved_dict):
    saved = _save(tmp_path, saved_dict, "audit.html")
    before = saved.read_text()
    res = runner.invoke(app, ["report", str(saved)])
    assert res.exit_code == 2 and "give the HTML report's path with --out" in res.stderr
    assert saved.read_text() == before


def test_help_says_where_the_html_goes():
    res = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "next to the input" in res.stdout
