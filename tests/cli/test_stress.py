"""`fairaudit stress` end to end with a tiny configuration on a few shipped test studies."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.cli.stress import parse_severities
from fairaudit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_data" / "model"
COHORT = ROOT / "sample_data" / "cohort"
runner = CliRunner()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    df = pd.read_csv(COHORT / "test.csv")
    sub = df[df["patient_id"].isin(df["patient_id"].drop_duplicates().sample(n=70, random_state=5))].copy()
    sub["image_path"] = [str(COHORT / p) if isinstance(p, str) and p else p for p in sub["image_path"]]
    sub.loc[sub.index[0], "race"] = "<script>alert(1)</script>"  # data text must be escaped
    path = tmp_path_factory.mktemp("m") / "m.csv"
    sub.to_csv(path, index=False)
    return path


def _args(manifest: Path, out: Path, *extra: str) -> list[str]:
    return ["stress", "--model", str(MODEL), "--data", str(manifest), "--label", "diagnosis",
            "--sensitive", "sex,race", "--cluster", "patient_id", "--out", str(out),
            "--corruptions", "jpeg", "--severities", "5", "--modalities", "note",
            "--impute", "fallback", "--no-realistic", "--bootstrap", "100", "--quiet", *extra]


def test_tiny_run_writes_valid_json_and_escaped_html(manifest: Path, tmp_path: Path) -> None:
    from importlib.resources import files

    import jsonschema

    policy = tmp_path / "p.toml"
    policy.write_text('[policy]\ninconclusive = "warn"\n[[stress]]\ncorruption = "jpeg"\n'
                      'metric = "auc"\nper_group = false\nmax_drop = 0.9\n', encoding="utf-8")
    out = tmp_path / "out"
    import torch

    threads = torch.get_num_threads()
    res = runner.invoke(app, _args(manifest, out, "--attribution", "--policy", str(policy)))
    assert res.exit_code == 0, res.output
    assert torch.get_num_threads() == threads  # --threads is restored for the rest of the process
    data = json.loads((out / "stress.json").read_text())
    schema = json.loads(files("fairaudit.schema").joinpath("stress-result.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert [c["id"] for c in data["conditions"]] == ["reference:fallback", "remove:note:fallback", "jpeg:5"]
    assert data["gate"]["status"] == "pass" and data["probe"] is None and data["attribution"]
    html = (out / "stress.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "data:image/svg+xml;base64," in html  # severity curves
    assert "MedMNIST-C" in html


def test_failing_rule_exits_1(manifest: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[[stress]]\nremoved = ["note"]\nimpute = "fallback"\nmetric = "auc"\n'
                      'per_group = false\nmax_increase = 0.0\nmax_drop = 0.0\n', encoding="utf-8")
    res = runner.invoke(app, _args(manifest, tmp_path / "o", "--policy", str(policy)))
    # Removing the note changes the AUC: a zero-width bound fails or is inconclusive, never passes.
    assert res.exit_code in (1, 3), res.output
    assert json.loads((tmp_path / "o" / "stress.json").read_text())["gate"]["status"] != "pass"


@pytest.mark.parametrize("extra, message", [
    (("--corruptions", "fog"), "--corruptions must be"),
    (("--severities", "0-7"), "--severities must be between 1 and 5"),
    (("--modalities", "eeg"), "--modalities must be"),
])
def test_bad_options_exit_2_without_output(manifest: Path, tmp_path: Path, extra, message) -> None:
    out = tmp_path / "bad"
    res = runner.invoke(app, [*_args(manifest, out), *extra])
    assert res.exit_code == 2 and message in res.output
    assert "Traceback" not in res.output and not (out / "stress.json").exists()


def test_bad_policy_exits_2(manifest: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[[stress]]\ncorruption = "jpeg"\nmetric = "auc"\n', encoding="utf-8")
    res = runner.invoke(app, _args(manifest, tmp_path / "o", "--policy", str(policy)))
    assert res.exit_code == 2 and "needs 'max_drop' and/or 'max_increase'" in res.output


def test_parse_severities() -> None:
    assert parse_severities("1-5") == (1, 2, 3, 4, 5)
    assert parse_severities("5,1,3") == (1, 3, 5)
    with pytest.raises(ConfigError):
        parse_severities("x")
