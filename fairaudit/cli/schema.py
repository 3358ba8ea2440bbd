"""``fairaudit schema``: print the JSON Schema of ``fairaudit audit --format json``."""

from __future__ import annotations

import sys

from fairaudit.cli._common import handle_errors

HELP = (
    "Print the JSON Schema (draft 2020-12) of a saved result (`fairaudit audit --format json`), "
    "the file shipped as fairaudit/schema/audit-result.schema.json. `fairaudit report` "
    "validates its input against it.\n\n"
    "Exit codes: 0 printed."
)


@handle_errors
def schema_command() -> None:
    from fairaudit.schema import schema_text

    sys.stdout.write(schema_text())
    sys.stdout.flush()
