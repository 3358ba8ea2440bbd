"""`fairaudit audit` end to end on inputs as users have them: DICOM studies, demographics in a
separate table, binned ages, logits and text labels. Exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from tests.data.dicomkit import VARIANTS, encode_png_pixels

ROOT = Path(__file__).resolve().parents[2]

MODEL = ROOT / "sample_data" / "model"
COHORT = ROOT / "sample_data" / "cohort"

runner = CliRunner()


def _one_line_error(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    return lines[0]


# -- DICOM through the built-in model --------------------------------------------------------


def _model_scores(manifest: Path, out: Path) -> np.ndarray:
    res = runner.invoke(app, ["audit", "--model", str(MODEL), "--data", str(manifest),
                              "--label", "diagnosis", "--sensitive", "sex", "--bootstrap", "0",
                              "--permutations", "0", "--quiet", "--format", "json",
                              "--output", str(out / f"{manifest.stem}.json"),
                              "--save-predictions", str(out / f"{manifest.stem}-pred.csv")])
    assert res.exit_code == 0, res.output
    return pd.read_csv(out / f"{manifest.stem}-pred.csv")["score"].to_numpy()


def test_dicom_studies_score_exactly_as_their_pngs(tmp_path) -> None:
    from PIL import Image

    test = pd.read_csv(COHORT / "test.csv")
    rows = test[test["image_path"].notna()].head(2 * len(VARIANTS)).reset_index(drop=True)
    png = rows.assign(image_path=[str(COHORT / p) for p in rows["image_path"]])
    png.to_csv(tmp_path / "manifest_png.csv", index=False)
    (tmp_path / "dcm").mkdir()
    dcm_paths = []
    for i, rel in enumerate(rows["image_path"]):
        with Image.open(COHORT / rel) as im:
            pixels = np.asarray(im)
        variant = VARIANTS[i % len(VARIANTS)]
        encode_png_pixels(tmp_path / "dcm" / f"{i}.dcm", pixels, variant)
        dcm_paths.append(f"dcm/{i}.dcm")
    rows.assign(image_path=dcm_paths).to_csv(tmp_path / "manifest_with_dcm.csv", index=False)
    expected = _model_scores(tmp_path / "manifest_png.csv", tmp_path)
    got = _model_scores(tmp_path / "manifest_with_dcm.csv", tmp_path)
    np.testing.assert_array_equal(got, expected)


def test_corrupted_dicom_in_a_manifest_exits_2_naming_row_and_file(tmp_path) -> None:
    test = pd.read_csv(COHORT / "test.csv").head(4)
    (tmp_path / "broken.dcm").write_bytes(b"\x00" * 64)
    paths = [str(COHORT / p) for p in test["image_path"]]
    paths[2] = "broken.dcm"
    test.assign(image_path=paths).to_csv(tmp_path / "m.csv", index=False)
    res = runner.invoke(app, ["audit", "--model", str(MODEL), "--data", str(tmp_path / "m.csv"),
                              "--label", "diagnosis", "--sensitive", "sex", "--quiet"])
    line = _one_line_error(res)
    assert "data row 3 of manifest" in line and "broken.dcm" in line and "DICOM" in line


# -- predictions + a patient table, binned ages, logits, text labels --------------------------


@pytest.fixture
def split_tables(tmp_path) -> tuple[Path, Path]:
    """The README's example: predictions in one file, demographics in a patient table."""
    rng = np.random.default_rng(7)
    n, n_pat = 900, 860
    pid = rng.permutation([f"P{i:04d}" for i in range(n)])
    y = rng.random(n) < 0.4
    logit = rng.normal(0, 1, n) + 2.2 * y - 1.0
    pd.DataFrame({"patient_id": pid, "diagnosis": np.where(y, "disease", "healthy"),
                  "logit": np.round(logit, 6), "split": np.where(rng.random(n) < 0.5, "val", "test")}
                 ).to_csv(tmp_path / "predictions.csv", index=False)
    age = rng.integers(18, 96, n_pat).astype(float)
    age[:15] = np.nan
    pd.DataFrame({"patient_id": pid[:n_pat], "sex": rng.choice(["F", "M"], n_pat), "age": age}
                 ).sample(frac=1.0, random_state=2).to_csv(tmp_path / "patients.csv", index=False)
    return tmp_path / "predictions.csv", tmp_path / "patients.csv"


