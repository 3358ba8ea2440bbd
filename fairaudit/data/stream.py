"""Streaming reads of Parquet datasets: files -> partitions -> validated column batches.

A dataset is one Parquet file, a directory of them (searched recursively) or a glob. It is cut
into *partitions* of whole row groups (the unit a Dask task or a streaming pass reads), and a
partition is read in batches of a few columns, so memory holds one batch at a time. Every
batch is validated like :func:`fairaudit.data.dataset.from_frame` validates a table (binary
labels, probabilities in [0, 1], a patient id on every row), with errors naming the file and
the row in it, and its demographic values are spelt as group names; missing values get the
name :data:`MISSING` until all partitions are merged.

Each row also gets a *resampling key* (uint64) for the Poisson bootstrap: the hash of its
patient id (``cluster``) or row id (``row_id``) when given, else the hash of (file path
relative to the dataset root, row number in the file). The last is stable under any
partitioning of the same files, but not under rewriting them into other files.
"""

from __future__ import annotations

import glob as globlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fairaudit.errors import InputError

MISSING = "\x00missing"
"""Name of a missing demographic value in a batch (the same as ``metrics.stats.MISSING``)."""

BATCH_ROWS = 1 << 20
"""Rows per batch of a streaming read."""


@dataclass(frozen=True)
class FilePart:
    """A partition: some row groups of one Parquet file.

    Attributes
    ----------
    path : str
        The file.
    name : str
        Its path relative to the dataset root (part of the rows' resampling keys).
    row_groups : tuple of int
    first_row : int
        Row number, in the file, of the partition's first row.
    n_rows : int
    """

    path: str
    name: str
    row_groups: tuple[int, ...]
    first_row: int
    n_rows: int


@dataclass(frozen=True)
class Batch:
    """Validated rows of one batch.

    ``codes[:, j]`` indexes ``names[j]``; ``keys`` are the rows' resampling keys.
    """

    labels: np.ndarray
    scores: np.ndarray
    codes: np.ndarray
    names: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    keys: np.ndarray


def is_dataset(path: str | Path) -> bool:
    """A directory or a glob pattern (rather than one table file)."""
    text = str(path)
    return Path(text).is_dir() or any(ch in text for ch in "*?[")


def parquet_files(path: str | Path, what: str = "predictions") -> tuple[list[Path], Path]:
    """The Parquet files of a file, directory (recursive) or glob, sorted, and their root."""
    text = str(path)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".parquet", ".pq"))
        root = p
    elif any(ch in text for ch in "*?["):
        files = sorted(Path(f) for f in globlib.glob(text, recursive=True) if Path(f).is_file())
        fixed = []  # the leading parts without a wildcard
        for part in Path(text).parts:
            if any(ch in part for ch in "*?["):
                break
            fixed.append(part)
        root = Path(*fixed) if fixed else Path(".")
    elif p.is_file():
        files, root = [p], p.parent
    else:
        raise InputError(f"{what} '{text}' does not exist; give a Parquet file, a directory of "
                         "Parquet files or a glob such as 'logs/*.parquet'.")
    if not files:
        raise InputError(f"{what} '{text}' matches no Parquet files (*.parquet, *.pq).")
    bad = [f for f in files if f.suffix.lower() not in (".parquet", ".pq")]
    if bad:
        raise InputError(f"{what} '{text}' matches '{bad[0]}', which is not a Parquet file; "
                         "a dataset of several files must be Parquet.")
    return files, root


