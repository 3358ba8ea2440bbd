"""Multimodal manifests: one row per study, pointing at its image, with its note and labs.

The manifest format
-------------------
A CSV or Parquet table with one row per study. Columns (names from :class:`ManifestSchema`):

``image_path``
    Path of a grayscale PNG, NPY or DICOM image (see :mod:`fairaudit.data.images`), relative
    to the manifest's folder (or absolute). Empty when the study has no image.
``note``
    Free-text clinical note. Empty when the study has no note.
``lab_*``
    One numeric column per lab value (e.g. ``lab_hemoglobin``); empty cells are missing values.
    A study whose labs are all missing has no lab modality.
``sex``, ``age``
    Covariates the lab encoder uses (lab reference ranges depend on sex).

plus the label, the protected attributes and, typically, ``patient_id`` and ``study_id``.

Choosing a file
---------------
``path`` is the manifest file, or a directory holding ``manifest.csv`` (or ``manifest.parquet``).
A cohort written by ``fairaudit sample-data`` holds one manifest per split (``train.csv``,
``validation.csv``, ``test.csv``): name the split's file, e.g. ``--data DIR/test.csv``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fairaudit.data.binning import BinsSpec
from fairaudit.data.dataset import AuditDataset, from_frame
from fairaudit.data.tables import file_sha256, read_table, require_columns
from fairaudit.errors import InputError

MANIFEST_NAMES = ("manifest.csv", "manifest.parquet")
"""File names looked for when ``path`` is a directory."""


@dataclass(frozen=True)
class ManifestSchema:
    """Column names of a multimodal manifest."""

    image: str = "image_path"
    note: str = "note"
    sex: str = "sex"
    age: str = "age"
    lab_prefix: str = "lab_"

    def lab_columns(self, frame: pd.DataFrame) -> list[str]:
        """The lab columns of ``frame``, in table order."""
        return [c for c in frame.columns if str(c).startswith(self.lab_prefix)]

    def required(self) -> list[str]:
        return [self.image, self.note, self.sex, self.age]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ManifestSchema:
        return cls(**{f.name: str(d[f.name]) for f in dataclasses.fields(cls) if f.name in d})


def _nonempty_text(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    return (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)


def modality_presence(
    frame: pd.DataFrame, schema: ManifestSchema, lab_columns: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Which rows have each modality: a non-empty image path, a non-empty note, any lab value."""
    labs = list(lab_columns) if lab_columns is not None else schema.lab_columns(frame)
    if labs:
        values = frame[labs].apply(pd.to_numeric, errors="coerce")
        has_labs = values.notna().any(axis=1).to_numpy(dtype=bool)
    else:
        has_labs = np.zeros(len(frame), dtype=bool)
    return {
        "image": _nonempty_text(frame[schema.image]),
        "note": _nonempty_text(frame[schema.note]),
        "labs": has_labs,
    }


def resolve_manifest(path: str | Path) -> Path:
    """The manifest file for ``path`` (a file, or a directory holding ``manifest.csv``)."""
    p = Path(path)
    if not p.is_dir():
        return p
    for name in MANIFEST_NAMES:
        if (p / name).is_file():
            return p / name
    tables = sorted(x.name for x in p.iterdir() if x.suffix.lower() in (".csv", ".parquet"))
    hint = (
        f"; it holds {', '.join(tables)}: give one of them, e.g. --data {p / tables[0]}"
        if tables
        else ""
    )
    raise InputError(f"directory '{p}' holds no {' or '.join(MANIFEST_NAMES)}{hint}.")


def check_manifest_frame(
    frame: pd.DataFrame, source: str, root: Path | None, schema: ManifestSchema
) -> None:
    """Raise InputError if model columns are missing or a referenced image file does not exist."""
    require_columns(frame, schema.required(), source, "the manifest format")
    if not schema.lab_columns(frame):
        existing = ", ".join(map(str, frame.columns))
        raise InputError(
            f"{source} has no lab columns (names starting with '{schema.lab_prefix}'); "
            f"the columns are: {existing}."
        )
    present = _nonempty_text(frame[schema.image])
    paths = frame[schema.image].astype("string").str.strip()
    for i in np.flatnonzero(present):
        rel = Path(str(paths.iloc[i]))
        full = rel if rel.is_absolute() or root is None else root / rel
        if not full.is_file():
            raise InputError(
                f"data row {i + 1} of {source}: image '{full}' does not exist; image paths "
                "resolve against the manifest's folder."
            )


