"""Reading one grayscale image of a manifest row: PNG (and other Pillow formats), NPY, DICOM.

Every reader returns a 2-D float32 array of intensities in [0, 1], the range the models
standardise from:

PNG and other Pillow formats
    8-bit images are divided by 255, 16-bit images by 65535; other modes are refused.
NPY
    uint8 / uint16 arrays as above; float arrays are taken as they are (expected in [0, 1]).
DICOM (``.dcm``, ``.dicom``, or any file with the ``DICM`` preamble; needs pydicom)
    1. the stored values go through the modality transform (Rescale Slope / Intercept, or a
       Modality LUT Sequence), giving modality units (e.g. Hounsfield units);
    2. a window chooses the range of interest, in this order: the caller's ``window``
       ``(center, width)`` (e.g. from a model config), else the file's VOI LUT Sequence, else
       the file's Window Center / Width (first value; VOI LUT Function LINEAR, LINEAR_EXACT
       or SIGMOID as in DICOM PS3.3 C.11.2.1), else the full range the stored bits can hold
       after the modality transform;
    3. the window's ``[low, high]`` maps linearly onto ``[0, 1]`` (values outside are clipped;
       a VOI LUT's output range ``[0, 2**bits - 1]`` likewise); MONOCHROME1 images (where high
       values are dark) are inverted, so 1 is always bright.

    So an 8-bit MONOCHROME2 DICOM without rescale or window reads exactly as the 8-bit PNG with
    the same pixels (both divide by 255), and a 16-bit one as the 16-bit PNG.
    Compressed transfer syntaxes need a decoder (pydicom decodes RLE itself and JPEG / JPEG 2000
    through Pillow; JPEG-LS and others need ``pylibjpeg`` or ``python-gdcm``).

Errors are :class:`~fairaudit.errors.InputError` naming the manifest row and the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit.errors import ConfigError, InputError

DICOM_SUFFIXES = (".dcm", ".dicom")
"""Suffixes always read as DICOM; other files are DICOM when they carry the ``DICM`` preamble."""

PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
"""Suffixes read with Pillow without looking for a DICOM preamble."""

DICOM_INSTALL = "pip install 'fairaudit-med[dicom]'"
"""The install command printed when a manifest names DICOM files and pydicom is missing."""

Window = tuple[float, float]
"""A display window ``(center, width)`` in modality units (after rescale slope / intercept)."""


def is_dicom(path: Path) -> bool:
    """Whether ``path`` is read as DICOM: by suffix, else by the ``DICM`` magic at byte 128."""
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        return True
    if suffix == ".npy" or suffix in PILLOW_SUFFIXES:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def read_image(
    path: Path,
    *,
    row: int,
    expected: tuple[int, int] | None,
    source: str,
    window: Window | None = None,
) -> np.ndarray:
    """Read one grayscale image as a float32 array of intensities in [0, 1].

    Parameters
    ----------
    path : Path
        A PNG (or other single-channel Pillow format), NPY or DICOM file.
    row : int
        0-based data row of the manifest, for messages (shown 1-based).
    expected : tuple of int, optional
        The (height, width) the model needs; any other shape is an error.
    source : str
        The manifest, for messages.
    window : tuple of float, optional
        ``(center, width)`` for DICOM files, overriding the file's own window (ignored for
        other formats, whose intensities carry no modality units).

    Raises
    ------
    InputError
        The file is missing, unreadable or corrupted, compressed without an installed decoder,
        not single-channel, of the wrong shape, or holds NaN / infinite values.
    ConfigError
        The file is DICOM and pydicom is not installed (the message gives the install command),
        or ``window`` has a width below 1.
    """
    where = f"data row {row + 1} of {source}: image '{path}'"
    if not path.is_file():
        raise InputError(f"{where} does not exist; image paths resolve against the manifest's folder.")
    if is_dicom(path):
        img = _read_dicom(path, where, window)
    else:
        img = _scale_codes(_read_plain(path, where), where)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if expected is not None and img.shape != tuple(expected):
        raise InputError(
            f"{where} has shape {tuple(img.shape)}; the model expects a {expected[0]}x{expected[1]} "
            "grayscale image."
        )
    if img.ndim != 2:
        raise InputError(f"{where} has shape {tuple(img.shape)}; expected a 2-D grayscale image.")
    if not np.isfinite(img).all():
        raise InputError(f"{where} contains NaN or infinite values.")
    return img


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _read_plain(path: Path, where: str) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        from PIL import Image

        with Image.open(path) as im:
            if im.mode not in ("L", "I;16", "I", "F"):
                raise InputError(f"{where} has mode {im.mode}; expected a single-channel grayscale image.")
            return np.asarray(im)
    except InputError:
        raise
    except Exception as exc:  # PIL and numpy raise many types on corrupt files
        raise InputError(f"{where} cannot be read as an image ({_short(exc)}).") from None


def _scale_codes(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32)
    raise InputError(f"{where} has unsupported dtype {arr.dtype}; use uint8, uint16 or float.")


# -- DICOM ----------------------------------------------------------------------------------


def _pydicom(where: str) -> Any:
    try:
        import pydicom
    except ImportError:
        raise ConfigError(
            f"{where} is DICOM, and reading DICOM needs pydicom, which is not installed: "
            f"{DICOM_INSTALL}."
        ) from None
    return pydicom


def _read_dicom(path: Path, where: str, window: Window | None) -> np.ndarray:
    pydicom = _pydicom(where)
    forced = False
    try:
        try:
            ds = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:
            # A .dcm file without the 128-byte preamble: read what is there.
            forced = True
            ds = pydicom.dcmread(path, force=True)
    except Exception as exc:  # pydicom raises many types on truncated or foreign files
        raise InputError(f"{where} cannot be read as DICOM ({_short(exc)}).") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        if forced:
            raise InputError(f"{where} cannot be read as DICOM (no 'DICM' preamble and no pixel "
                             "data: not a DICOM file, or corrupted).")
        raise InputError(f"{where} is a DICOM file without pixel data (not an image).")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InputError(
            f"{where} has photometric interpretation {photometric}; expected a grayscale "
            "image (MONOCHROME1 or MONOCHROME2)."
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise InputError(f"{where} has {frames} frames; expected a single 2-D image.")
    stored = _pixel_array(ds, where)
    values, full_range = _modality(ds, stored, where)
    return _window(ds, values, full_range, window, photometric == "MONOCHROME1", where)


def _pixel_array(ds: Any, where: str) -> np.ndarray:
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    try:
        return np.asarray(ds.pixel_array)
    except Exception as exc:  # decoders raise RuntimeError, NotImplementedError, ValueError, ...
        if syntax is not None and syntax.is_compressed:
            raise InputError(
                f"{where} is compressed with {syntax.name} ({syntax}) and cannot be decoded "
                f"({_short(exc)}); install a decoder (pip install pylibjpeg pylibjpeg-libjpeg "
                "pylibjpeg-openjpeg, or python-gdcm) or store it uncompressed."
            ) from None
        raise InputError(f"{where} has unreadable pixel data ({_short(exc)}).") from None


def _apply_lut(values: np.ndarray, item: Any, where: str, what: str) -> tuple[np.ndarray, float]:
    """Look ``values`` up in a Modality or VOI LUT item; also the LUT's largest output value.

    The LUT Descriptor gives the number of entries (0 means 65536), the first value mapped and
    the bits per entry; values below the first entry take the first, above the last the last.
    """
    try:
        n, first, bits = (int(v) for v in item.LUTDescriptor)
        raw = item.LUTData
        if isinstance(raw, bytes | bytearray):
            table = np.frombuffer(raw, dtype="<u2" if len(raw) >= 2 * (n or 65536) else "u1")
        else:
            table = np.asarray(raw if isinstance(raw, Sequence) else [raw], dtype=np.float64)
        table = table.astype(np.float64)[: n or 65536]
        if table.size == 0 or not 1 <= bits <= 16:
            raise ValueError(f"{table.size} entries, {bits} bits per entry")
    except Exception as exc:  # missing or malformed descriptor / data
        raise InputError(f"{where} has an unusable {what} ({_short(exc)}).") from None
    index = np.clip(np.rint(values) - first, 0, table.size - 1).astype(np.int64)
    return table[index], float(2**bits - 1)


def _modality(ds: Any, stored: np.ndarray, where: str) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Modality values (float64) and the range the stored bits can hold after the transform."""
    if np.issubdtype(stored.dtype, np.floating):
        return stored.astype(np.float64), None  # float pixel data: already in modality units
    bits = int(ds.get("BitsStored", stored.dtype.itemsize * 8))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if "ModalityLUTSequence" in ds and len(ds.ModalityLUTSequence):
        out, top = _apply_lut(stored.astype(np.float64), ds.ModalityLUTSequence[0], where, "modality LUT")
        return out, (0.0, top)
    try:
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where} has an invalid rescale slope or intercept ({_short(exc)}).") from None
    if not (np.isfinite(slope) and np.isfinite(intercept)) or slope == 0.0:
        raise InputError(f"{where} has rescale slope {slope:g} and intercept {intercept:g}; "
                         "expected finite values and a non-zero slope.")
    values = stored.astype(np.float64)
    if slope != 1.0 or intercept != 0.0:
        values = values * slope + intercept
    ends = sorted((lo * slope + intercept, hi * slope + intercept))
    return values, (float(ends[0]), float(ends[1]))


