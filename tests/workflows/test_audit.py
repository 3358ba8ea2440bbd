"""The audit workflow (:mod:`fairaudit.workflows.audit`): load, compute, render, write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.errors import FairauditError
from fairaudit.result import AuditResult
from fairaudit.workflows.audit import AuditOutputs, run_audit
from tests.conftest import RecordingProgress

SMALL = {"n_bootstrap": 100, "n_permutations": 0, "seed": 3}


def test_writes_every_view_and_returns_the_payload(predictions_csv: Path, tmp_path: Path) -> None:
    outputs = AuditOutputs(fmt="json", html=tmp_path / "r.html", junit=tmp_path / "r.xml")
    run = run_audit(label="y", sensitive="sex,race", predictions=predictions_csv,
                    audit_options=SMALL, outputs=outputs)
    assert AuditResult.from_dict(json.loads(run.payload)).to_dict() == run.result.to_dict()
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert "<testsuite" in (tmp_path / "r.xml").read_text()
    assert set(run.written) == {"html", "junit"}
    assert run.exit_code == 0  # no policy


def test_same_numbers_as_the_cli(predictions_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.json"
    res = CliRunner().invoke(app, ["audit", "-p", str(predictions_csv), "-l", "y", "-a", "sex,race",
                                   "-B", "100", "--permutations", "0", "--seed", "3",
                                   "-f", "json", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    run = run_audit(label="y", sensitive="sex,race", predictions=predictions_csv,
                    audit_options=SMALL, outputs=AuditOutputs(fmt="json"))
    cli, lib = json.loads(out.read_text()), json.loads(run.payload)
    for raw in (cli, lib):
        raw.pop("run")
    assert cli == lib


def test_bootstrap_progress_goes_to_the_callback(predictions_csv: Path) -> None:
    rec = RecordingProgress()
    run_audit(label="y", sensitive="sex", predictions=predictions_csv, audit_options=SMALL,
              progress=rec)
    assert rec.events[0] == ("start", "bootstrap", 100)
    assert rec.events[-1][0] == "stop"
    assert sum(n for kind, n, _ in rec.events if kind == "advance") == 100


def test_nothing_is_written_when_a_view_fails(predictions_csv: Path, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(FairauditError, match="junit"):
        run_audit(label="y", sensitive="sex", predictions=predictions_csv, audit_options=SMALL,
                  outputs=AuditOutputs(html=html, junit=blocked / "r.xml"))
    assert not html.exists()


def test_messages_name_paths_as_the_caller_asks(predictions_csv: Path) -> None:
    with pytest.raises(FairauditError, match="--output"):
        run_audit(label="y", sensitive="sex", predictions=predictions_csv, audit_options=SMALL,
                  outputs=AuditOutputs(output=predictions_csv), names={"output": "--output"})


def test_policy_sets_the_exit_code(predictions_csv: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[[criterion]]\nname = "equal_opportunity_difference"\nmax = 0.0001\n')
    kwargs = {"label": "y", "sensitive": "race", "predictions": predictions_csv,
              "audit_options": SMALL, "policy": policy}
    failed = run_audit(**kwargs)
    assert failed.result.gate.status == "fail" and failed.exit_code == 1
    assert run_audit(**kwargs, outputs=AuditOutputs(no_fail=True)).exit_code == 0


def test_library_errors_name_parameters_and_the_cli_names_flags(predictions_csv: Path) -> None:
    from fairaudit.cli._common import cli_message

    with pytest.raises(FairauditError) as caught:
        run_audit(label="y", sensitive="sex", predictions=predictions_csv,
                  audit_options={**SMALL, "seed": -1})
    message = str(caught.value)
    assert message == "`seed` must be a whole number, 0 or more; got -1."
    assert cli_message(message) == "--seed must be a whole number, 0 or more; got -1."
    assert cli_message("`n_bootstrap` and `unknown_name`") == "--bootstrap and `unknown_name`"
