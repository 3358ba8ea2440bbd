"""Binning numeric attributes into groups: cut points (``age=40,60,80``) or quantiles (``age=q4``).

Intervals are closed on the left, as ``pandas.cut(x, [-inf, *cuts, inf], right=False)``:
cut points ``40, 60, 80`` give the groups ``< 40``, ``[40, 60)``, ``[60, 80)`` and ``>= 80``.
Quantile bins (``q4``) take as cut points the 1/q, ..., (q-1)/q quantiles of the column's
non-missing values (linear interpolation, as ``numpy.quantile``), with ties merged, and then
bin exactly like cut points; the cut points are recorded in the result. Missing values stay
missing (the ``unknown`` group). Only the group labels change: the table keeps its values, so a
model that reads the column (e.g. age as a covariate) still gets the raw number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.errors import ConfigError, InputError
from fairaudit.result import BinInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

BinsSpec = str | Sequence[str] | Mapping[str, str | int | Sequence[float]]
"""``"age=40,60,80"``, ``["age=q4", "bmi=25,30"]`` or ``{"age": [40, 60, 80], "bmi": "q4"}``."""

_QUANTILE = re.compile(r"^[qQ](\d+)$")


def _parse_value(column: str, value: str | int | Sequence[float], name: str) -> tuple[tuple[float, ...], int | None]:
    """Cut points, or the number of quantile bins, of one entry."""
    shown = f"{name} entry for '{column}'"
    parts: list[object]
    if isinstance(value, str):
        text = value.strip()
        if m := _QUANTILE.match(text):
            q = int(m.group(1))
            if q < 2:
                raise ConfigError(f"{shown}: q{q} makes one bin; use q2 or more (e.g. {column}=q4).")
            return (), q
        parts = [p.strip() for p in text.split(",")]
    elif isinstance(value, bool):
        raise ConfigError(f"{shown}: expected cut points or 'qN'; got {value!r}.")
    elif isinstance(value, int | np.integer):
        raise ConfigError(f"{shown}: give quantiles as 'q{value}' and cut points as a list; got {value!r}.")
    else:
        parts = list(value)
    try:
        cuts = tuple(float(p) for p in parts)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(
            f"{shown}: expected comma-separated numbers (e.g. {column}=40,60,80) or quantiles "
            f"(e.g. {column}=q4); got {value!r}."
        ) from None
    if not cuts or not all(np.isfinite(cuts)):
        raise ConfigError(f"{shown}: cut points must be finite numbers; got {value!r}.")
    if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        raise ConfigError(f"{shown}: cut points must increase strictly; got {value!r}.")
    return cuts, None


def parse_bins(spec: BinsSpec | None, *, name: str = "`bins`") -> dict[str, tuple[tuple[float, ...], int | None]]:
    """Parse bin specifications into ``{column: (cut points, q)}`` (``q`` None for cut points).

    Parameters
    ----------
    spec : str, list of str or mapping, optional
        ``"age=40,60,80"``, ``"age=q4"``, a list of such strings (one per column), or a mapping
        from column to cut points (a list of numbers or ``"40,60,80"``) or ``"qN"``.
    name : str
        How the option is named in messages (the CLI shows ``--bins`` for ```bins```).

    Raises
    ------
    ConfigError
        A malformed entry, cut points that do not increase, ``q`` below 2, or a column named twice.
    """
    if spec is None:
        return {}
    out: dict[str, tuple[tuple[float, ...], int | None]] = {}
    if isinstance(spec, Mapping):
        items: list[tuple[str, str | int | Sequence[float]]] = [(str(k).strip(), v) for k, v in spec.items()]
    else:
        entries = [spec] if isinstance(spec, str) else list(spec)
        items = []
        for entry in entries:
            col, sep, value = str(entry).partition("=")
            if not sep or not col.strip() or not value.strip():
                raise ConfigError(f"{name} takes COLUMN=CUTS or COLUMN=qN (e.g. age=40,60,80 or "
                                  f"age=q4); got {entry!r}.")
            items.append((col.strip(), value))
    for col, given in items:
        if col in out:
            raise ConfigError(f"{name} names column '{col}' twice; give one binning per column.")
        out[col] = _parse_value(col, given, name)
    return out


def _numeric(values: pd.Series, column: str, source: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        raise InputError(f"column '{column}' in {source} is boolean; only numeric columns can be binned.")
    coerced = pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    bad = coerced.isna() & values.notna() & (text != "").fillna(False)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy(dtype=bool))[0])
        raise InputError(
            f"column '{column}' in {source} is binned but holds the non-numeric value "
            f"{values.iloc[i]!r} at data row {i + 1}."
        )
    x = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(x).any():
        i = int(np.flatnonzero(np.isinf(x))[0])
        raise InputError(f"column '{column}' in {source} holds {x[i]:g} at data row {i + 1}; "
                         "binned values must be finite.")
    return x


def format_cut(x: float, digits: int = 6) -> str:
    """A cut point as it appears in group labels (``40``, ``52.75``)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.{digits}g}"


