"""`fairaudit audit` end to end on inputs as users have them: DICOM studies, demographics in a
separate table, binned ages, logits and text labels. Exit codes and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from fairaudit.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "data"))
from dicomkit import VARIANTS, encode_png_pixels  # noqa: E402

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
