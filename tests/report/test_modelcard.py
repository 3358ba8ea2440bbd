"""`fairaudit report --format modelcard`: CycloneDX performanceMetrics and the reporting checklist."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.report.modelcard import render_checklist, render_modelcard

sys.path.insert(0, str(Path(__file__).parent))
from reportdata import make_result  # noqa: E402

runner = CliRunner()

# The part of the CycloneDX 1.6 schema (model-card quantitative analysis) the export fills.
_BOUND = {"type": "string", "pattern": r"^-?[0-9.e+-]+$"}
METRIC_SCHEMA = {
    "type": "object", "required": ["type", "value", "slice"], "additionalProperties": False,
    "properties": {
        "type": {"type": "string"}, "value": _BOUND, "slice": {"type": "string"},
        "confidenceInterval": {"type": "object", "additionalProperties": False,
                               "properties": {"lowerBound": _BOUND, "upperBound": _BOUND}},
    },
}


def _with_values(result):
    """The synthetic result with every group's values filled in (as the engine writes them)."""
    groups = tuple(dataclasses.replace(g, values=tuple(g.group.split(" & "))) for g in result.groups)
    return dataclasses.replace(result, groups=groups)


def test_every_defined_group_metric_and_criterion_is_a_performance_metric():
    result = _with_values(make_result())
    bom = json.loads(render_modelcard(result))
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    comp = bom["components"][0]
    assert comp["type"] == "machine-learning-model"
    metrics = comp["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    for m in metrics:
        jsonschema.validate(m, METRIC_SCHEMA)
    got = {(m["type"], m["slice"]) for m in metrics}
    for g in result.groups:
        for name, est in g.metrics.items():
            key = (name, ", ".join(f"{a}={v}" for a, v in zip(g.attribute.split(" & "), g.values, strict=True)))
            assert (key in got) == (est.value is not None), key
    tpr_f = next(m for m in metrics if m["type"] == "tpr" and m["slice"] == "sex=F")
    est = result.group("sex", "F").metrics["tpr"]
    assert float(tpr_f["value"]) == round(est.value, 6) or abs(float(tpr_f["value"]) - est.value) < 1e-6
    assert abs(float(tpr_f["confidenceInterval"]["lowerBound"]) - est.ci[0]) < 1e-6
    crit = [c for c in result.criteria if c.status == "ok"]
    assert crit and all((c.name, f"{c.attribute} (across groups)") in got for c in crit)
    assert {m["slice"] for m in metrics if m["slice"].startswith("sex=F, race=")}  # intersections spelt out
    assert render_modelcard(result) == render_modelcard(result)  # deterministic


def test_insufficient_groups_become_fairness_considerations():
    result = make_result()
    insufficient = [g for g in result.groups if g.status == "insufficient"]
    assert insufficient
    comp = json.loads(render_modelcard(result))["components"][0]
    at_risk = [f["groupAtRisk"] for f in comp["modelCard"]["considerations"]["fairnessAssessments"]]
    assert len(at_risk) == len(insufficient)


def test_checklist_names_what_is_answered_and_what_to_write():
    text = render_checklist(make_result())
    assert "## TRIPOD+AI" in text and "## STARD 2015" in text
    assert "- [x] **Estimates of diagnostic accuracy and their precision" in text
    assert "- [ ] **Intended use and clinical role of the index test**" in text
    assert "- [~] **Analyses of variability in diagnostic accuracy" in text


def test_cli_writes_bom_and_checklist_and_refuses_bad_combinations(tmp_path):
    saved = tmp_path / "audit.json"
    saved.write_text(make_result().to_json())
    res = runner.invoke(app, ["report", str(saved), "--format", "modelcard", "--out", str(tmp_path / "bom.json"),
                              "--checklist", str(tmp_path / "check.md"), "--model-name", "cxr-v2"])
    assert res.exit_code == 0, res.output
    bom = json.loads((tmp_path / "bom.json").read_text())
    assert bom["components"][0]["name"] == "cxr-v2"
    assert (tmp_path / "check.md").read_text().startswith("# Subgroup reporting checklist")
    res = runner.invoke(app, ["report", str(saved), "--format", "html", "--checklist", str(tmp_path / "x.md")])
    assert res.exit_code == 2 and "go with --format modelcard" in res.stderr
    res = runner.invoke(app, ["report", str(saved), "--format", "modelcard", "--suppress-small-cells", "10"])
    assert res.exit_code == 2 and "no small-cell" in res.stderr
