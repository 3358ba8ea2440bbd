"""Reading tables (CSV / Parquet) with errors that name the file and what to do."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fairaudit.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip")
"""Compressed CSV/TSV (``table.csv.gz``) is read as well; the codec follows the suffix."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (of a Parquet folder: its files' names and bytes)."""
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(f.relative_to(p).as_posix().encode("utf-8") + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def table_format(path: str | Path) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from the suffix (``.csv.gz`` is ``"csv"``), else ``""``."""
    suffixes = [x.lower() for x in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
        if suffixes and suffixes[-1] in (".parquet", ".pq"):
            return ""
    last = suffixes[-1] if suffixes else ""
    return {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}.get(last, "")


def check_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise InputError if it is not a readable file.

    A folder is accepted only when it is a Parquet dataset (named ``*.parquet`` or ``*.pq``).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} '{p}' does not exist; check the path.")
    if p.is_dir():
        if table_format(p) == "parquet":
            return p
        raise InputError(f"{what} '{p}' is a directory; give the path of a CSV or Parquet file.")
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"{what} '{p}' cannot be opened ({exc.strerror}).") from None
    return p


def _delimiter_hint(p: Path, sep: str) -> str:
    """A hint when the header looks separated by something other than ``sep``."""
    import bz2
    import gzip
    import lzma

    openers: dict[str, Callable[..., IO[str]]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    opener = openers.get(p.suffix.lower(), open)
    if p.suffix.lower() == ".zip":
        return ""
    try:
        with opener(p, "rt", encoding="utf-8", errors="replace") as fh:
            header = fh.readline().rstrip("\r\n")
    except (OSError, EOFError, ValueError, lzma.LZMAError):  # the hint is a courtesy; the real error is raised by the caller
        return ""
    for other, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
        if other != sep and header.count(other) > header.count(sep):
            fix = "name it .tsv" if other == "\t" else "re-save it with commas"
            return (f" It looks separated by {name} (header {header[:80]!r}); fairaudit reads "
                    f"comma-separated .csv and tab-separated .tsv: {fix}.")
    return ""


def _duplicate_columns(p: Path, sep: str) -> list[str]:
    """Header names that occur more than once (pandas would rename them to ``name.1``)."""
    import pandas as pd

    header = pd.read_csv(p, sep=sep, header=None, nrows=1, dtype=str, encoding="utf-8").iloc[0]
    names = [str(v) for v in header.tolist()]
    return sorted({n for n in names if names.count(n) > 1})


def _read_csv(p: Path, sep: str) -> pd.DataFrame:
    """A CSV/TSV through pyarrow's multithreaded reader, or pandas' when pyarrow refuses it.

    Types come out as pandas' own reader infers them (numbers, booleans, text), except that
    pyarrow is tried only when the data is plain: any error (ragged rows, bad bytes, a codec)
    falls back to pandas, whose messages name the problem.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(p, sep=sep, encoding="utf-8", engine="pyarrow")
    except Exception:  # pyarrow's errors are less precise: pandas reads it again and explains
        return pd.read_csv(p, sep=sep, encoding="utf-8", low_memory=False)
    for name in frame.columns:
        col = frame[name]
        dated = str(col.dtype).startswith(("datetime", "timestamp", "date"))
        first = col.dropna().iloc[:1].tolist() if col.dtype == object else []
        if dated or (first and isinstance(first[0], bytes)):
            # pandas keeps dates as text and explains bytes that are not UTF-8
            return pd.read_csv(p, sep=sep, encoding="utf-8", low_memory=False)
    return frame


def _read(p: Path, fmt: str, what: str) -> pd.DataFrame:
    import pandas as pd

    if fmt == "parquet":
        frame = pd.read_parquet(p)
        names = [str(c) for c in frame.columns]
        dups = sorted({n for n in names if names.count(n) > 1})
    else:
        sep = "\t" if fmt == "tsv" else ","
        dups = _duplicate_columns(p, sep)
        frame = _read_csv(p, sep)
        if frame.shape[1] == 1 and (hint := _delimiter_hint(p, sep)):
            raise InputError(f"{what} '{p}' has a single column.{hint}")
    if dups:
        raise InputError(
            f"{what} '{p}' has duplicated column names: {', '.join(repr(d) for d in dups)}; "
            "give every column a distinct name."
        )
    return frame


def read_table(path: str | Path, what: str = "table") -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table into a DataFrame.

    Parameters
    ----------
    path : str or Path
        The file. The format is chosen by its suffix (``.csv``, ``.tsv``, ``.parquet``, ``.pq``;
        CSV and TSV may be compressed: ``.csv.gz``, ``.bz2``, ``.xz``, ``.zip``). A folder
        named ``*.parquet`` is read as a Parquet dataset.
    what : str
        How the file is named in error messages (e.g. ``"predictions file"``).

    Raises
    ------
    InputError
        If the file is missing, not UTF-8, cannot be parsed, has duplicated column names, looks
        separated by the wrong delimiter, or has no rows.
    """
    import pandas as pd

    p = check_file(path, what)
    fmt = table_format(p)
    if not fmt:
        raise InputError(
            f"{what} '{p}' has suffix '{''.join(p.suffixes) or p.suffix}'; expected one of "
            f"{', '.join(TABLE_SUFFIXES)} (CSV/TSV also compressed, e.g. .csv.gz)."
        )
    try:
        frame = _read(p, fmt, what)
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} '{p}' is not valid UTF-8 (bad byte at offset {exc.start}); "
            "re-save it with UTF-8 encoding."
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} '{p}' is empty; it needs a header row and at least one data row.") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        hint = _delimiter_hint(p, "\t" if fmt == "tsv" else ",") if fmt != "parquet" else ""
        raise InputError(f"{what} '{p}' could not be parsed as {fmt.upper()}: {first}.{hint}") from None
    except (OSError, ValueError, EOFError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{what} '{p}' could not be read as {fmt.upper()}: {msg}.") from None
    except Exception as exc:  # pyarrow and the codecs raise their own hierarchies on corrupt files
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
