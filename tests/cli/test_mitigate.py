"""``fairaudit mitigate`` through Typer's CliRunner: outputs, exit codes, thresholds round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from tests.conftest import make_predictions

runner = CliRunner()


@pytest.fixture
def split_predictions(tmp_path: Path) -> Path:
    val = make_predictions(1, n=2500).assign(split="val")
    test = make_predictions(2, n=2500).assign(split="test")
    path = tmp_path / "preds.csv"
    pd.concat([val, test]).to_csv(path, index=False)
    return path


def test_threshold_adjustment_on_any_models_predictions(tmp_path: Path, split_predictions: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, [
        "mitigate", "--predictions", str(split_predictions), "--label", "y", "--sensitive", "sex,race",
        "--target", "race", "--method", "threshold", "--objective", "equal_opportunity",
        "--out", str(out), "--bootstrap", "100", "--seed", "1",
    ])
    assert res.exit_code == 0, res.output
    for name in ("comparison.json", "comparison.html", "comparison.md", "thresholds.json"):
        assert (out / name).is_file()
    data = json.loads((out / "comparison.json").read_text())
    assert [v["name"] for v in data["variants"]] == ["baseline", "threshold (equal_opportunity)"]
    assert data["settings"]["test_data"].startswith("test rows of")
    thr = json.loads((out / "thresholds.json").read_text())
    assert thr["attribute"] == "race"
    assert thr["provenance"]["fitted_on"].startswith("validation rows of")
    # Validation TPRs of the fitted groups are within the tolerance the fit used.
    val = thr["provenance"]["validation"]
    tprs = [g["tpr"] for g in val.values() if g["fitted"]]
    assert max(tprs) - min(tprs) <= thr["provenance"]["tolerance_used"] + 1e-12

    # The saved file is what `fairaudit audit --group-thresholds` applies.
    test_csv = tmp_path / "test.csv"
    make_predictions(2, n=2500).to_csv(test_csv, index=False)
    res = runner.invoke(app, [
        "audit", "--predictions", str(test_csv), "--label", "y", "--sensitive", "sex,race",
        "--group-thresholds", str(out / "thresholds.json"), "--format", "json",
        "--bootstrap", "0", "--permutations", "0", "--quiet",
    ])
    assert res.exit_code == 0, res.output
    audited = json.loads(res.stdout)
    mine = data["audits"]["threshold (equal_opportunity)"]
    for g in ("Asian", "Black", "Mixed", "White"):
        a = next(x for x in audited["groups"] if x["attribute"] == "race" and x["group"] == g)
        b = next(x for x in mine["groups"] if x["attribute"] == "race" and x["group"] == g)
        assert a["metrics"]["tpr"]["value"] == pytest.approx(b["metrics"]["tpr"]["value"])


def test_separate_validation_file(tmp_path: Path) -> None:
    val, test = tmp_path / "val.csv", tmp_path / "test.csv"
    make_predictions(3, n=2000).to_csv(val, index=False)
    make_predictions(4, n=2000).to_csv(test, index=False)
    res = runner.invoke(app, [
        "mitigate", "--predictions", str(test), "--val-predictions", str(val), "--label", "y",
        "--sensitive", "race", "--method", "threshold", "--objective", "sensitivity_floor",
        "--sensitivity-floor", "0.9", "--out", str(tmp_path / "o"), "--bootstrap", "50", "-q",
    ])
    assert res.exit_code == 0, res.output
    thr = json.loads((tmp_path / "o" / "thresholds.json").read_text())
    assert all(g["tpr"] >= 0.9 for g in thr["provenance"]["validation"].values() if g["fitted"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "fairness"], "--method must be one of"),
        (["--method", "group-dro"], "need --model and --data"),
        (["--objective", "sensitivity_floor"], "needs a floor"),
        (["--tolerance", "tight"], "--tolerance must be"),
        (["--split-column", "fold"], "no 'fold' column"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, split_predictions: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, [
        "mitigate", "--predictions", str(split_predictions), "--label", "y", "--sensitive", "race",
        "--out", str(tmp_path / "o"), "--bootstrap", "20", *args,
    ])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
