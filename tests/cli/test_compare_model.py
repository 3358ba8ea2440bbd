"""`fairaudit compare` with a model side: the shipped checkpoint on a small shared manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_data" / "model"
COHORT = ROOT / "sample_data" / "cohort"
runner = CliRunner()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 80 studies of the sample test split, images resolved from the shipped folder."""
    out = tmp_path_factory.mktemp("m")
    frame = pd.read_csv(COHORT / "test.csv").head(80)
    frame["image_path"] = [str((COHORT / p).resolve()) if isinstance(p, str) else p for p in frame["image_path"]]
    frame.to_csv(out / "test.csv", index=False)
    return out / "test.csv"


@pytest.mark.slow
def test_model_against_a_predictions_table_joined_on_the_manifest(manifest, tmp_path):
    args = ["compare", "--baseline", str(MODEL), "--data", str(manifest), "--label", "diagnosis",
            "--sensitive", "sex", "--bootstrap", "100", "--quiet", "--format", "json",
            "--min-group-size", "5", "--min-group-events", "1"]
    same = runner.invoke(app, [*args, "--candidate", str(MODEL), "--candidate-threshold", "0.3"])
    assert same.exit_code == 0, same.output
    raw = json.loads(same.stdout)
    assert raw["baseline"]["kind"] == raw["candidate"]["kind"] == "model"
    assert raw["baseline"]["threshold_source"].startswith("checkpoint")
    auc = [c for c in raw["paired"]["changes"] if c["metric"] == "auc"]
    assert all(c["change"] == 0.0 for c in auc)  # same model: only the threshold differs

    scores = pd.DataFrame({"study_id": pd.read_csv(manifest)["study_id"], "score": 0.5})
    scores.iloc[::-1].to_csv(tmp_path / "flat.csv", index=False)
    flat = runner.invoke(app, [*args, "--candidate", str(tmp_path / "flat.csv"), "--id", "study_id"])
    assert flat.exit_code == 0, flat.output
    raw = json.loads(flat.stdout)
    overall_auc = next(c for c in raw["paired"]["changes"] if c["metric"] == "auc" and c["group"] == "overall")
    assert overall_auc["value"] == 0.5 and overall_auc["change"] < 0
    missing = runner.invoke(app, [*args, "--candidate", str(tmp_path / "flat.csv")])
    assert missing.exit_code == 2 and "give --id to pair the rows" in missing.stderr