def _audit(preds: Path, *extra: str):
    return runner.invoke(app, ["audit", "--predictions", str(preds), "--label", "diagnosis",
                               "--pos-label", "disease", "--score", "logit", "--score-type", "logit",
                               "--bootstrap", "0", "--permutations", "0", *extra])


def test_worked_example_joins_bins_and_records(split_tables, tmp_path) -> None:
    preds, patients = split_tables
    res = _audit(preds, "--sensitive", "sex,age", "--metadata", str(patients), "--on", "patient_id",
                 "--bins", "age=40,60,80", "--format", "json", "--output", str(tmp_path / "a.json"))
    assert res.exit_code == 0, res.output
    import json

    from fairaudit.schema import load_schema

    raw = json.loads((tmp_path / "a.json").read_text())
    import jsonschema

    jsonschema.validate(raw, load_schema())
    ds = raw["dataset"]
    assert raw["schema_version"] == "1.5"
    assert ds["n_unmatched_metadata"] == 40 and ds["unknown_counts"] == {"sex": 40, "age": 55}
    assert ds["bins"] == {"age": {"cuts": [40.0, 60.0, 80.0], "method": "cut_points", "q": None,
                                  "labels": ["< 40", "[40, 60)", "[60, 80)", ">= 80"]}}
    assert ds["score_type"] == "logit" and ds["pos_label"] == "disease"
    assert ds["metadata"]["key"] == "patient_id" and ds["metadata"]["columns"] == ["sex", "age"]
    groups = {g["group"] for g in raw["groups"] if g["attribute"] == "age"}
    assert groups == {"< 40", "[40, 60)", "[60, 80)", ">= 80", "unknown"}
    assert "860 of 900 rows matched, 40 unmatched" in res.stderr
    from fairaudit.result import AuditResult

    back = AuditResult.from_dict(raw)  # `fairaudit report` reads 1.x results back
    assert back.dataset.bins["age"].cuts == (40.0, 60.0, 80.0) and back.dataset.metadata.key == "patient_id"
    assert back.to_dict()["dataset"] == ds


def test_reports_show_the_join_and_the_bins(split_tables, tmp_path) -> None:
    preds, patients = split_tables
    res = _audit(preds, "--sensitive", "sex,age", "--metadata", str(patients), "--on", "patient_id",
                 "--bins", "age=40,60,80", "--format", "markdown", "--html", str(tmp_path / "r.html"),
                 "--quiet")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    for text in (res.stdout, html):
        assert "40 rows unmatched (attributes unknown)" in text
        assert "age binned (cut points) at 40, 60, 80" in text
        assert "scores given as logits" in text
    assert "Inputs</span>" in html


def test_quantile_bins_record_their_cut_points(split_tables, tmp_path) -> None:
    preds, patients = split_tables
    res = _audit(preds, "--sensitive", "age", "--metadata", str(patients), "--on", "patient_id",
                 "--bins", "age=q4", "--format", "markdown", "--quiet")
    assert res.exit_code == 0, res.output
    ages = pd.read_csv(patients)["age"].dropna()
    cuts = np.quantile(ages, [0.25, 0.5, 0.75])
    assert f"age binned (4 quantile bins) at {cuts[0]:g}, {cuts[1]:g}, {cuts[2]:g}" in res.stdout


