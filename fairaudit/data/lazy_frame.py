"""A table's DataFrame read on first use: the ``frame`` of a dataset that was validated from
its columns alone (:mod:`fairaudit.data.arrow`, which does not import pandas)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.data.tables import file_sha256, read_table
from fairaudit.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class TableReader:
    """Reads a table file into a DataFrame on first use of :attr:`fairaudit.data.AuditDataset.frame` (the
    pandas-free reader :mod:`fairaudit.data.arrow` validates only the columns it needs)."""

    def __init__(self, path: Path, what: str, sha256: str) -> None:
        self.path, self.what, self.sha256 = path, what, sha256

    def __call__(self) -> pd.DataFrame:
        frame = read_table(self.path, self.what)
        if file_sha256(self.path) != self.sha256:
            raise InputError(f"{self.what} '{self.path}' changed while it was being audited; "
                             "audit it again.")
        return frame


class FrameField:
    """The ``frame`` field of :class:`fairaudit.data.AuditDataset`: a DataFrame, or a :class:`TableReader`
    that is replaced by the DataFrame it reads the first time the field is read."""

    def __get__(self, obj: Any, owner: type | None = None) -> pd.DataFrame:
        if obj is None:
            raise AttributeError("frame")  # a required field: no class-level default
        value = obj.__dict__["_frame"]
        if isinstance(value, TableReader):
            value = obj.__dict__["_frame"] = value()
        return value

    def __set__(self, obj: Any, value: pd.DataFrame | TableReader) -> None:
        obj.__dict__["_frame"] = value
