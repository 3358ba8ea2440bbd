"""Manifest rows -> the named input arrays a :class:`ModelConfig` describes.

Images go through :func:`fairaudit.models.features.read_image` (PNG, NPY and whatever else the
manifest accepts), so a tensor model reads exactly what the built-in model reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fairaudit.data.tables import require_columns
from fairaudit.errors import InputError
from fairaudit.models.adapters.config import InputSpec, ModelConfig
from fairaudit.models.features import read_image
from fairaudit.models.tokenizer import WordTokenizer

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset


def _nonempty(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    return (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)


def _numeric(frame: pd.DataFrame, columns: tuple[str, ...], rows: np.ndarray, source: str) -> np.ndarray:
    """(B, K) float64 with NaN where a cell is empty; text in a cell is an InputError."""
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & _nonempty(frame[col])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"column '{col}' in {source} must be numeric (a tabular model input); "
                             f"found {frame[col].iloc[i]!r} at data row {int(rows[i]) + 1}.")
        out[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import torch

    t = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    out = torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False,
                                          antialias=True)
    return out[0, 0].numpy()


class InputBuilder:
    """Builds the arrays of every input of ``config`` for a batch of manifest rows."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._tokenizers = {
            s.name: WordTokenizer(vocab=tuple(s.options["vocabulary"]), max_len=s.options["max_length"])
            for s in config.inputs if s.kind == "text"
        }

    def check_columns(self, dataset: AuditDataset) -> None:
        """InputError naming the config key when a column an input reads is not in the manifest."""
        where = f"model config '{self.config.path}'" if self.config.path else "the model config"
        for i, spec in enumerate(self.config.inputs):
            key = "columns" if spec.kind == "tabular" else "column"
            require_columns(dataset.frame, list(spec.columns), dataset.source,
                            f"inputs[{i}].{key} of {where}")

    def presence(self, dataset: AuditDataset) -> dict[str, np.ndarray] | None:
        """Which rows have each input a ``mask`` input reports (``{name: bool array}``), or
        None without mask inputs. Recorded per group like the built-in model's modalities."""
        names = [n for s in self.config.inputs if s.kind == "mask" for n in s.options["of"]]
        if not names:
            return None
        out: dict[str, np.ndarray] = {}
        rows = np.arange(dataset.n_rows)
        for name in dict.fromkeys(names):
            spec = self.config.input(name)
            if spec.kind == "tabular":
                values = _numeric(dataset.frame, spec.columns, rows, dataset.source)
                out[name] = np.isfinite(values).any(axis=1)
            else:
                out[name] = _nonempty(dataset.frame[spec.columns[0]])
        return out

    def build(self, dataset: AuditDataset, rows: np.ndarray) -> dict[str, np.ndarray]:
        """``{input name: array}`` for ``rows`` (indices into ``dataset``), in config order."""
        sub = dataset.frame.iloc[rows]
        present: dict[str, np.ndarray] = {}
        out: dict[str, np.ndarray] = {}
        for spec in self.config.inputs:
            if spec.kind == "mask":
                continue
            arr, has = self._one(spec, sub, rows, dataset)
            out[spec.name], present[spec.name] = arr, has
        for spec in self.config.inputs:
            if spec.kind == "mask":
                out[spec.name] = np.stack([present[n] for n in spec.options["of"]], axis=1)
        return {s.name: out[s.name].astype(s.dtype, copy=False) for s in self.config.inputs}

    def _one(self, spec: InputSpec, sub: pd.DataFrame, rows: np.ndarray,
             dataset: AuditDataset) -> tuple[np.ndarray, np.ndarray]:
        if spec.kind == "tabular":
            values = _numeric(sub, spec.columns, rows, dataset.source)
            has = np.isfinite(values).any(axis=1)
            return np.where(np.isnan(values), spec.options["fill"], values), has
        column = sub[spec.columns[0]]
        has = _nonempty(column)
        if spec.kind == "categorical":
            text = column.astype("string").str.strip().fillna("")
            cats = spec.options["categories"]
            onehot = np.zeros((len(sub), len(cats)), dtype=np.float32)
            for j, value in enumerate(cats):
                onehot[:, j] = (text == value).to_numpy(dtype=bool, na_value=False)
            return onehot, has
        if spec.kind == "text":
            notes = [str(t) if ok else "" for t, ok in zip(column.tolist(), has, strict=True)]
            return self._tokenizers[spec.name].encode(notes), has
        return self._images(spec, column, has, rows, dataset), has

    def _images(self, spec: InputSpec, column: pd.Series, has: np.ndarray, rows: np.ndarray,
                dataset: AuditDataset) -> np.ndarray:
        o = spec.options
        h, w = o["size"]
        c = o["channels"]
        images = np.full((len(rows), c, h, w), np.nan, dtype=np.float32)
        paths = column.to_numpy(dtype=object)
        kwargs = {"window": o["window"]} if o["window"] is not None else {}
        for k in np.flatnonzero(has):
            rel = Path(str(paths[k]).strip())
            path = rel if rel.is_absolute() or dataset.root is None else dataset.root / rel
            expected = None if o["resize"] else (h, w)
            img = _read_rgb(path, int(rows[k]), expected, dataset.source) if c == 3 else None
            if img is None:  # grayscale (PNG, NPY, DICOM...), repeated over the channels
                img = read_image(path, row=int(rows[k]), expected=expected, source=dataset.source,
                                 **kwargs)[None]
            if img.shape[1:] != (h, w):
                img = np.stack([_resize(x, (h, w)) for x in img])
            images[k] = img
        mean = np.asarray(o["mean"], dtype=np.float32).reshape(-1, 1, 1)
        std = np.asarray(o["std"], dtype=np.float32).reshape(-1, 1, 1)
        out = (images - mean) / std
        out[~has] = o["fill"]
        return out


_COLOUR_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def _read_rgb(path: Path, row: int, expected: tuple[int, int] | None, source: str) -> np.ndarray | None:
    """A colour image as (3, H, W) float32 in [0, 1]; None when the file is not a colour image
    (it is then read as grayscale and repeated)."""
    if path.suffix.lower() not in _COLOUR_SUFFIXES or not path.is_file():
        return None
    from PIL import Image

    where = f"data row {row + 1} of {source}: image '{path}'"
    try:
        with Image.open(path) as im:
            if im.mode not in ("RGB", "RGBA", "P", "CMYK", "YCbCr"):
                return None
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except Exception as exc:  # PIL raises many types on corrupt files
        msg = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise InputError(f"{where} cannot be read as an image ({msg}).") from None
    if expected is not None and arr.shape[:2] != tuple(expected):
        raise InputError(f"{where} has shape {arr.shape[:2]}; the model config says {expected[0]}x"
                         f"{expected[1]} (set resize = true to resize).")
    return arr.transpose(2, 0, 1)
