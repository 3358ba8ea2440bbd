"""fairaudit.report.json: the JSON view is the result's own serialisation, valid by the schema."""

from __future__ import annotations

import json

from fairaudit.report.json import render_json
from fairaudit.result import AuditResult
from fairaudit.schema import validate_result
from tests.report.reportdata import make_result


def test_render_json_is_the_results_json_and_valid() -> None:
    result = make_result(n_bootstrap=20)
    text = render_json(result, suppress_small_cells=10, color=True)  # view options are ignored
    assert text == result.to_json() and text.endswith("\n")
    data = json.loads(text)
    validate_result(data)
    assert AuditResult.from_dict(data) == result


def test_render_json_never_writes_nan() -> None:
    text = render_json(make_result(n_bootstrap=0))
    assert "NaN" not in text and "Infinity" not in text