def _first(value: Any) -> float:
    """The first value of a possibly multi-valued DICOM element."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return float(value[0])
    return float(value)


def _window(ds: Any, values: np.ndarray, full_range: tuple[float, float] | None,
            window: Window | None, monochrome1: bool, where: str) -> np.ndarray:
    """Apply the window (see the module docstring) and map it onto [0, 1]."""
    function = "LINEAR"
    if window is not None:
        center, width = float(window[0]), float(window[1])
        if not (np.isfinite(center) and np.isfinite(width)) or width < 1.0:
            raise ConfigError(f"DICOM window must be finite with width >= 1; got center "
                              f"{center:g}, width {width:g}.")
    elif "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        out, top = _apply_lut(values, ds.VOILUTSequence[0], where, "VOI LUT")
        return _finish(np.clip(out / top, 0.0, 1.0), monochrome1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        try:
            center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        except (TypeError, ValueError, IndexError) as exc:
            raise InputError(f"{where} has an invalid window center / width ({_short(exc)}).") from None
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        if width <= 0 or (function == "LINEAR" and width < 1):
            raise InputError(f"{where} has window width {width:g}; expected at least 1.")
    elif full_range is not None:
        low, high = full_range
        return _finish(_linear(values, low, high, monochrome1), False)
    else:
        return _finish(values, monochrome1)  # float pixel data without a window: as it is
    if function == "SIGMOID":
        y = 1.0 / (1.0 + np.exp(np.clip(-4.0 * (values - center) / width, -700, 700)))
        return _finish(y, monochrome1)
    if function == "LINEAR_EXACT":
        return _finish(_linear(values, center - width / 2, center + width / 2, monochrome1), False)
    if function != "LINEAR":
        raise InputError(f"{where} has VOI LUT function {function}; expected LINEAR, "
                         "LINEAR_EXACT or SIGMOID.")
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    if high == low:  # width 1: a threshold
        y = (values > low).astype(np.float64)
        return _finish(y, monochrome1)
    return _finish(_linear(values, low, high, monochrome1), False)


def _linear(values: np.ndarray, low: float, high: float, invert: bool) -> np.ndarray:
    """``[low, high]`` onto ``[0, 1]`` (``[1, 0]`` when inverting), clipped."""
    y = (high - values) / (high - low) if invert else (values - low) / (high - low)
    return np.clip(y, 0.0, 1.0)


def _finish(y: np.ndarray, invert: bool) -> np.ndarray:
    return (1.0 - y if invert else y).astype(np.float32)
