"""Loading multimodal manifests: presence flags, and errors that name the row and the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairaudit.data.manifest import load_manifest, load_training_manifests
from fairaudit.errors import InputError
from fairaudit.models.features import read_image


@pytest.fixture
def copy(cohort_dir, tmp_path) -> Path:
    dst = tmp_path / "c"
    shutil.copytree(cohort_dir, dst)
    return dst


def test_load_manifest_sets_root_and_modalities(cohort_dir) -> None:
    ds = load_manifest(cohort_dir / "test.csv", label="diagnosis", sensitive="sex,race", cluster="patient_id")
    frame = pd.read_csv(cohort_dir / "test.csv", keep_default_na=False)
    assert ds.root == cohort_dir.resolve()
    assert set(ds.modalities) == {"image", "note", "labs"}
    np.testing.assert_array_equal(ds.modalities["image"], (frame["image_path"] != "").to_numpy())
    np.testing.assert_array_equal(ds.modalities["note"], (frame["note"] != "").to_numpy())
    assert ds.n_rows == len(frame) and ds.clusters is not None


def test_directory_needs_manifest_csv(cohort_dir, copy) -> None:
    with pytest.raises(InputError, match=r"holds no manifest.csv.*test.csv"):
        load_manifest(cohort_dir, label="diagnosis", sensitive="race")
    shutil.copy(copy / "test.csv", copy / "manifest.csv")
    assert load_manifest(copy, label="diagnosis", sensitive="race").n_rows == len(pd.read_csv(copy / "test.csv"))


def test_missing_model_column_lists_existing_columns(copy) -> None:
    frame = pd.read_csv(copy / "test.csv").drop(columns=["note"])
    frame.to_csv(copy / "test.csv", index=False)
    with pytest.raises(InputError, match=r"column 'note'.*the columns are: patient_id"):
        load_manifest(copy / "test.csv", label="diagnosis", sensitive="race")


def _first_image_row(path: Path) -> tuple[int, str]:
    frame = pd.read_csv(path, keep_default_na=False)
    i = int(np.flatnonzero((frame["image_path"] != "").to_numpy())[0])
    return i, frame["image_path"].iloc[i]


def test_missing_image_file_names_row_and_file(copy) -> None:
    i, rel = _first_image_row(copy / "test.csv")
    (copy / rel).unlink()
    with pytest.raises(InputError) as exc:
        load_manifest(copy / "test.csv", label="diagnosis", sensitive="race")
    assert f"data row {i + 1}" in str(exc.value) and rel in str(exc.value)


@pytest.mark.parametrize("damage", ["garbage", "rgb", "shape", "npy_object"])
def test_bad_images_are_input_errors_naming_row_and_file(copy, damage) -> None:
    i, rel = _first_image_row(copy / "test.csv")
    p = copy / rel
    if damage == "garbage":
        p.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        words = "cannot be read"
    elif damage == "rgb":
        Image.new("RGB", (24, 24)).save(p)
        words = "single-channel"
    elif damage == "shape":
        Image.new("L", (20, 24)).save(p)
        words = "shape (24, 20)"
    else:
        p = p.with_suffix(".npy")
        np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        words = "cannot be read"
    with pytest.raises(InputError) as exc:
        read_image(p, row=i, expected=(24, 24), source="manifest 'test.csv'")
    msg = str(exc.value)
    assert words in msg and f"data row {i + 1}" in msg and str(p) in msg and "\n" not in msg


def test_npy_images_are_read(tmp_path) -> None:
    arr = np.linspace(0, 1, 24 * 24, dtype=np.float32).reshape(24, 24)
    np.save(tmp_path / "x.npy", arr)
    np.testing.assert_array_equal(read_image(tmp_path / "x.npy", row=0, expected=(24, 24), source="m"), arr)
    np.save(tmp_path / "u.npy", (arr * 255).astype(np.uint8))
    assert read_image(tmp_path / "u.npy", row=0, expected=(24, 24), source="m").max() == 1.0


def test_training_manifests_from_dir_or_split_column(cohort_dir, copy) -> None:
    train, val = load_training_manifests(cohort_dir, label="diagnosis", sensitive="race")
    assert train.n_rows == len(pd.read_csv(cohort_dir / "train.csv"))
    frames = [pd.read_csv(copy / f"{s}.csv") for s in ("train", "validation", "test")]
    pd.concat(frames).to_csv(copy / "all.csv", index=False)
    t2, v2 = load_training_manifests(copy / "all.csv", label="diagnosis", sensitive="race")
    assert (t2.n_rows, v2.n_rows) == (train.n_rows, val.n_rows)
    assert set(t2.frame["split"]) == {"train"} and set(v2.frame["split"]) == {"validation"}
    frames[0].to_csv(copy / "only_train.csv", index=False)
    with pytest.raises(InputError, match="split = 'validation'"):
        load_training_manifests(copy / "only_train.csv", label="diagnosis", sensitive="race")
