"""Reading DICOM images: rescale, MONOCHROME1, windows and LUTs, and errors naming row and file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from dicomkit import VARIANTS, encode_png_pixels, write_dicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import JPEGLSLossless

from fairaudit.data.images import is_dicom, read_image
from fairaudit.errors import ConfigError, InputError
from fairaudit.models import features

ROOT = Path(__file__).resolve().parents[2]
PNG = ROOT / "sample_data" / "cohort" / "images" / "P00004-0.png"


def _read(path: Path, **kw) -> np.ndarray:
    return read_image(path, row=4, expected=None, source="manifest 'm.csv'", **kw)


@pytest.fixture(scope="module")
def png_pixels() -> np.ndarray:
    with Image.open(PNG) as im:
        return np.asarray(im)


@pytest.mark.parametrize("variant", VARIANTS)
def test_dicom_reads_exactly_as_the_png(tmp_path, png_pixels, variant) -> None:
    path = encode_png_pixels(tmp_path / "a.dcm", png_pixels, variant)
    got = _read(path)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _read(PNG))


def test_read_image_in_models_delegates(tmp_path, png_pixels) -> None:
    path = encode_png_pixels(tmp_path / "a.dcm", png_pixels, "monochrome1")
    got = features.read_image(path, row=0, expected=(64, 64), source="s", window=None)
    np.testing.assert_array_equal(got, _read(PNG))


def test_dicom_without_suffix_is_recognised_by_its_preamble(tmp_path, png_pixels) -> None:
    path = encode_png_pixels(tmp_path / "study0001", png_pixels, "8bit")
    assert is_dicom(path) and not is_dicom(PNG)
    np.testing.assert_array_equal(_read(path), _read(PNG))


def test_rescale_is_applied_before_the_window(tmp_path) -> None:
    # CT-like: stored 0..4095, slope 1, intercept -1024 (HU); lung-ish window centre -600 width 1500.
    stored = np.array([[0, 1024], [2048, 4095]], dtype=np.uint16)
    path = write_dicom(tmp_path / "ct.dcm", stored, bits_stored=12, slope=1.0, intercept=-1024.0,
                       window=(-600.0, 1500.0))
    hu = stored.astype(np.float64) - 1024
    low, high = -600 - 0.5 - 1499 / 2, -600 - 0.5 + 1499 / 2
    expected = np.clip((hu - low) / (high - low), 0, 1)
    np.testing.assert_allclose(_read(path), expected, atol=1e-7)
    # Without the rescale the stored values would be windowed: every pixel but 0 saturates.
    assert 0.0 < _read(path)[0, 1] < 1.0


def test_caller_window_overrides_the_file(tmp_path) -> None:
    stored = np.array([[0, 100], [200, 300]], dtype=np.uint16)
    path = write_dicom(tmp_path / "w.dcm", stored, window=(5000.0, 100.0))
    assert (_read(path) == 0).all()  # the file's window lies above every pixel
    got = _read(path, window=(150.5, 301.0))  # [0, 300] onto [0, 1]
    np.testing.assert_allclose(got, stored / 300.0, atol=1e-7)


def test_caller_window_on_monochrome1_is_inverted(tmp_path) -> None:
    stored = np.array([[0, 300]], dtype=np.uint16)
    path = write_dicom(tmp_path / "m1.dcm", stored, photometric="MONOCHROME1")
    np.testing.assert_allclose(_read(path, window=(150.5, 301.0)), [[1.0, 0.0]])


def test_negative_slope_flips_the_full_range(tmp_path) -> None:
    stored = np.array([[0, 255]], dtype=np.uint8)
    path = write_dicom(tmp_path / "neg.dcm", stored, slope=-1.0, intercept=0.0)
    np.testing.assert_allclose(_read(path), [[1.0, 0.0]])


def test_signed_pixels_use_their_full_range(tmp_path) -> None:
    stored = np.array([[-32768, 0, 32767]], dtype=np.int16)
    path = write_dicom(tmp_path / "s.dcm", stored)
    np.testing.assert_allclose(_read(path), [[0.0, 32768 / 65535, 1.0]], atol=1e-7)


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_voi_lut_sequence_from_the_file(tmp_path, vr) -> None:
    stored = np.array([[0, 1, 2, 3]], dtype=np.uint8)
    item = Dataset()
    item.LUTDescriptor = [4, 0, 8]
    table = [0, 255, 51, 102]
    item.add_new(0x00283006, vr, table if vr == "US" else np.array(table, "<u2").tobytes())  # LUT Data
    path = write_dicom(tmp_path / "lut.dcm", stored, window=(1.0, 1.0),
                       extra={"VOILUTSequence": Sequence([item])})
    np.testing.assert_allclose(_read(path), [[0.0, 1.0, 0.2, 0.4]], atol=1e-7)


def test_sigmoid_and_linear_exact_functions(tmp_path) -> None:
    stored = np.array([[0, 50, 100]], dtype=np.uint8)
    sig = write_dicom(tmp_path / "sig.dcm", stored, window=(50.0, 40.0), extra={"VOILUTFunction": "SIGMOID"})
    np.testing.assert_allclose(_read(sig), 1 / (1 + np.exp(-4 * (stored - 50.0) / 40.0)), atol=1e-7)
    exact = write_dicom(tmp_path / "ex.dcm", stored, window=(50.0, 100.0),
                        extra={"VOILUTFunction": "LINEAR_EXACT"})
    np.testing.assert_allclose(_read(exact), [[0.0, 0.5, 1.0]], atol=1e-7)


def test_compressed_without_a_decoder_names_row_file_and_syntax(tmp_path) -> None:
    path = write_dicom(tmp_path / "ls.dcm", np.zeros((4, 4), np.uint8))
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b"\xff\xd8not-really-jpeg-ls\xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(path)
    with pytest.raises(InputError, match=r"data row 5 of manifest 'm.csv': image '.*ls\.dcm' is "
                                         r"compressed with JPEG-LS Lossless"):
        _read(path)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupted_dicom_is_an_input_error(tmp_path, png_pixels, damage) -> None:
    path = encode_png_pixels(tmp_path / "bad.dcm", png_pixels, "16bit")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 3000] if damage == "truncated" else b"\x00\x01" * 700)
    with pytest.raises(InputError, match=r"data row 5 of manifest 'm.csv': image '.*bad\.dcm'"):
        _read(path)


def test_colour_multiframe_and_no_pixels_are_refused(tmp_path) -> None:
    rgb = write_dicom(tmp_path / "rgb.dcm", np.zeros((4, 4, 3), np.uint8), photometric="RGB")
    with pytest.raises(InputError, match="photometric interpretation RGB"):
        _read(rgb)
    frames = write_dicom(tmp_path / "mf.dcm", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(InputError, match="has 2 frames"):
        _read(frames)
    empty = write_dicom(tmp_path / "e.dcm", np.zeros((4, 4), np.uint8))
    import pydicom

    ds = pydicom.dcmread(empty)
    del ds.PixelData
    ds.save_as(empty)
    with pytest.raises(InputError, match="without pixel data"):
        _read(empty)


def test_wrong_shape_for_the_model(tmp_path, png_pixels) -> None:
    path = encode_png_pixels(tmp_path / "a.dcm", png_pixels, "8bit")
    with pytest.raises(InputError, match=r"shape \(64, 64\); the model expects a 32x32"):
        read_image(path, row=0, expected=(32, 32), source="s")


def test_bad_caller_window_is_a_config_error(tmp_path, png_pixels) -> None:
    path = encode_png_pixels(tmp_path / "a.dcm", png_pixels, "8bit")
    with pytest.raises(ConfigError, match="width >= 1"):
        _read(path, window=(10.0, 0.0))


def test_missing_pydicom_gives_the_install_command(tmp_path, png_pixels, monkeypatch) -> None:
    path = encode_png_pixels(tmp_path / "a.dcm", png_pixels, "8bit")
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'fairaudit-med\[dicom\]'"):
        _read(path)
    np.testing.assert_array_equal(_read(PNG), _read(PNG))  # PNGs never need pydicom


def test_modality_lut_sequence_sets_values_and_range(tmp_path) -> None:
    item = Dataset()
    item.LUTDescriptor = [4, 0, 12]
    item.ModalityLUTType = "US"
    item.add_new(0x00283006, "US", [0, 1000, 2000, 4095])  # LUT Data
    path = write_dicom(tmp_path / "mlut.dcm", np.array([[0, 1, 2, 3]], dtype=np.uint8),
                       extra={"ModalityLUTSequence": Sequence([item])})
    np.testing.assert_allclose(_read(path), [[0.0, 1000 / 4095, 2000 / 4095, 1.0]], atol=1e-7)
