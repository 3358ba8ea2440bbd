"""Demographics from a separate table: join a patient (or study) table onto the predictions.

``on`` names the key: ``"patient_id"`` (the same column in both tables) or
``"pred_col=meta_col"``. Keys are matched by their text (surrounding spaces ignored; ``7`` and
``7.0`` match), so an id read as a number in one table and as text in the other still matches.

What is taken from the metadata
    Only the columns the audit names, the sensitive attributes and the cluster column, that the
    metadata has. A named column present in both tables is refused as ambiguous (two sources
    of the same demographic, possibly disagreeing): drop it from one table. Other columns of
    the metadata are ignored, and the predictions keep all their columns and rows, in order.
Rows without a match
    keep their rows; every column taken from the metadata is missing there, so each attribute
    puts them in its ``unknown`` group. Their number is ``MetadataInfo``'s complement:
    :attr:`MetadataJoin.n_unmatched`, recorded as ``dataset.n_unmatched_metadata``.
Refused
    a key column missing from either table, duplicate keys in the metadata (the message lists
    the first few), metadata rows without a key, and a metadata table that provides none of
    the named columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.data.tables import file_sha256, read_table
from fairaudit.errors import ConfigError, InputError
from fairaudit.result import MetadataInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MAX_LISTED = 5
"""How many duplicate keys an error message lists."""


@dataclass(frozen=True)
class MetadataJoin:
    """The joined frame and what the join did."""

    frame: pd.DataFrame
    info: MetadataInfo
    n_unmatched: int


def parse_on(on: str | None, *, name: str = "`on`") -> tuple[str, str]:
    """``"patient_id"`` -> ``("patient_id", "patient_id")``; ``"pid=patient_id"`` -> the pair.

    Raises
    ------
    ConfigError
        ``on`` is missing or malformed (``name`` is how the option is named in the message).
    """
    if on is None or not str(on).strip():
        raise ConfigError(f"{name} is needed with `metadata`: the key column (COL, or "
                          "PRED_COL=META_COL when the names differ).")
    left, sep, right = str(on).partition("=")
    left, right = left.strip(), (right.strip() if sep else left.strip())
    if not left or not right or "=" in right:
        raise ConfigError(f"{name} takes COL or PRED_COL=META_COL; got {on!r}.")
    return left, right


def key_text(values: pd.Series) -> pd.Series:
    """Keys as comparable text: stripped, integer-valued floats without ``.0``, missing as NA."""
    import pandas as pd

    if pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(arr) & (np.mod(arr, 1.0) == 0) & (np.abs(arr) < 2**53)
        text = [None if np.isnan(v) else (str(int(v)) if w else repr(float(v)))
                for v, w in zip(arr, whole, strict=True)]
        return pd.Series(text, index=values.index, dtype="string")
    out = values.astype("string").str.strip()
    return out.mask(out == "")


def _read_metadata(metadata: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str, str | None]:
    import pandas as pd

    if isinstance(metadata, pd.DataFrame):
        return metadata, "metadata <DataFrame>", None
    p = Path(metadata)
    frame = read_table(p, "metadata file")
    return frame, f"metadata file '{p}'", file_sha256(p)


def _check_keys(keys: pd.Series, meta_source: str, meta_key: str) -> None:
    missing = keys.isna().to_numpy(dtype=bool)
    if missing.any():
        raise InputError(
            f"{meta_source} has {int(missing.sum())} rows without a '{meta_key}' (first at data "
            f"row {int(np.flatnonzero(missing)[0]) + 1}); every metadata row needs its key."
        )
    dup = keys.duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        counts = keys[dup].value_counts(sort=False)
        shown = ", ".join(f"{k!r} ({n} rows)" for k, n in list(counts.items())[:MAX_LISTED])
        more = f" and {len(counts) - MAX_LISTED} more" if len(counts) > MAX_LISTED else ""
        raise InputError(
            f"{meta_source} has duplicate keys in '{meta_key}': {shown}{more}; the metadata needs "
            "one row per key (deduplicate it, or join on a finer key)."
        )


def _positions(meta_keys: pd.Series, keys: pd.Series) -> np.ndarray:
    """For every key, the row of ``meta_keys`` holding it, or -1 (vectorised: one factorise)."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.concat([meta_keys, keys], ignore_index=True), use_na_sentinel=True)
    lut = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last entry serves code -1 (no key)
    lut[codes[: len(meta_keys)]] = np.arange(len(meta_keys))
    return lut[codes[len(meta_keys):]]


def join_metadata(
    frame: pd.DataFrame,
    metadata: str | Path | pd.DataFrame,
    on: str | None,
    *,
    columns: Sequence[str],
    source: str,
) -> MetadataJoin:
    """Take ``columns`` from ``metadata`` onto ``frame`` by the key ``on`` (see the module).

    Parameters
    ----------
    frame : DataFrame
        The predictions table or manifest (rows kept, in order).
    metadata : path or DataFrame
        The metadata table (CSV, TSV or Parquet; one row per key).
    on : str
        ``COL`` or ``PRED_COL=META_COL``.
    columns : sequence of str
        The columns the audit needs (sensitive attributes, cluster); those the metadata has are
        joined, the others must be in ``frame`` (checked later, with the usual message).
    source : str
        How ``frame`` is named in messages.

    Raises
    ------
    InputError
        A key column is missing, metadata keys are duplicated or missing, a named column is
        in both tables, or the metadata has none of ``columns``.
    ConfigError
        ``on`` is missing or malformed.
    """
    import pandas as pd

    left, right = parse_on(on)
    meta, meta_source, sha = _read_metadata(metadata)
    for col, table, where in ((left, frame, source), (right, meta, meta_source)):
        if col not in table.columns:
            raise InputError(f"key column '{col}' not found in {where}; the columns are: "
                             f"{', '.join(map(str, table.columns))}.")
    wanted = [c for c in dict.fromkeys(columns) if c != left]
    both = [c for c in wanted if c in meta.columns and c in frame.columns and c != right]
    if both:
        raise InputError(
            f"column{'s' if len(both) > 1 else ''} {', '.join(map(repr, both))} "
            f"{'are' if len(both) > 1 else 'is'} in both {source} and {meta_source}; "
            "keep the demographics in one table (drop the column from the other)."
        )
    taken = [c for c in wanted if c in meta.columns and c != right]
    if not taken:
        raise InputError(
            f"{meta_source} has none of the columns to join ({', '.join(map(repr, wanted))}); "
            f"its columns are: {', '.join(map(str, meta.columns))}."
        )
    meta_keys = key_text(meta[right])
    _check_keys(meta_keys, meta_source, right)
    keys = key_text(frame[left])
    pos = _positions(meta_keys, keys)
    matched = pos >= 0
    out = frame.copy()
    for col in taken:  # categorical columns keep their categories; unmatched rows are missing
        values = meta[col].iloc[np.where(matched, pos, 0)].reset_index(drop=True)
        out[col] = values.where(pd.Series(matched)).set_axis(out.index)
    info = MetadataInfo(source=meta_source, key=left, metadata_key=right, columns=tuple(taken),
                        sha256=sha, n_rows=len(meta))
    return MetadataJoin(out, info, int((~matched).sum()))
