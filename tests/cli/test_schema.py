"""fairaudit.cli.schema: `fairaudit schema` prints the packaged JSON Schema, byte for byte."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.schema import SCHEMA_FILE, schema_text


def test_schema_command_prints_the_packaged_file() -> None:
    from pathlib import Path

    import fairaudit.schema as schema_package

    res = CliRunner().invoke(app, ["schema"])
    assert res.exit_code == 0
    packaged = (Path(schema_package.__file__).parent / SCHEMA_FILE).read_text(encoding="utf-8")
    assert res.stdout == schema_text() == packaged
    assert json.loads(res.stdout)["$schema"].startswith("https://json-schema.org/")
