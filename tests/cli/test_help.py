"""Help texts promise only what the commands do."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from fairaudit.cli.app import app

runner = CliRunner()


def _help(*command: str) -> str:
    res = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.stdout).split())


def test_audit_data_help_does_not_promise_cohort_folders():
    # A cohort folder from `fairaudit sample-data` (train/validation/test.csv) exits 2 with a hint;
    # only a folder holding manifest.csv is read.
    text = _help("audit")
    assert "cohort folder" not in text and "folder holding manifest.csv" in text


def test_mitigate_threshold_help_names_the_rule_of_each_route():
    text = _help("mitigate")
    assert "(max accuracy)" not in text
    assert "with --predictions the one maximising --performance on the validation rows" in text
    assert "with --model the checkpoint's" in text


def test_schema_command_is_listed():
    assert "Print the JSON Schema" in _help()
