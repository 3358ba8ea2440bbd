"""A predictions file validated from its columns with pyarrow and numpy alone (no pandas).

:func:`arrow_dataset` is the fast path of :func:`fairaudit.data.load_table_dataset` for one
plain Parquet, CSV or TSV file: it reads the label, score and attribute columns (Parquet: only
those, text attributes as dictionaries; CSV: with the options pandas' pyarrow engine passes)
and gives the dataset the pandas path gives, value for value. Whatever it does not handle
itself it declines (returns None) and the pandas path reads the file and explains: missing or
repeated columns, no rows, missing or non-binary labels, scores that are not numbers in range,
attribute columns that are categorical, floating point, boolean or dates, more than
:data:`~fairaudit.data.dataset.MAX_NUMERIC_GROUPS` groups, and every error of pyarrow. The
table's DataFrame is read only if something asks for ``dataset.frame``.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit.data.dataset import (
    MAX_NUMERIC_GROUPS,
    AuditDataset,
    format_value,
    group_codes,
    logit_to_probability,
    parse_columns,
)
from fairaudit.data.lazy_frame import TableReader
from fairaudit.data.tables import file_sha256, table_format
from fairaudit.errors import InputError

PANDAS_NA_TEXT = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                  "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
"""The cells pandas reads as missing by default (``keep_default_na``), as it tells pyarrow."""

_INTEGER_ATTRIBUTE_LIMIT = 2**53
"""Integer attribute values beyond this are left to pandas (which spells them via floats)."""


def arrow_dataset(path: Path, *, label: str, sensitive: Any, score: str, what: str,
                  score_type: str = "probability") -> AuditDataset | None:
    """The validated dataset of a plain Parquet/CSV/TSV ``path``, or None (see module doc)."""
    try:
        attributes = parse_columns(sensitive)
    except InputError:
        return None
    if label in attributes or score in attributes or label == score or score_type not in (
            "probability", "logit"):
        return None
    columns = _read(path, [label, score, *attributes])
    if columns is None:
        return None
    with ThreadPoolExecutor(1) as pool:  # the file's hash (no GIL) beside the decoding
        sha = pool.submit(file_sha256, path)
        return _decoded(path, columns, label, score, attributes, what, score_type, sha)


def _decoded(path: Path, columns: dict[str, Any], label: str, score: str, attributes: list[str],
             what: str, score_type: str, sha: Future[str]) -> AuditDataset | None:
    """The dataset of the read columns (``sha``: the future of the file's SHA-256)."""
    labels = _labels(columns[label])
    scores = _scores(columns[score], score_type)
    if labels is None or scores is None:
        return None
    codes, names, unknown = [], [], {}
    for col in attributes:
        encoded = _attribute(columns[col], col)
        if encoded is None:
            return None
        codes.append(encoded[0])
        names.append(encoded[1])
        unknown[col] = encoded[2]
    digest = sha.result()
    return AuditDataset(
        frame=TableReader(path, what, digest), root=path.resolve().parent, source=f"{what} '{path}'",  # type: ignore[arg-type]
        label_column=label, labels=labels, attributes=tuple(attributes),
        group_codes=np.stack(codes, axis=1).astype(np.int32, copy=False), group_names=tuple(names),
        sha256=digest, scores=scores, score_column=score, unknown_counts=unknown,
        score_type=score_type,
    )


def _read(path: Path, wanted: list[str]) -> dict[str, Any] | None:
    """The wanted columns as pyarrow chunked arrays, or None when pandas should read the file."""
    fmt = table_format(path)
    if not path.is_file() or fmt not in ("parquet", "csv", "tsv") or path.suffix.lower() not in (
            ".parquet", ".pq", ".csv", ".tsv"):
        return None
    try:
        table = _read_parquet(path, wanted) if fmt == "parquet" else _read_csv(path, fmt, wanted)
    except Exception:  # noqa: BLE001 (pyarrow's own errors: pandas reads it again and explains)
        return None
    if table is None or table.num_rows == 0:
        return None
    return {name: table.column(name) for name in wanted}


def _read_parquet(path: Path, wanted: list[str]) -> Any:
    """The wanted columns, text attributes as dictionaries (``ParquetFile``, not
    ``pq.read_table``: its dataset layer imports pandas)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.ParquetFile(path).schema_arrow
    names = schema.names
    if len(set(names)) != len(names) or any(w not in names for w in wanted):
        return None
    if any(pa.types.is_dictionary(schema.field(w).type) for w in wanted):
        return None  # categorical: pandas keeps the categories' order
    meta = schema.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    if index & set(wanted):
        return None  # pandas makes it the index, not a column
    text = [w for w in wanted[2:] if pa.types.is_string(schema.field(w).type)
            or pa.types.is_large_string(schema.field(w).type)]
    return pq.ParquetFile(path, read_dictionary=text).read(columns=wanted)


def _read_csv(path: Path, fmt: str, wanted: list[str]) -> Any:
    """The whole table, as ``pandas.read_csv(engine="pyarrow")`` reads it, or None when
    pandas would read it with its own engine or rename its columns."""
    import pyarrow as pa
    from pyarrow import csv

    table = csv.read_csv(
        path,
        read_options=csv.ReadOptions(encoding="utf-8"),
        parse_options=csv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", quote_char='"',
                                       ignore_empty_lines=True),
        # Text columns of few values come as dictionaries (the attributes: no second pass); it
        # changes no value, only how the text is held.
        convert_options=csv.ConvertOptions(null_values=list(PANDAS_NA_TEXT), decimal_point=".",
                                           strings_can_be_null=True, auto_dict_encode=True),
    )
    names = table.column_names
    if table.num_columns < 2 or "" in names or len(set(names)) != len(names):
        return None
    if any(w not in names for w in wanted):
        return None
    for field in table.schema:  # pandas re-reads these with its C engine (tables._read_csv)
        t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_timestamp(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return None
    return table


_NUMPY_TYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
                "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
                "float": np.float32, "double": np.float64}


def _view(chunk: Any) -> np.ndarray:
    """The values of a primitive array without missing values, as a numpy view of its buffer
    (every pyarrow ``to_numpy`` imports pandas, which this reader exists to avoid)."""
    dtype = np.dtype(_NUMPY_TYPES[str(chunk.type)])
    return np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)


def _missing(chunk: Any) -> np.ndarray:
    """Which entries of an array are missing (``pc.fill_null`` would import pandas)."""
    import pyarrow as pa

    if not chunk.null_count:
        return np.zeros(len(chunk), bool)
    return _view(chunk.is_null().cast(pa.int8())).astype(bool)


def _to_numpy(col: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A chunked array of numbers or booleans as one numpy array and its missing-value mask
    (None without missing values)."""
    import pyarrow as pa

    values, missing = [], []
    for chunk in col.chunks:
        if pa.types.is_boolean(chunk.type):
            chunk = chunk.cast(pa.int8())
        view, mask = _view(chunk), _missing(chunk)
        if mask.any():
            view = np.where(mask, 0, view)  # what the buffer holds under a missing value is undefined
        values.append(view)
        missing.append(mask)
    if not values:
        return np.empty(0), None
    mask = np.concatenate(missing)
    # One chunk: its buffer's read-only view, no copy (every caller makes its own array).
    return values[0] if len(values) == 1 else np.concatenate(values), mask if mask.any() else None


def _numbers(col: Any) -> np.ndarray | None:
    """A numeric column without missing values as float64, else None."""
    import pyarrow as pa

    t = col.type
    if col.null_count or not (pa.types.is_integer(t) or pa.types.is_float32(t) or pa.types.is_float64(t)):
        return None
    if pa.types.is_uint64(t):
        return None
    arr = _to_numpy(col)[0].astype(np.float64)
    return None if np.isnan(arr).any() else arr


def _labels(col: Any) -> np.ndarray | None:
    """0/1 labels as int8 (numbers or booleans, none missing), as ``validate_labels``."""
    import pyarrow as pa

    if pa.types.is_boolean(col.type):
        return None if col.null_count else _to_numpy(col)[0].astype(np.int8)
    if pa.types.is_integer(col.type) and not pa.types.is_uint64(col.type) and not col.null_count:
        values = _to_numpy(col)[0]
        return values.astype(np.int8) if bool(((values == 0) | (values == 1)).all()) else None
    arr = _numbers(col)
    if arr is None or not np.isin(arr, (0.0, 1.0)).all():
        return None
    return arr.astype(np.int8)


def _scores(col: Any, score_type: str) -> np.ndarray | None:
    """Probabilities as ``validate_scores`` gives them; None for anything it would refuse."""
    arr = _numbers(col)
    if arr is None:
        return None
    if score_type == "logit":
        return logit_to_probability(arr)
    return arr if bool(((arr >= 0.0) & (arr <= 1.0)).all()) else None


def _attribute(col: Any, name: str) -> tuple[np.ndarray, tuple[str, ...], int] | None:
    """``encode_groups`` of a text or integer column (other types: None)."""
    import pyarrow as pa

    t = col.type
    if pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        if pa.types.is_dictionary(t) and not (pa.types.is_string(t.value_type)
                                              or pa.types.is_large_string(t.value_type)):
            return None
        raw, spelt = _text_codes(col)
        keys = sorted({s for s in spelt if s != ""})
    elif pa.types.is_integer(t) and not pa.types.is_uint64(t):
        values, missing = _to_numpy(col)
        valid = np.ones(values.shape, bool) if missing is None else ~missing
        present = values[valid].astype(np.int64)
        if present.size and np.abs(present).max() >= _INTEGER_ATTRIBUTE_LIMIT:
            return None
        uniq, inverse = np.unique(present, return_inverse=True)
        raw = np.full(values.shape, -1, dtype=np.int64)
        raw[valid] = inverse.ravel()
        spelt = [format_value(int(u)) for u in uniq]
        keys = list(spelt)
    else:
        return None
    if len(keys) > MAX_NUMERIC_GROUPS:
        return None  # check_group_count's cases (and --allow-many-groups) stay with pandas
    try:
        return group_codes(raw, spelt, keys, name)
    except InputError:
        return None


def _text_codes(col: Any) -> tuple[np.ndarray, list[str]]:
    """Each row's index into the distinct spellings of a text column (-1: missing)."""
    import pyarrow as pa

    index: dict[str, int] = {}
    parts = []
    for chunk in col.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        local = np.array([index.setdefault(format_value(v), len(index)) if v is not None else -1
                          for v in chunk.dictionary.to_pylist()] + [-1], dtype=np.int64)
        positions = _view(chunk.indices)
        if chunk.indices.null_count:  # a missing value reads the -1 at the end of ``local``
            positions = np.where(_missing(chunk.indices), -1, positions)
        parts.append(local.take(positions))
    if not parts:
        return np.empty(0, np.int64), []
    return parts[0] if len(parts) == 1 else np.concatenate(parts), list(index)
