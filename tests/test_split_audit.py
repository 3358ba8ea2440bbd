"""Audit one split of a table (--split-column / --split) and the fitted-rows warning."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.api import audit
from fairaudit.cli.app import app
from tests.conftest import make_predictions, write_split_table

runner = CliRunner()
FAST = ["--bootstrap", "0", "--permutations", "0"]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_split_table(tmp_path / "preds.csv", 1500, 1000)


def test_api_audits_only_the_named_split(table: Path) -> None:
    whole = pd.read_csv(table)
    only_test = whole[whole["split"] == "test"]
    got = audit(table, label="y", sensitive="race", split_column="split", split="test",
                n_bootstrap=0, n_permutations=0, threshold=0.5)
    ref = audit(only_test, label="y", sensitive="race", n_bootstrap=0, n_permutations=0, threshold=0.5)
    assert got.dataset.n_rows == 1000
    assert got.overall.metrics["tpr"].value == ref.overall.metrics["tpr"].value
    assert got.run.data_sha256.endswith(":split=test")
    assert "(split = test)" in got.dataset.source


def test_cli_split_and_unknown_value(table: Path) -> None:
    res = runner.invoke(app, ["audit", "-p", str(table), "-l", "y", "-a", "race", "-t", "0.5",
                              "--split-column", "split", "--split", "test", "-f", "json", "-q", *FAST])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["dataset"]["n_rows"] == 1000
    res = runner.invoke(app, ["audit", "-p", str(table), "-l", "y", "-a", "race", "--split", "tst", *FAST])
    assert res.exit_code == 2
    assert "no rows with split = 'tst'" in res.output and "test, val" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["audit", "-p", str(table), "-l", "y", "-a", "race",
                              "--split-column", "fold", "--split", "test", *FAST])
    assert res.exit_code == 2 and "no split column 'fold'" in res.output
    res = runner.invoke(app, ["audit", "-p", str(table), "-l", "y", "-a", "race",
                              "--split-column", "split", *FAST])
    assert res.exit_code == 2 and "needs --split" in res.output


def _fit(tmp_path: Path, table: Path, *extra: str) -> Path:
    out = tmp_path / "mit"
    res = runner.invoke(app, ["mitigate", "-p", str(table), "-l", "y", "-a", "race", "--method",
                              "threshold", "--objective", "equal_opportunity", "--out", str(out),
                              "--bootstrap", "100", "-q", *extra])
    assert res.exit_code == 0, res.output
    return out / "thresholds.json"


@pytest.mark.parametrize(
    ("split", "warned"),
    [(None, "include"), ("val", "include"), ("test", None)],
)
def test_group_thresholds_warn_when_audited_rows_include_the_fitted_rows(
    tmp_path: Path, table: Path, split: str | None, warned: str | None,
) -> None:
    thresholds = _fit(tmp_path, table)
    rows = json.loads(thresholds.read_text())["provenance"]["fitted_rows"]
    assert rows["selection"] == "split" and rows["n_rows"] == 1500
    args = ["audit", "-p", str(table), "-l", "y", "-a", "race", "--group-thresholds", str(thresholds),
            "-f", "json", *FAST]
    if split:
        args += ["--split", split]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    warnings = [w for w in json.loads(res.stdout)["warnings"] if "fitted on" in w]
    if warned is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and f"the audited rows {warned} the 1500 rows" in warnings[0]


def test_separate_validation_file_is_recognised(tmp_path: Path) -> None:
    val, test = tmp_path / "val.csv", tmp_path / "test.csv"
    make_predictions(3, n=1500).to_csv(val, index=False)
    make_predictions(4, n=1500).to_csv(test, index=False)
    thresholds = _fit(tmp_path, test, "--val-predictions", str(val))
    for data, expect in ((val, 1), (test, 0)):
        got = audit(data, label="y", sensitive="race", group_thresholds=thresholds, n_bootstrap=0,
                    n_permutations=0)
        assert sum("fitted on" in w for w in got.warnings) == expect
