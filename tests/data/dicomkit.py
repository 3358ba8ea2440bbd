"""Writing test DICOM files with pydicom's own writer (uncompressed unless told otherwise).

``encode_png_pixels`` turns the 8-bit pixels ``v`` of a PNG into stored values and tags that
fairaudit must read back as exactly ``v / 255`` (the PNG's intensities):

``"8bit"``
    MONOCHROME2, 8 bits stored, no rescale, no window: ``v / 255``.
``"16bit"``
    MONOCHROME2, 16 bits stored (``v * 257``), no rescale, no window: ``v * 257 / 65535``.
``"16bit-rescale"``
    16 bits stored ``s = 200 v + 1000`` with Rescale Slope 0.5 and Intercept -1024 (modality
    values ``100 v - 524``) and a file window covering exactly ``[-524, 24976]``.
``"monochrome1"``
    MONOCHROME1, 8 bits stored ``255 - v`` (inverted display): ``v / 255`` after inversion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

VARIANTS = ("8bit", "16bit", "16bit-rescale", "monochrome1")


def write_dicom(
    path: Path,
    stored: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    slope: float | None = None,
    intercept: float | None = None,
    window: tuple[float, float] | None = None,
    extra: dict | None = None,
) -> Path:
    """Write ``stored`` (uint8 / uint16 / int16, 2-D) as an uncompressed single-frame DICOM."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    bits = bits_stored or stored.dtype.itemsize * 8
    ds.set_pixel_data(stored, photometric_interpretation=photometric, bits_stored=bits)
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept or 0.0
        ds.RescaleType = "US"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def encode_png_pixels(path: Path, v: np.ndarray, variant: str) -> Path:
    """Write the 8-bit pixels ``v`` as a DICOM that reads back as ``v / 255`` (see above)."""
    v = np.asarray(v, dtype=np.uint8)
    if variant == "8bit":
        return write_dicom(path, v)
    if variant == "16bit":
        return write_dicom(path, v.astype(np.uint16) * 257)
    if variant == "16bit-rescale":
        stored = (v.astype(np.uint16) * 200 + 1000).astype(np.uint16)
        low, high = 0.5 * 1000 - 1024, 0.5 * (255 * 200 + 1000) - 1024
        width = high - low + 1
        return write_dicom(path, stored, slope=0.5, intercept=-1024,
                           window=(low + 0.5 + (width - 1) / 2, width))
    if variant == "monochrome1":
        return write_dicom(path, (255 - v).astype(np.uint8), photometric="MONOCHROME1")
    raise ValueError(variant)
