"""fairaudit.cli.help_panels: `fairaudit audit --help` lists its options in sections."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from fairaudit.cli.app import app

SECTIONS = ["Input:", "Model (with --model):", "Decision and statistics:", "Gate and reports:",
            "Larger than memory (stream, Dask):", "Options:"]


def test_audit_help_has_one_section_per_panel_and_every_option_once() -> None:
    res = CliRunner().invoke(app, ["audit", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    titles = [line for line in lines if line and not line.startswith(" ") and line.endswith(":")]
    assert titles == SECTIONS
    section = {}
    current = None
    for line in lines:
        if line in SECTIONS:
            current = line
        elif current and (m := re.match(r"\s+(?:-\w, )?(--[\w-]+)", line)):
            assert m.group(1) not in section, m.group(1)  # each option once
            section[m.group(1)] = current
    assert section["--predictions"] == "Input:" and section["--model"] == "Model (with --model):"
    assert section["--jobs"] == "Decision and statistics:"
    assert section["--policy"] == "Gate and reports:" and section["--engine"].startswith("Larger")
    assert section["--help"] == "Options:"
    # Every option of the command is listed (none lost by the grouping).
    import inspect

    from fairaudit.cli.audit import audit_command

    n_options = len(inspect.signature(audit_command).parameters)
    assert len(section) == n_options + 1  # and --help


def _titles(command: str) -> list[str]:
    res = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return [line for line in res.stdout.splitlines()
            if line and not line.startswith(" ") and line.endswith(":")]


def test_mitigate_and_compare_help_in_sections() -> None:
    assert _titles("mitigate") == ["Input:", "Methods:", "Fine-tuning (reweighting, stratified, group-dro):",
                                   "Statistics:", "Output:", "Options:"]
    assert _titles("compare") == ["The two sides:", "Groups:", "Statistics:", "Gate and reports:",
                                  "Options:"]
    assert _titles("train") == ["Options:"]  # a short command keeps one block
