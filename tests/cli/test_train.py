"""`fairaudit sample-data` then `fairaudit train` then `fairaudit audit --model`, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("train")
    cohort, model = root / "cohort", root / "model"
    res = runner.invoke(app, ["sample-data", "--out", str(cohort), "--patients", "150", "--seed", "3",
                              "--image-size", "32"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", "--data", str(cohort), "--out", str(model), "--epochs", "2",
                              "--seed", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    return cohort, model, res.stderr


def test_train_writes_a_checkpoint_with_its_provenance(trained) -> None:
    cohort, model, stderr = trained
    assert sorted(p.name for p in model.iterdir()) == ["model.json", "model.safetensors"]
    card = json.loads((model / "model.json").read_text())
    assert card["threshold_rule"].startswith("Youden J") and 0.0 <= card["threshold"] <= 1.0
    info = card["info"]
    assert info["seed"] == 1 and info["settings"]["epochs"] == 2
    assert info["training_data"]["n_train"] == len((cohort / "train.csv").read_text().splitlines()) - 1
    assert len(info["training_data"]["train_sha256"]) == 64
    assert "validation AUC" in stderr and "sha256" in stderr


def test_the_trained_model_is_audited_with_its_threshold(trained, tmp_path: Path) -> None:
    cohort, model, _ = trained
    out = tmp_path / "a.json"
    res = runner.invoke(app, ["audit", "--model", str(model), "--data", str(cohort / "test.csv"),
                              "--label", "diagnosis", "--sensitive", "sex,race", "--quiet",
                              "--bootstrap", "100", "--permutations", "100", "--format", "json",
                              "--output", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    card = json.loads((model / "model.json").read_text())
    assert result["threshold"]["value"] == pytest.approx(card["threshold"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--data", "nowhere"], "does not exist"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--dicom-window", "40"], "--dicom-window must be CENTER,WIDTH"),
        (["--dicom-window", "40,0.5"], "a width of at least 1"),
        (["--dicom-window", "a,b"], "got 'a,b'"),
    ],
)
def test_bad_training_input_is_one_line_exit_2(trained, tmp_path: Path, args: list[str], words: str) -> None:
    cohort, _, _ = trained
    base = {"--data": str(cohort), "--out": str(tmp_path / "m"), "--epochs": "1"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1] if args[i] != "--data" else str(tmp_path / args[i + 1])
    flat = [x for kv in base.items() for x in kv]
    res = runner.invoke(app, ["train", *flat, "--quiet"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], res.output
    assert not (tmp_path / "m").exists()


def test_train_without_quiet_reports_progress_and_keeps_the_dicom_window(trained, tmp_path: Path) -> None:
    cohort, _, _ = trained
    res = runner.invoke(app, ["train", "--data", str(cohort), "--out", str(tmp_path / "m"),
                              "--epochs", "1", "--seed", "2", "--dicom-window", "40,400"])
    assert res.exit_code == 0, res.output
    assert "validation AUC" in res.stderr
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["preprocessing"]["image_window"] == [40.0, 400.0]  # inference reads with it
