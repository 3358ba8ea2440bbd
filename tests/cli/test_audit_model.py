"""`fairaudit audit --model` on the shipped sample: the real checkpoint on the real test split.

The sample checkpoint was trained on the training split of the simulated cohort whose validation
and test splits ship in ``sample_data/cohort``; ``cohort.json`` beside them documents the planted
biases. These tests check that the audit of that model finds each of them, and that the model
path records its provenance and fails cleanly on bad input.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.result import AuditResult
from fairaudit.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_data" / "model"
COHORT = ROOT / "sample_data" / "cohort"
TEST = COHORT / "test.csv"
SCHEMA = load_schema()  # the schema shipped in the package (fairaudit/schema/)
BOUNDED = {"auc", "tpr", "fpr", "tnr", "fnr", "ppv", "npv", "selection_rate", "accuracy",
           "balanced_accuracy", "brier", "ece", "prevalence"}

runner = CliRunner()


def _args(*extra: str) -> list[str]:
    return ["audit", "--model", str(MODEL), "--data", str(TEST), "--label", "diagnosis",
            "--sensitive", "sex,race", "--cluster", "patient_id", "--quiet", *extra]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditResult, dict, pd.DataFrame, str]:
    out = tmp_path_factory.mktemp("audit")
    res = runner.invoke(app, _args("--format", "json", "--output", str(out / "a.json"),
                                   "--save-predictions", str(out / "pred.csv")))
    assert res.exit_code == 0, res.output
    raw = json.loads((out / "a.json").read_text())
    return AuditResult.from_dict(raw), raw, pd.read_csv(out / "pred.csv"), res.stderr


def _group(result: AuditResult, attribute: str, group: str):
    return next(g for g in result.groups if g.attribute == attribute and g.group == group)


def _ci(result: AuditResult, attribute: str, group: str, metric: str) -> tuple[float, float]:
    est = _group(result, attribute, group).metrics[metric]
    assert est.ci is not None, (attribute, group, metric)
    return est.ci


def test_result_conforms_and_records_the_model(audited) -> None:
    result, raw, _, _ = audited
    jsonschema.validate(raw, SCHEMA)
    card = json.loads((MODEL / "model.json").read_text())
    assert raw["run"]["model_sha256"] is not None and len(raw["run"]["model_sha256"]) == 64
    from fairaudit.models.checkpoint import load_model

    assert raw["run"]["model_sha256"] == load_model(MODEL).sha256
    # The threshold is the checkpoint's (chosen on validation), not the 0.5 default.
    assert result.threshold.value == pytest.approx(card["threshold"])
    assert result.threshold.source.startswith("checkpoint")
    assert result.dataset.n_rows == len(pd.read_csv(TEST))


def test_saved_predictions_are_the_models_scores(audited) -> None:
    _, _, pred, _ = audited
    test = pd.read_csv(TEST)
    assert list(pred["study_id"]) == list(test["study_id"])
    assert {"patient_id", "diagnosis", "sex", "race", "score"} <= set(pred.columns)
    from fairaudit.data.manifest import load_manifest
    from fairaudit.models.checkpoint import load_model

    ds = load_manifest(TEST, label="diagnosis", sensitive="race")
    np.testing.assert_allclose(pred["score"].to_numpy(), load_model(MODEL).predict_proba(ds), rtol=0, atol=1e-12)


def test_every_interval_of_a_bounded_metric_lies_in_the_unit_interval(audited) -> None:
    result, _, _, _ = audited
    for g in [result.overall, *result.groups]:
        for name, est in g.metrics.items():
            if name in BOUNDED and est.ci is not None:
                assert 0.0 <= est.ci[0] <= est.ci[1] <= 1.0, (g.attribute, g.group, name, est.ci)


def test_each_planted_bias_is_found(audited) -> None:
    result, _, _, _ = audited
    truth = {b["kind"]: b for b in json.loads((COHORT / "cohort.json").read_text())["planted_biases"]}

    # Lower lesion contrast for one sex: more missed disease there, with the intervals apart.
    b = truth["low_lesion_contrast"]
    other = next(g.group for g in result.groups if g.attribute == b["attribute"] and g.group != b["group"])
    assert _ci(result, b["attribute"], b["group"], "fnr")[0] > _ci(result, b["attribute"], other, "fnr")[1]
    assert _ci(result, b["attribute"], b["group"], "auc")[1] < _ci(result, b["attribute"], other, "auc")[0]

    # Under-documented symptoms: the highest FNR of the sufficient race groups, and its interval
    # clear of the majority group's.
    b = truth["underdocumented_symptoms"]
    race = [g for g in result.groups if g.attribute == b["attribute"] and g.status == "ok"]
    worst = max(race, key=lambda g: g.metrics["fnr"].value)
    assert worst.group == b["group"]
    majority = max(race, key=lambda g: g.n)
    assert _ci(result, b["attribute"], b["group"], "fnr")[0] > _ci(result, b["attribute"], majority.group, "fnr")[1]

    # Missed diagnoses in the recorded labels: the model's correct calls count as false
    # positives, so that group has the highest FPR and the lowest AUC (cohort.json says so).
    b = truth["missed_diagnoses"]
    race = [g for g in result.groups if g.attribute == b["attribute"] and g.status == "ok"]
    assert max(race, key=lambda g: g.metrics["fpr"].value).group == b["group"]
    assert min(race, key=lambda g: g.metrics["auc"].value).group == b["group"]
    assert _ci(result, b["attribute"], b["group"], "fpr")[0] > _ci(result, b["attribute"], majority.group, "fpr")[1]


def test_threshold_option_overrides_the_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    res = runner.invoke(app, _args("--threshold", "0.3", "--bootstrap", "100", "--permutations", "100",
                                   "--format", "json", "--output", str(out)))
    assert res.exit_code == 0, res.output
    thr = json.loads(out.read_text())["threshold"]
    assert thr["value"] == 0.3 and "given" in thr["source"]


def _copy_cohort(tmp_path: Path) -> Path:
    dst = tmp_path / "cohort"
    dst.mkdir()
    frame = pd.read_csv(TEST).head(40)
    frame.to_csv(dst / "test.csv", index=False)
    (dst / "images").mkdir()
    for rel in frame["image_path"].dropna():
        shutil.copy(COHORT / rel, dst / rel)
    return dst


@pytest.mark.parametrize("damage", ["missing", "truncated", "wrong_shape", "missing_column"])
def test_bad_manifest_is_one_line_exit_2_naming_the_row_and_file(tmp_path: Path, damage: str) -> None:
    dst = _copy_cohort(tmp_path)
    frame = pd.read_csv(dst / "test.csv")
    row = int(frame["image_path"].notna().to_numpy().nonzero()[0][3])
    image = dst / frame.loc[row, "image_path"]
    if damage == "missing":
        image.unlink()
    elif damage == "truncated":
        image.write_bytes(image.read_bytes()[:40])
    elif damage == "wrong_shape":
        Image.fromarray(np.zeros((32, 48), dtype=np.uint8)).save(image)
    else:
        frame.drop(columns=["note"]).to_csv(dst / "test.csv", index=False)
    out = tmp_path / "a.json"
    res = runner.invoke(app, ["audit", "--model", str(MODEL), "--data", str(dst / "test.csv"),
                              "--label", "diagnosis", "--sensitive", "sex,race", "--quiet",
                              "--format", "json", "--output", str(out)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    if damage == "missing_column":
        assert "'note'" in lines[0]
    else:
        assert image.name in lines[0] and f"data row {row + 1} " in lines[0], lines[0]
    assert not out.exists()


def test_imputation_options_reach_the_model(tmp_path: Path) -> None:
    from fairaudit.data.manifest import load_manifest
    from fairaudit.models.checkpoint import load_model

    pred = tmp_path / "pred.csv"
    res = runner.invoke(app, _args("--impute", "fallback", "--bootstrap", "0", "--permutations", "0",
                                   "--format", "json", "--output", str(tmp_path / "a.json"),
                                   "--save-predictions", str(pred)))
    assert res.exit_code == 0, res.output
    ds = load_manifest(TEST, label="diagnosis", sensitive="race")
    expected = load_model(MODEL).predict_proba(ds, impute="fallback")
    np.testing.assert_allclose(pd.read_csv(pred)["score"].to_numpy(), expected, rtol=0, atol=1e-12)
    assert "impute=fallback" in json.loads((tmp_path / "a.json").read_text())["dataset"]["score"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--impute", "mean"], "impute must be one of"),
        (["--ddim-steps", "0"], "ddim_steps must be between"),
        (["--impute-samples", "0"], "samples must be at least 1"),
    ],
)
def test_bad_imputation_options_are_one_line_errors(args: list[str], words: str) -> None:
    res = runner.invoke(app, _args(*args))
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], res.output


def test_imputation_options_need_a_model(tmp_path: Path) -> None:
    preds = ROOT / "sample_data" / "predictions.csv"
    res = runner.invoke(app, ["audit", "--predictions", str(preds), "--label", "y", "--sensitive", "sex",
                              "--impute", "fallback"])
    assert res.exit_code == 2 and "go with --model" in res.output


def test_any_predictor_object_is_audited_through_the_api() -> None:
    import fairaudit

    class Constant:
        """A model outside fairaudit: only the Predictor protocol."""

        sha256 = "ab" * 32
        threshold = 0.3

        def predict_proba(self, dataset):
            return np.where(dataset.frame["note"].fillna("").str.contains("cough"), 0.8, 0.1)

    result = fairaudit.audit(model=Constant(), data=TEST, label="diagnosis", sensitive="sex",
                             n_bootstrap=0, n_permutations=0)
    assert result.run.model_sha256 == "ab" * 32 and result.threshold.value == 0.3
    with pytest.raises(fairaudit.errors.ConfigError, match="built-in multimodal model only"):
        fairaudit.audit(model=Constant(), data=TEST, label="diagnosis", sensitive="sex",
                        predict_options={"impute": "fallback"})


def test_missing_modalities_are_counted_per_group(audited) -> None:
    result, _, _, _ = audited
    test = pd.read_csv(TEST)
    labs = [c for c in test.columns if c.startswith("lab_")]
    missing = pd.DataFrame({
        "image": test["image_path"].isna(),
        "note": test["note"].fillna("").str.strip() == "",
        "labs": test[labs].isna().all(axis=1),
    })
    for group in ("F", "M"):
        counts = dict(_group(result, "sex", group).missing_modalities)
        expected = missing[test["sex"] == group].sum()
        assert counts == {m: int(expected[m]) for m in ("image", "note", "labs")}, (group, counts)