def bin_labels(cuts: Sequence[float]) -> tuple[str, ...]:
    """``("< 40", "[40, 60)", "[60, 80)", ">= 80")`` for cut points 40, 60, 80."""
    text = [format_cut(c) for c in cuts]
    if len(set(text)) < len(text):  # cut points closer than 6 significant digits
        text = [repr(float(c)) for c in cuts]
    middle = [f"[{a}, {b})" for a, b in zip(text, text[1:], strict=False)]
    return (f"< {text[0]}", *middle, f">= {text[-1]}")


def bin_column(
    values: pd.Series,
    cuts: Sequence[float],
    q: int | None,
    *,
    column: str,
    source: str,
) -> tuple[pd.Series, BinInfo]:
    """Bin one numeric column.

    Parameters
    ----------
    values : Series
        The column as read (numeric, or text holding numbers; empty cells are missing).
    cuts : sequence of float
        Increasing cut points (ignored when ``q`` is given).
    q : int, optional
        Number of quantile bins.
    column, source : str
        For messages.

    Returns
    -------
    binned : Series
        Categorical with the interval labels in increasing order (unused bins dropped);
        missing where the value is missing.
    info : BinInfo
        Cut points, method, ``q`` and labels, for the result.

    Raises
    ------
    InputError
        Non-numeric or infinite values, or (for quantiles) no values at all.
    """
    import pandas as pd

    x = _numeric(values, column, source)
    finite = x[~np.isnan(x)]
    if q is not None:
        if finite.size == 0:
            raise InputError(f"column '{column}' in {source} has no values to take quantiles of.")
        qs = np.quantile(finite, np.arange(1, q) / q)
        cuts = tuple(float(c) for c in np.unique(qs))
    labels = bin_labels(cuts)
    idx = np.searchsorted(np.asarray(cuts, dtype=np.float64), x, side="right")
    codes = np.where(np.isnan(x), -1, idx)
    binned = pd.Series(pd.Categorical.from_codes(codes.astype(np.int64), categories=pd.Index(labels)),
                       index=values.index,
                       name=values.name).cat.remove_unused_categories()
    info = BinInfo(cuts=tuple(float(c) for c in cuts), method="quantile" if q else "cut_points",
                   q=q, labels=tuple(str(c) for c in binned.cat.categories))
    return binned, info


def suggest_bins(values: pd.Series, column: str) -> list[str]:
    """``--bins`` entries that would make a numeric column auditable (for messages):
    quartiles, and cut points near the quartiles rounded to two significant digits."""
    import pandas as pd

    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    finite = x[np.isfinite(x)]
    out = [f"{column}=q4"]
    if finite.size:
        rounded = [float(f"{c:.2g}") for c in np.unique(np.quantile(finite, [0.25, 0.5, 0.75]))]
        if len(set(rounded)) == len(rounded):
            out.append(f"{column}={','.join(format_cut(c) for c in rounded)}")
    return out


def fixed_cuts(bins: Mapping[str, BinInfo]) -> dict[str, list[float]]:
    """The cut points of binned columns as a ``bins`` mapping, so that another split of the
    same data (e.g. the test rows, after quantiles were taken on the validation rows) gets
    exactly the same groups."""
    return {col: list(info.cuts) for col, info in bins.items()}
