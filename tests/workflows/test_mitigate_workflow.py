"""The mitigate workflow (:mod:`fairaudit.workflows.mitigate`): variants, comparison, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairaudit.errors import FairauditError
from fairaudit.mitigation.threshold_variant import ThresholdSettings
from fairaudit.workflows.mitigate import OUTPUT_FILES, mitigate, split_predictions, write_outputs
from tests.conftest import write_split_table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_split_table(tmp_path_factory.mktemp("m") / "preds.csv", 1500, 1500)


@pytest.fixture(scope="module")
def result(table: Path, tmp_path_factory: pytest.TempPathFactory):
    messages: list[str] = []
    out = mitigate(label="y", sensitive="sex,race", out_dir=tmp_path_factory.mktemp("o"),
                   methods="threshold", predictions=table, target="race", n_bootstrap=100, seed=2,
                   thresholds=ThresholdSettings(objective="equal_opportunity"),
                   progress=messages.append)
    return out, messages


def test_threshold_run_compares_against_the_baseline(result) -> None:
    res, messages = result
    names = [v.name for v in res.comparison.variants]
    assert names == ["baseline", "threshold (equal_opportunity)"]
    assert res.comparison.attribute == "race"
    assert res.group_thresholds is not None and res.group_thresholds.attribute == "race"
    assert res.checkpoints == {}
    assert any("thresholds" in m for m in messages) and any("auditing" in m for m in messages)


def test_write_outputs_writes_every_file_once(result, tmp_path: Path) -> None:
    res, _ = result
    written = write_outputs(res, tmp_path / "out")
    assert set(written) == set(OUTPUT_FILES)
    data = json.loads(written["comparison.json"].read_text())
    assert data["format"] == "fairaudit-comparison" and data["baseline"] == "baseline"
    assert json.loads(written["thresholds.json"].read_text())["attribute"] == "race"


def test_write_outputs_names_files_as_asked_and_spares_inputs(result, tmp_path: Path) -> None:
    res, _ = result
    given = tmp_path / "comparison.md"
    given.write_text("an input of the run")
    with pytest.raises(FairauditError, match="out file comparison.md"):
        write_outputs(res, tmp_path, inputs=[("predictions", given)], what="out file {name}")
    assert given.read_text() == "an input of the run"
    assert not (tmp_path / "comparison.json").exists()  # all or nothing


def test_split_predictions_takes_the_split_column(table: Path) -> None:
    val, test = split_predictions(table, label="y", sensitive="sex,race")
    assert (val.n_rows, test.n_rows) == (1500, 1500)
    assert test.source.startswith("test rows of")


def test_errors_name_the_parameter(table: Path, tmp_path: Path) -> None:
    with pytest.raises(FairauditError, match="`val_fraction` must be between 0 and 1"):
        split_predictions(table, label="y", sensitive="sex", val_fraction=1.5)
    with pytest.raises(FairauditError, match="`methods` must be one of"):
        mitigate(label="y", sensitive="sex", out_dir=tmp_path, methods="nothing", predictions=table)
