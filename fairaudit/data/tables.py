"""Reading tables (CSV / Parquet) with errors that name the file and what to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from fairaudit.errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise InputError if it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} '{p}' does not exist; check the path.")
    if p.is_dir():
        raise InputError(f"{what} '{p}' is a directory; give the path of a CSV or Parquet file.")
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"{what} '{p}' cannot be opened ({exc.strerror}).") from None
    return p


def read_table(path: str | Path, what: str = "table") -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table into a DataFrame.

    Parameters
    ----------
    path : str or Path
        The file. The format is chosen by its suffix (``.csv``, ``.tsv``, ``.parquet``, ``.pq``).
    what : str
        How the file is named in error messages (e.g. ``"predictions file"``).

    Raises
    ------
    InputError
        If the file is missing, not UTF-8, cannot be parsed, or has no rows.
    """
    p = check_file(path, what)
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"{what} '{p}' has suffix '{p.suffix}'; expected one of {', '.join(TABLE_SUFFIXES)}."
        )
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(
                p, sep="\t" if suffix == ".tsv" else ",", encoding="utf-8", low_memory=False
            )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} '{p}' is not valid UTF-8 (bad byte at offset {exc.start}); "
            "re-save it with UTF-8 encoding."
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} '{p}' is empty; it needs a header row and at least one data row.") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        raise InputError(f"{what} '{p}' could not be parsed as {suffix[1:].upper()}: {first}.") from None
    except (OSError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{what} '{p}' could not be read as {suffix[1:].upper()}: {msg}.") from None
    except Exception as exc:  # pyarrow raises its own hierarchy on corrupt Parquet
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{what} '{p}' could not be read: {msg}.") from None
    if len(frame) == 0:
        raise InputError(f"{what} '{p}' has a header but no data rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str], source: str, option: str = "") -> None:
    """Raise InputError naming the first missing column and listing the columns that exist."""
    for col in columns:
        if col not in frame.columns:
            hint = f" (given by {option})" if option else ""
            existing = ", ".join(map(str, frame.columns))
            raise InputError(
                f"column '{col}'{hint} not found in {source}; the columns are: {existing}."
            )
