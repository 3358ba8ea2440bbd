"""From manifest rows to model tensors: image reading, note tokens, standardised labs.

The preprocessing statistics (lab and age means, pixel mean and scale, tokenizer) are fitted on
the training split only and travel in the checkpoint's JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fairaudit.data import AuditDataset, images
from fairaudit.data.manifest import ManifestSchema, modality_presence
from fairaudit.errors import InputError
from fairaudit.models.tokenizer import WordTokenizer

MODALITIES: tuple[str, ...] = ("image", "note", "labs")
"""Modality order used everywhere in the model (latent token i is ``MODALITIES[i]``)."""


@dataclass(frozen=True)
class Preprocessing:
    """Everything needed to turn a manifest row into tensors, fitted on training data.

    Attributes
    ----------
    schema : ManifestSchema
        Column names (image path, note, sex, age, lab prefix).
    lab_columns : tuple of str
        The lab columns the model was trained on, in input order.
    lab_mean, lab_std : tuple of float
        Training-split statistics used to standardise each lab.
    sex_values : tuple of str
        Sex categories seen in training (one-hot input; an unseen value gives all zeros).
    age_mean, age_std : float
    pixel_mean, pixel_std : float
        Image intensities (in [0, 1]) are standardised with these.
    image_size : tuple of int
        Expected (height, width); any other shape is an input error.
    tokenizer : WordTokenizer
    image_window : tuple of float, optional
        ``(center, width)`` applied to every DICOM image, in training and at inference alike
        (``fairaudit train --dicom-window``); None uses each file's own window.
    """

    schema: ManifestSchema
    lab_columns: tuple[str, ...]
    lab_mean: tuple[float, ...]
    lab_std: tuple[float, ...]
    sex_values: tuple[str, ...]
    age_mean: float
    age_std: float
    pixel_mean: float
    pixel_std: float
    image_size: tuple[int, int]
    tokenizer: WordTokenizer = field(repr=False)
    image_window: tuple[float, float] | None = None

    @property
    def n_covariates(self) -> int:
        return len(self.sex_values) + 1

    def to_dict(self) -> dict:
        return {
            "schema": self.schema.to_dict(),
            "lab_columns": list(self.lab_columns),
            "lab_mean": list(self.lab_mean),
            "lab_std": list(self.lab_std),
            "sex_values": list(self.sex_values),
            "age_mean": self.age_mean,
            "age_std": self.age_std,
            "pixel_mean": self.pixel_mean,
            "pixel_std": self.pixel_std,
            "image_size": list(self.image_size),
            "tokenizer": self.tokenizer.to_dict(),
            "image_window": list(self.image_window) if self.image_window is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        return cls(
            schema=ManifestSchema.from_dict(d["schema"]),
            lab_columns=tuple(map(str, d["lab_columns"])),
            lab_mean=tuple(map(float, d["lab_mean"])),
            lab_std=tuple(map(float, d["lab_std"])),
            sex_values=tuple(map(str, d["sex_values"])),
            age_mean=float(d["age_mean"]),
            age_std=float(d["age_std"]),
            pixel_mean=float(d["pixel_mean"]),
            pixel_std=float(d["pixel_std"]),
            image_size=(int(d["image_size"][0]), int(d["image_size"][1])),
            tokenizer=WordTokenizer.from_dict(d["tokenizer"]),
            # Checkpoints written before the window existed read each file's own window.
            image_window=(None if d.get("image_window") is None
                          else (float(d["image_window"][0]), float(d["image_window"][1]))),
        )


def read_image(
    path: Path,
    *,
    row: int,
    expected: tuple[int, int] | None,
    source: str,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """Read one grayscale PNG, NPY or DICOM image as float32 in [0, 1].

    See :func:`fairaudit.data.images.read_image` (this name is kept for the model code).
    """
    return images.read_image(path, row=row, expected=expected, source=source, window=window)


def _lab_matrix(frame: pd.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna() & (frame[col].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"lab column '{col}' in {source} must be numeric; found {frame[col].iloc[i]!r} "
                f"at data row {i + 1}."
            )
        out[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def fit_preprocessing(
    frame: pd.DataFrame,
    root: Path | None,
    *,
    schema: ManifestSchema,
    source: str,
    image_size: tuple[int, int],
    max_note_len: int = 48,
    min_word_freq: int = 2,
    image_window: tuple[float, float] | None = None,
) -> Preprocessing:
    """Fit the standardisation statistics and the tokenizer on the training rows (DICOM images
    read with ``image_window``, which the preprocessing keeps for inference)."""
    lab_columns = schema.lab_columns(frame)
    labs = _lab_matrix(frame, lab_columns, source)
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(labs, axis=0), nan=0.0)
        std = np.nan_to_num(np.nanstd(labs, axis=0), nan=1.0)
    std = np.where(std > 1e-8, std, 1.0)
    age = pd.to_numeric(frame[schema.age], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    age_mean = float(np.nanmean(age)) if np.isfinite(age).any() else 0.0
    age_std = float(np.nanstd(age)) if np.isfinite(age).sum() > 1 else 1.0
    sex_values = tuple(sorted({str(v).strip() for v in frame[schema.sex].dropna() if str(v).strip()}))
    presence = modality_presence(frame, schema)
    notes = frame.loc[presence["note"], schema.note].astype(str).tolist()
    tokenizer = WordTokenizer.build(notes, max_len=max_note_len, min_freq=min_word_freq)
    # Pixel statistics from up to 256 training images (enough for two numbers).
    rows = np.flatnonzero(presence["image"])[:256]
    pixels = [
        read_image(_image_path(root, frame[schema.image].iloc[i]), row=int(i), expected=image_size,
                   source=source, window=image_window)
        for i in rows
    ]
    pix = np.stack(pixels) if pixels else np.zeros((1, *image_size), np.float32)
    return Preprocessing(
        schema=schema,
        lab_columns=tuple(lab_columns),
        lab_mean=tuple(float(x) for x in mean),
        lab_std=tuple(float(x) for x in std),
        sex_values=sex_values,
        age_mean=age_mean,
        age_std=max(age_std, 1e-8),
        pixel_mean=float(pix.mean()),
        pixel_std=max(float(pix.std()), 1e-6),
        image_size=tuple(image_size),  # type: ignore[arg-type]
        tokenizer=tokenizer,
        image_window=image_window,
    )


def _image_path(root: Path | None, value: object) -> Path:
    p = Path(str(value).strip())
    return p if p.is_absolute() or root is None else root / p


def encode_rows(
    frame: pd.DataFrame,
    root: Path | None,
    rows: np.ndarray,
    prep: Preprocessing,
    *,
    source: str,
) -> dict[str, np.ndarray]:
    """Arrays for the given row indices (images are read from disk here).

    Keys: ``image`` (B, 1, H, W) float32, ``tokens`` (B, L) int64, ``labs`` (B, K) float32
    (standardised, 0 where missing), ``lab_observed`` (B, K) float32, ``covariates`` (B, C)
    float32 (sex one-hot, standardised age), and ``present`` (B, 3) bool in :data:`MODALITIES`
    order.
    """
    sub = frame.iloc[rows]
    schema = prep.schema
    presence = modality_presence(sub, schema, lab_columns=prep.lab_columns)
    present = np.stack([presence[m] for m in MODALITIES], axis=1)
    h, w = prep.image_size
    images = np.zeros((len(rows), 1, h, w), dtype=np.float32)
    paths = sub[schema.image].to_numpy(dtype=object)
    for k in np.flatnonzero(present[:, 0]):
        img = read_image(_image_path(root, paths[k]), row=int(rows[k]), expected=(h, w), source=source,
                         window=prep.image_window)
        images[k, 0] = (img - prep.pixel_mean) / prep.pixel_std
    notes = [str(t) if ok else "" for t, ok in zip(sub[schema.note].tolist(), present[:, 1], strict=True)]
    tokens = prep.tokenizer.encode(notes)
    labs = _lab_matrix(sub, prep.lab_columns, source)
    observed = np.isfinite(labs)
    z = (labs - np.asarray(prep.lab_mean)) / np.asarray(prep.lab_std)
    z = np.where(observed, np.clip(z, -8.0, 8.0), 0.0)
    sex = sub[schema.sex].astype("string").str.strip().fillna("")
    cov = np.zeros((len(rows), prep.n_covariates), dtype=np.float32)
    for j, value in enumerate(prep.sex_values):
        cov[:, j] = (sex == value).to_numpy(dtype=bool, na_value=False)
    age = pd.to_numeric(sub[schema.age], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    cov[:, -1] = np.nan_to_num((age - prep.age_mean) / prep.age_std, nan=0.0)
    return {
        "image": images,
        "tokens": tokens,
        "labs": z.astype(np.float32),
        "lab_observed": observed.astype(np.float32),
        "covariates": cov,
        "present": present,
    }


def remove_modality(dataset: AuditDataset, modality: str, schema: ManifestSchema) -> AuditDataset:
    """A copy of ``dataset`` in which no study has ``modality`` (for ablations and benchmarks)."""
    frame = dataset.frame.copy()
    if modality == "image":
        frame[schema.image] = ""
    elif modality == "note":
        frame[schema.note] = ""
    else:
        for col in schema.lab_columns(frame):
            frame[col] = np.nan
    return dataclasses.replace(dataset, frame=frame, modalities=modality_presence(frame, schema))
