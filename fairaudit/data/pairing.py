"""Pairing two tables row by row on an ID column (the same patients/studies scored twice).

A paired comparison is only valid when every row of one side has exactly one row on the
other: duplicated or unmatched IDs are refused with their counts and a few examples, never
silently dropped (dropping them would compare the models on different patients).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairaudit.errors import InputError

EXAMPLES = 3


def _examples(values: np.ndarray) -> str:
    shown = ", ".join(repr(str(v))[:40] for v in values[:EXAMPLES])
    more = f" and {values.size - EXAMPLES} more" if values.size > EXAMPLES else ""
    return shown + more


def id_values(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """The IDs of a table as strings (``12`` and ``"12"`` pair), refusing missing and duplicated ones."""
    if column not in frame.columns:
        raise InputError(f"{source} has no ID column '{column}' (`id_column`); its columns are: "
                         f"{', '.join(map(str, frame.columns))[:300]}.")
    raw = frame[column]
    missing = np.flatnonzero(raw.isna().to_numpy())
    if missing.size:
        raise InputError(f"{source}: ID column '{column}' is empty in {missing.size} row(s) "
                         f"(first: data row {int(missing[0]) + 1}); every row needs its ID.")
    ids = raw.astype(str).str.strip().to_numpy(dtype=object)
    uniq, counts = np.unique(ids, return_counts=True)
    dup = uniq[counts > 1]
    if dup.size:
        raise InputError(f"{source}: {dup.size} ID(s) in '{column}' occur more than once "
                         f"(e.g. {_examples(dup)}); IDs must be unique to pair rows.")
    return ids


def pair_ids(reference: np.ndarray, other: np.ndarray, *, reference_source: str,
             other_source: str) -> np.ndarray:
    """Index into ``other`` of every ``reference`` ID (both unique, see :func:`id_values`).

    Raises
    ------
    InputError
        Some IDs have no partner: the message gives both counts and examples of each.
    """
    order = np.argsort(other, kind="stable")
    sorted_other = other[order]
    pos = np.clip(np.searchsorted(sorted_other, reference), 0, max(other.size - 1, 0))
    found = sorted_other[pos] == reference if other.size else np.zeros(reference.size, bool)
    extra = np.setdiff1d(other, reference) if other.size else np.empty(0, dtype=object)
    if not found.all() or extra.size:
        lost = reference[~found]
        parts = []
        if lost.size:
            parts.append(f"{lost.size} of {reference.size} ID(s) of {reference_source} are not in "
                         f"{other_source} (e.g. {_examples(lost)})")
        if extra.size:
            parts.append(f"{extra.size} of {other.size} ID(s) of {other_source} are not in "
                         f"{reference_source} (e.g. {_examples(extra)})")
        raise InputError("; ".join(parts) + "; both sides must score the same rows.")
    return order[pos]


__all__ = ["id_values", "pair_ids"]
