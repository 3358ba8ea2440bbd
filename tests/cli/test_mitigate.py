"""``fairaudit mitigate`` through Typer's CliRunner: outputs, exit codes, thresholds round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from tests.conftest import make_predictions, write_split_table

runner = CliRunner()


@pytest.fixture
def split_predictions(tmp_path: Path) -> Path:
    return write_split_table(tmp_path / "preds.csv", 2500, 2500)


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
        "--sensitivity-floor", "0.9", "--out", str(tmp_path / "o"), "--bootstrap", "100", "-q",
    ])
    assert res.exit_code == 0, res.output
    thr = json.loads((tmp_path / "o" / "thresholds.json").read_text())
    assert all(g["tpr"] >= 0.9 for g in thr["provenance"]["validation"].values() if g["fitted"])


def test_random_patient_split_of_a_predictions_file_is_seeded(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    frame = make_predictions(5, n=2000)
    frame["patient"] = frame.index // 2  # two studies per patient
    frame.to_csv(path, index=False)
    runs = []
    for k in range(2):
        out = tmp_path / f"o{k}"
        res = runner.invoke(app, [
            "mitigate", "--predictions", str(path), "--label", "y", "--sensitive", "race",
            "--cluster", "patient", "--val-fraction", "0.4", "--method", "threshold",
            "--out", str(out), "--bootstrap", "100", "--seed", "7", "-q",
        ])
        assert res.exit_code == 0, res.output
        runs.append(json.loads((out / "thresholds.json").read_text()))
    assert runs[0]["thresholds"] == runs[1]["thresholds"]
    n_val = runs[0]["provenance"]["n_validation"]
    assert 0.3 * 2000 < n_val < 0.5 * 2000 and n_val % 2 == 0  # whole patients


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "fairness"], "--method must be one of"),
        (["--method", "group-dro"], "need --model and --data"),
        (["--objective", "sensitivity_floor"], "needs a floor"),
        (["--tolerance", "tight"], "--tolerance must be"),
        (["--performance", "auc"], "--performance must be one of accuracy, balanced_accuracy"),
        (["--split-column", "fold"], "no 'fold' column"),
        (["--target", "age"], "--target age must be among the --sensitive columns (race)"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, split_predictions: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, [
        "mitigate", "--predictions", str(split_predictions), "--label", "y", "--sensitive", "race",
        "--out", str(tmp_path / "o"), "--bootstrap", "100", *args,
    ])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


@pytest.fixture
def tiny_cohort_and_model(cohort_dir: Path, saved: Path) -> tuple[Path, Path]:
    """The shared tiny cohort and model (conftest)."""
    return cohort_dir, saved


@pytest.mark.slow
def test_mitigate_all_end_to_end_on_a_tiny_cohort(tmp_path: Path, tiny_cohort_and_model) -> None:
    from fairaudit.mitigation.thresholds import GroupThresholds
    from fairaudit.models.checkpoint import checkpoint_sha256, load_model

    cohort, model = tiny_cohort_and_model
    out = tmp_path / "out"
    res = runner.invoke(app, [
        "mitigate", "--model", str(model), "--data", str(cohort), "--label", "diagnosis",
        "--sensitive", "sex,race", "--target", "race", "--method", "all", "--out", str(out),
        "--seed", "0", "--epochs", "1", "--diffusion-epochs", "1", "--bootstrap", "100",
        "--min-group-events", "2",
    ])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "comparison.json").read_text())
    names = [v["name"] for v in data["variants"]]
    assert names == ["baseline", "reweighting", "stratified", "group-dro", "threshold (equalized_odds)"]
    assert set(data["audits"]) == set(names)
    assert all(v["verdict"] in ("baseline", "no harm detected", "possible harm", "harm", "levelling down") for v in data["variants"])
    base_sha = checkpoint_sha256(model)
    for method in ("reweighting", "stratified", "group-dro"):
        tuned = load_model(out / "checkpoints" / method)
        info = tuned.info["mitigation"]
        assert info["method"] == method and info["base_checkpoint_sha256"] == base_sha
        assert "validation worst-group AUC" in info["selection"]
        assert tuned.sha256 != base_sha
        audit = data["audits"][method]
        assert audit["run"]["model_sha256"] == tuned.sha256
    dro = load_model(out / "checkpoints" / "group-dro").info["mitigation"]["group_dro"]
    assert dro["n_updates"] > 0 and sum(dro["weights"].values()) == pytest.approx(1.0)
    gt = GroupThresholds.load(out / "thresholds.json")
    assert gt.attribute == "race" and gt.provenance["fitted_on"].endswith("validation.csv'")
    html = (out / "comparison.html").read_text()
    assert "Do no harm" in html and "data:image/svg+xml;base64," in html


@pytest.mark.slow
def test_threshold_method_does_not_need_the_training_split(tmp_path: Path, tiny_cohort_and_model) -> None:
    import shutil

    cohort, model = tiny_cohort_and_model
    no_train = tmp_path / "cohort"
    shutil.copytree(cohort, no_train)
    (no_train / "train.csv").unlink()
    out = tmp_path / "out"
    res = runner.invoke(app, [
        "mitigate", "--model", str(model), "--data", str(no_train), "--label", "diagnosis",
        "--sensitive", "sex,race", "--target", "race", "--method", "threshold", "--out", str(out),
        "--bootstrap", "100", "--min-group-events", "2", "-q",
    ])
    assert res.exit_code == 0, res.output
    assert (out / "thresholds.json").is_file()
    # The training-time methods still need it, and say so in one line.
    res = runner.invoke(app, [
        "mitigate", "--model", str(model), "--data", str(no_train), "--label", "diagnosis",
        "--sensitive", "sex,race", "--method", "reweighting", "--out", str(tmp_path / "o2"), "-q",
    ])
    assert res.exit_code == 2
    assert "lacks the train split" in res.output and "Traceback" not in res.output


def test_the_method_help_names_every_method_of_the_workflow() -> None:
    from fairaudit.workflows.mitigate import METHODS

    res = runner.invoke(app, ["mitigate", "--help"])
    text = "".join(res.stdout.split())  # the help wraps lines, even inside a hyphenated name
    for method in METHODS:
        assert method in text, f"add {method!r} to the --method help of fairaudit/cli/mitigate.py"
