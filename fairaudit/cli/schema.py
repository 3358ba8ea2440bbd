"""``fairaudit schema``: print the JSON Schema of ``fairaudit audit --format json``."""

from __future__ import annotations

import sys

import typer

from fairaudit.cli._common import handle_errors

HELP = (
    "Print the JSON Schema (draft 2020-12) of a saved result (`fairaudit audit --format json`), "
    "the file shipped as fairaudit/schema/audit-result.schema.json. `fairaudit report` "
    "validates its input against it. With --compare: the schema of compare.json "
    "(`fairaudit compare`), fairaudit/schema/compare-result.schema.json.\n\n"
    "Exit codes: 0 printed."
)


@handle_errors
def schema_command(
    compare: bool = typer.Option(False, "--compare", help="Print the schema of compare.json instead."),
) -> None:
    from fairaudit.schema import COMPARE_SCHEMA_FILE, schema_text

    sys.stdout.write(schema_text(COMPARE_SCHEMA_FILE) if compare else schema_text())
    sys.stdout.flush()
