"""fairaudit.models.features: images read safely, preprocessing that round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fairaudit.errors import InputError
from fairaudit.models.features import MODALITIES, Preprocessing, read_image


def _read(path: Path, expected=None) -> np.ndarray:
    return read_image(path, row=2, expected=expected, source="m.csv")


def test_images_are_scaled_to_the_unit_interval(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 255], [51, 102]], dtype=np.uint8)).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", np.array([[0, 65535]], dtype=np.uint16))
    np.testing.assert_allclose(_read(tmp_path / "a.png"), [[0, 1], [0.2, 0.4]], atol=1e-7)
    np.testing.assert_allclose(_read(tmp_path / "b.npy"), [[0, 1]])


def test_bad_images_are_errors_naming_the_row_and_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"data row 3 of m.csv: image '.*nope.png' does not exist"):
        _read(tmp_path / "nope.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="mode RGB; expected a single-channel"):
        _read(tmp_path / "rgb.png")
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 0.0]]))
    with pytest.raises(InputError, match="NaN or infinite"):
        _read(tmp_path / "nan.npy")
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(InputError, match="the model expects a 8x8"):
        _read(tmp_path / "small.png", expected=(8, 8))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot be read as an image"):
        _read(tmp_path / "junk.png")


def test_preprocessing_round_trips_through_the_checkpoint_json(trained) -> None:
    prep = trained.preprocessing
    assert isinstance(prep, Preprocessing)
    again = Preprocessing.from_dict(prep.to_dict())
    assert again.to_dict() == prep.to_dict()
    assert again.n_covariates == prep.n_covariates
    assert MODALITIES == ("image", "note", "labs")


def test_checkpoints_keep_the_dicom_window_and_older_ones_read_without_it(trained) -> None:
    import dataclasses

    windowed = dataclasses.replace(trained.preprocessing, image_window=(40.0, 400.0))
    d = windowed.to_dict()
    assert d["image_window"] == [40.0, 400.0]
    assert Preprocessing.from_dict(d).image_window == (40.0, 400.0)
    del d["image_window"]  # a checkpoint written before the window existed
    assert Preprocessing.from_dict(d).image_window is None


def test_encoding_reads_dicom_images_through_the_checkpoints_window(trained, test_set, tmp_path) -> None:
    """The window chosen at training is the one inference uses: a DICOM image's encoded pixels
    are its intensities under that window, not under the file's own."""
    import dataclasses

    from fairaudit.models.features import encode_rows
    from tests.data.dicomkit import write_dicom

    prep = trained.preprocessing
    h, w = prep.image_size
    values = np.linspace(-1000, 1000, h * w).reshape(h, w).astype(np.int16)
    path = write_dicom(tmp_path / "ct.dcm", values, window=(0.0, 2000.0))  # the file's own window
    frame = test_set.frame.copy()
    col = prep.schema.image
    frame[col] = frame[col].astype(object)
    frame.loc[frame.index[0], col] = str(path)
    rows = np.array([0])
    own = encode_rows(frame, test_set.root, rows, prep, source="t")["image"][0, 0]
    narrow = dataclasses.replace(prep, image_window=(40.0, 400.0))
    windowed = encode_rows(frame, test_set.root, rows, narrow, source="t")["image"][0, 0]
    for window, got in (((0.0, 2000.0), own), ((40.0, 400.0), windowed)):
        expected = read_image(path, row=0, expected=(h, w), source="t", window=window)
        np.testing.assert_allclose(got, (expected - prep.pixel_mean) / prep.pixel_std, rtol=1e-6)
    assert not np.allclose(own, windowed)