@pytest.mark.parametrize(("extra", "expected"), [
    (["--sensitive", "sex", "--on", "patient_id"], "--on names the key of a --metadata table"),
    (["--sensitive", "sex", "--metadata", "{patients}"], "--on is needed with --metadata"),
    (["--sensitive", "sex", "--metadata", "{patients}", "--on", "pid"], "key column 'pid' not found in predictions file"),
    (["--sensitive", "sex", "--metadata", "{dup}", "--on", "patient_id"], "duplicate keys in 'patient_id'"),
    (["--sensitive", "sex,age", "--metadata", "{patients}", "--on", "patient_id"], "--bins age=q4"),
    (["--sensitive", "sex", "--metadata", "{patients}", "--on", "patient_id", "--bins", "age=q4"],
     "--bins names 'age', not a --sensitive column"),
    (["--sensitive", "age", "--metadata", "{patients}", "--on", "patient_id", "--bins", "age=80,40"],
     "--bins entry for 'age': cut points must increase strictly"),
])
def test_input_errors_exit_2_on_one_line(split_tables, tmp_path, extra, expected) -> None:
    preds, patients = split_tables
    meta = pd.read_csv(patients)
    pd.concat([meta, meta.head(3)]).to_csv(tmp_path / "dup.csv", index=False)
    args = [a.format(patients=patients, dup=tmp_path / "dup.csv") for a in extra]
    assert expected in _one_line_error(_audit(preds, *args))


def test_label_and_score_errors(split_tables, tmp_path) -> None:
    preds, patients = split_tables
    frame = pd.read_csv(preds)
    frame.loc[3, "diagnosis"] = "unsure"
    frame.to_csv(tmp_path / "three.csv", index=False)
    line = _one_line_error(_audit(tmp_path / "three.csv", "--sensitive", "split"))
    assert "3 distinct values ('disease', 'healthy', 'unsure')" in line
    res = runner.invoke(app, ["audit", "-p", str(preds), "--label", "diagnosis", "--pos-label", "sick",
                              "--score", "logit", "--score-type", "logit", "--sensitive", "split"])
    assert "positive label 'sick' does not occur" in _one_line_error(res)
    res = runner.invoke(app, ["audit", "-p", str(preds), "--label", "diagnosis", "--pos-label", "disease",
                              "--score", "logit", "--sensitive", "split"])
    assert "pass --score-type logit" in _one_line_error(res)
    res = runner.invoke(app, ["audit", "--model", str(MODEL), "--data", str(COHORT / "test.csv"),
                              "--label", "diagnosis", "--sensitive", "sex", "--score-type", "logit"])
    assert "--score-type describes the score column of --predictions" in _one_line_error(res)


def test_mitigate_threshold_with_metadata_bins_and_logits(split_tables, tmp_path) -> None:
    preds, patients = split_tables
    res = runner.invoke(app, ["mitigate", "--predictions", str(preds), "--label", "diagnosis",
                              "--pos-label", "disease", "--score", "logit", "--score-type", "logit",
                              "--sensitive", "age", "--metadata", str(patients), "--on", "patient_id",
                              "--bins", "age=q3", "--method", "threshold", "--bootstrap", "0",
                              "--out", str(tmp_path / "m"), "--quiet"])
    assert res.exit_code == 0, res.output
    import json

    thresholds = json.loads((tmp_path / "m" / "thresholds.json").read_text())
    frame = pd.read_csv(preds).merge(pd.read_csv(patients), on="patient_id", how="left")
    val_ages = frame.loc[frame["split"] == "val", "age"].dropna()
    cuts = np.quantile(val_ages, [1 / 3, 2 / 3])  # quantiles of the validation rows
    from fairaudit.data.binning import bin_labels

    assert set(thresholds["thresholds"]) <= {*bin_labels(cuts), "unknown"}
    assert len(set(thresholds["thresholds"]) & set(bin_labels(cuts))) == 3
    comparison = json.loads((tmp_path / "m" / "comparison.json").read_text())
    assert any("have no match in metadata file" in w for w in comparison["warnings"])
