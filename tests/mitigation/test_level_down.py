"""Threshold adjustment that levels down on validation says so and names an objective that did not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.workflows.mitigate import ThresholdSettings, mitigate
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_data" / "predictions.csv"


def _run(tmp_path: Path, settings: ThresholdSettings, **kw):
    return mitigate(label="y", sensitive="sex,race", out_dir=tmp_path, methods="threshold",
                    target="race", thresholds=settings, n_bootstrap=100, seed=0, **kw)


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    frame = pd.read_csv(SAMPLE)
    rng = np.random.default_rng(0)
    patients = frame["patient_id"].unique()
    val_ids = set(patients[rng.random(patients.shape[0]) < 0.5])
    is_val = frame["patient_id"].isin(val_ids)
    root = tmp_path_factory.mktemp("halves")
    frame[is_val].to_csv(root / "val.csv", index=False)
    frame[~is_val].to_csv(root / "test.csv", index=False)
    return root / "val.csv", root / "test.csv"


def test_default_objective_levelling_down_is_warned_with_an_alternative(tmp_path: Path, halves) -> None:
    val, test = halves
    result = _run(tmp_path, ThresholdSettings(), predictions=test, val_predictions=val)
    (warning,) = result.comparison.warnings
    assert "levels down on validation" in warning and "did not" in warning
    assert "false-positive rate" in warning  # the price of the alternative is named too
    variant = next(v for v in result.comparison.variants if v.method == "threshold")
    check = variant.provenance["level_down_check"]
    assert check["levelled_down"] is True
    assert check["sensitivity_before"]["overall"] - check["sensitivity_after"]["overall"] >= 0.05
    assert check["alternative"] in warning
    assert check["alternatives_tried"][-1]["levelled_down"] is False
    assert "Warning: threshold (equalized_odds) levels down" in result.comparison.to_markdown()
    assert result.comparison.to_dict()["warnings"] == [warning]

    # The named alternative, fitted the same way, does not level down on validation.
    option = check["alternative"].split()
    alt = ThresholdSettings(objective=option[1], sensitivity_floor=float(option[3])
                            if "--sensitivity-floor" in option else None, performance=option[-1])
    again = _run(tmp_path / "alt", alt, predictions=test, val_predictions=val)
    assert again.comparison.warnings == ()


def test_the_check_never_looks_at_the_test_rows(tmp_path: Path, halves) -> None:
    val, test = halves
    shuffled = pd.read_csv(test)
    shuffled["y"] = np.random.default_rng(1).permutation(shuffled["y"].to_numpy())
    other = tmp_path / "test_shuffled.csv"
    shuffled.to_csv(other, index=False)
    a = _run(tmp_path / "a", ThresholdSettings(), predictions=test, val_predictions=val)
    b = _run(tmp_path / "b", ThresholdSettings(), predictions=other, val_predictions=val)
    assert a.comparison.warnings == b.comparison.warnings
    pa = next(v for v in a.comparison.variants if v.method == "threshold").provenance
    pb = next(v for v in b.comparison.variants if v.method == "threshold").provenance
    assert pa["level_down_check"] == pb["level_down_check"]


def test_cli_prints_one_warning_line(tmp_path: Path, halves) -> None:
    from typer.testing import CliRunner

    from fairaudit.cli.app import app

    val, test = halves
    res = CliRunner().invoke(app, [
        "mitigate", "--predictions", str(test), "--val-predictions", str(val), "--label", "y",
        "--sensitive", "sex,race", "--target", "race", "--method", "threshold",
        "--out", str(tmp_path / "o"), "--bootstrap", "100",
    ])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "levels down on validation" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: threshold (equalized_odds)")