def plan_partitions(files: list[Path], root: Path, n_partitions: int | None = None) -> list[FilePart]:
    """Cut the files into about ``n_partitions`` partitions of whole row groups, of about equal
    rows (default: as many partitions as files). A partition never spans two files."""
    import pyarrow.parquet as pq

    groups: list[tuple[Path, int, int, int]] = []  # file, row group, first row, rows
    for f in files:
        try:
            meta = pq.ParquetFile(f).metadata
        except Exception as exc:  # pyarrow raises its own hierarchy on a corrupt file
            raise InputError(f"predictions file '{f}' could not be read as Parquet: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}.") from None
        first = 0
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            groups.append((f, g, first, rows))
            first += rows
    if n_partitions is None:
        n_partitions = len(files)
    total = sum(r for *_, r in groups)
    target = max(1, -(-total // max(1, n_partitions)))
    parts: list[FilePart] = []
    current: list[tuple[Path, int, int, int]] = []

    def flush() -> None:
        if current:
            f = current[0][0]
            parts.append(FilePart(str(f), f.relative_to(root).as_posix() if f.is_relative_to(root)
                                  else f.name, tuple(g for _, g, _, _ in current), current[0][2],
                                  sum(r for *_, r in current)))
            current.clear()

    for item in groups:
        if current and (item[0] != current[0][0] or sum(r for *_, r in current) + item[3] > target):
            flush()
        current.append(item)
    flush()
    return parts


def _spell(values: list) -> list[str]:
    out = []
    for v in values:
        if v is None:
            out.append(MISSING)
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            t = str(v).strip()
            out.append(t if t else MISSING)
    return out


def _encode(column) -> tuple[np.ndarray, tuple[str, ...], bool]:
    """Codes and names of one demographic column (a pyarrow array), missing as MISSING."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    numeric = (pa.types.is_integer(column.type) or pa.types.is_floating(column.type))
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    enc = pc.dictionary_encode(column)
    spelt = _spell(enc.dictionary.to_pylist()) + [MISSING]
    names = tuple(dict.fromkeys(spelt))
    index = {nm: i for i, nm in enumerate(names)}
    lut = np.array([index[nm] for nm in spelt], dtype=np.int64)
    raw = enc.indices.fill_null(len(spelt) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
    return lut[raw], names, numeric


def key_hash(values: np.ndarray) -> np.ndarray:
    """uint64 hash of id values (the same for a value in any file or process)."""
    import pandas as pd

    return pd.util.hash_array(np.asarray(values), categorize=False).astype(np.uint64)


def row_keys(name: str, first_row: int, n: int) -> np.ndarray:
    """Resampling keys of rows ``first_row`` .. ``first_row + n - 1`` of the file ``name``."""
    import hashlib

    salt = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")
    rows = np.arange(first_row, first_row + n, dtype=np.uint64)
    return key_hash(rows ^ np.uint64(salt))


def _labels(col, where: str, column: str, first: int) -> np.ndarray:
    import pyarrow as pa

    if col.null_count:
        raise InputError(f"label column '{column}' has missing values in {where}; every row "
                         "needs a label of 0 or 1.")
    if pa.types.is_boolean(col.type):
        return col.to_numpy(zero_copy_only=False).astype(np.int8)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise InputError(f"label column '{column}' in {where} must be binary (0/1); found type "
                         f"{col.type}.")
    arr = col.to_numpy(zero_copy_only=False)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"label column '{column}' in {where} must be binary (0/1); found "
                         f"{arr[i].item()!r} at data row {first + i + 1}.")
    return arr.astype(np.int8)


def _scores(col, where: str, column: str, first: int) -> np.ndarray:
    import pyarrow as pa

    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise InputError(f"score column '{column}' in {where} must be numeric; found type {col.type}.")
    arr = col.to_numpy(zero_copy_only=False).astype(np.float64)
    bad = np.isnan(arr) | (arr < 0.0) | (arr > 1.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"score column '{column}' in {where} must hold probabilities in [0, 1]; "
                         f"found {float(arr[i]):g} at data row {first + i + 1}.")
    return arr


def read_batches(part: FilePart, *, label: str, score: str, sensitive: tuple[str, ...],
                 key_column: str | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
    """Validated batches of one partition (only the needed columns are read)."""
    import pyarrow.parquet as pq

    columns = [label, score, *sensitive] + ([key_column] if key_column else [])
    pf = pq.ParquetFile(part.path)
    names = set(pf.schema_arrow.names)
    for col, option in ((label, "`label`"), (score, "`score`"), *((c, "`sensitive`") for c in sensitive),
                        *(((key_column, "`cluster` or `row_id`"),) if key_column else ())):
        if col not in names:
            raise InputError(f"column '{col}' (given by {option}) not found in predictions file "
                             f"'{part.path}'; the columns are: {', '.join(pf.schema_arrow.names)}.")
    first = part.first_row
    for rb in pf.iter_batches(batch_size=batch_rows, row_groups=list(part.row_groups),
                              columns=list(dict.fromkeys(columns))):
        n = rb.num_rows
        where = f"predictions file '{part.path}'"
        labels = _labels(rb.column(label), where, label, first)
        scores = _scores(rb.column(score), where, score, first)
        encoded = [_encode(rb.column(c)) for c in sensitive]
        if key_column:
            col = rb.column(key_column)
            if col.null_count:
                raise InputError(f"id column '{key_column}' has missing values in {where}; every "
                                 "row needs one.")
            keys = key_hash(col.to_numpy(zero_copy_only=False))
        else:
            keys = row_keys(part.name, first, n)
        yield Batch(labels, scores, np.stack([e[0] for e in encoded], axis=1),
                    tuple(e[1] for e in encoded), tuple(e[2] for e in encoded), keys)
        first += n