def load_manifest(
    path: str | Path,
    *,
    label: str,
    sensitive: str | list[str] | tuple[str, ...],
    cluster: str | None = None,
    schema: ManifestSchema | None = None,
    allow_many_groups: bool = False,
    metadata: str | Path | pd.DataFrame | None = None,
    on: str | None = None,
    bins: BinsSpec | None = None,
    pos_label: object | None = None,
    check_inputs: bool = True,
) -> AuditDataset:
    """Read and validate a multimodal manifest into an :class:`AuditDataset`.

    Parameters
    ----------
    path : str or Path
        A CSV/Parquet manifest, or a directory holding ``manifest.csv`` / ``manifest.parquet``.
    label : str
        Binary label column.
    sensitive : str or list of str
        Protected attribute columns.
    cluster : str, optional
        Patient identifier column (resample patients, not studies).
    schema : ManifestSchema, optional
        Column names of the model inputs; the defaults match ``fairaudit sample-data``.
    allow_many_groups : bool
        Accept sensitive columns with many values (see :func:`~fairaudit.data.dataset.from_frame`).
    metadata, on, bins, pos_label : optional
        Demographics from a separate table, binned numeric attributes and text labels, as in
        :func:`~fairaudit.data.dataset.from_frame`. Columns joined from the metadata are in the
        dataset's frame, so the model reads them too (e.g. ``sex`` from a patient table).
    check_inputs : bool
        Check the built-in model's columns and image files (``schema``). ``False`` for another
        model (a TorchScript, ONNX or Python adapter), which checks the columns it reads itself;
        the dataset then has no ``modalities``.

    Returns
    -------
    AuditDataset
        With ``root`` set to the manifest's folder and ``modalities`` giving, for ``"image"``,
        ``"note"`` and ``"labs"``, which rows have that modality.

    Raises
    ------
    InputError
        If the file cannot be read, a model column is missing (the message lists the existing
        columns), or an image file named in a row does not exist (the message names the row and
        the file). Unreadable images and images of the wrong shape are reported, with row and
        file, when the model reads them.
    """
    schema = schema or ManifestSchema()
    p = resolve_manifest(path)
    frame = read_table(p, "manifest")
    source = f"manifest '{p}'"
    root = p.resolve().parent
    if check_inputs and metadata is None:
        check_manifest_frame(frame, source, root, schema)
    dataset = from_frame(
        frame,
        label=label,
        sensitive=sensitive,
        cluster=cluster,
        source=source,
        root=root,
        sha256=file_sha256(p),
        allow_many_groups=allow_many_groups,
        metadata=metadata,
        on=on,
        bins=bins,
        pos_label=pos_label,
    )
    if not check_inputs:
        return dataset
    if metadata is not None:  # the model columns may come from the metadata
        check_manifest_frame(dataset.frame, source, root, schema)
    return dataclasses.replace(dataset, modalities=modality_presence(dataset.frame, schema))


TRAINING_SPLITS = ("train", "validation")


def load_training_manifests(
    path: str | Path,
    *,
    label: str,
    sensitive: str | list[str] | tuple[str, ...],
    split_column: str = "split",
    schema: ManifestSchema | None = None,
) -> tuple[AuditDataset, AuditDataset]:
    """The training and validation splits for ``fairaudit train``.

    ``path`` is either a cohort directory holding ``train.csv`` and ``validation.csv`` (as
    written by ``fairaudit sample-data``), or one manifest with a ``split`` column whose values
    include ``train`` and ``validation`` (other rows, e.g. ``test``, are ignored: the test split
    is never read for training).
    """
    schema = schema or ManifestSchema()
    p = Path(path)
    if p.is_dir() and all((p / f"{s}.csv").is_file() for s in TRAINING_SPLITS):
        train, val = (load_manifest(p / f"{s}.csv", label=label, sensitive=sensitive, schema=schema)
                      for s in TRAINING_SPLITS)
        return train, val
    p = resolve_manifest(p)
    frame = read_table(p, "manifest")
    source = f"manifest '{p}'"
    require_columns(frame, [split_column], source, "the training split column")
    digest = file_sha256(p)
    root = p.resolve().parent
    out = []
    for s in TRAINING_SPLITS:
        sub = frame[frame[split_column].astype(str).str.strip() == s].reset_index(drop=True)
        if len(sub) == 0:
            found = ", ".join(sorted(map(str, frame[split_column].dropna().unique())))
            raise InputError(f"{source} has no rows with {split_column} = '{s}' (found: {found}).")
        src = f"{source} ({split_column} = {s})"
        check_manifest_frame(sub, src, root, schema)
        ds = from_frame(sub, label=label, sensitive=sensitive, source=src, root=root,
                        sha256=f"{digest}:{s}")
        out.append(dataclasses.replace(ds, modalities=modality_presence(sub, schema)))
    return out[0], out[1]
