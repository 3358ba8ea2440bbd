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
