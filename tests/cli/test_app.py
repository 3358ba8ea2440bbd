"""fairaudit.cli.app: the command group, its version flag and its commands."""

from __future__ import annotations

from typer.testing import CliRunner

from fairaudit._version import __version__
from fairaudit.cli.app import app

runner = CliRunner()
COMMANDS = ("audit", "report", "mitigate", "sample-data", "train", "schema")


def test_version_flag_prints_the_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"fairaudit {__version__}"


def test_help_lists_every_command() -> None:
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for command in COMMANDS:
        assert command in res.stdout, command


def test_an_unknown_command_is_a_usage_error() -> None:
    res = runner.invoke(app, ["audits"])
    assert res.exit_code == 2 and "Traceback" not in res.output
