"""One split of a predictions table: the rows whose split column has a given value."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.data.dataset import AuditDataset, from_frame
from fairaudit.data.tables import file_sha256, read_table
from fairaudit.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def load_split_dataset(predictions: str | Path | pd.DataFrame, column: str, value: str, *, label: str,
                      sensitive: str | list[str] | tuple[str, ...], score: str,
                      cluster: str | None, allow_many_groups: bool = False,
                      inputs: dict[str, Any] | None = None) -> AuditDataset:
    """The rows of a predictions table whose ``column`` equals ``value`` (after stripping)."""
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        frame, source, root, sha = predictions, "<DataFrame>", None, None
    else:
        p = Path(predictions)
        frame = read_table(p, "predictions file")
        source, root, sha = f"predictions file '{p}'", p.resolve().parent, file_sha256(p)
    if column not in frame.columns:
        raise InputError(f"{source} has no split column '{column}' (`split_column`); its columns "
                         f"are: {', '.join(map(str, frame.columns))}.")
    values = frame[column].astype("string").str.strip()
    wanted = str(value).strip()
    mask = (values == wanted).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        found = ", ".join(sorted(map(str, values.dropna().unique()))) or "none"
        raise InputError(f"{source} has no rows with {column} = '{wanted}' (`split`); its "
                         f"values are: {found}.")
    sub = frame.loc[mask].reset_index(drop=True)
    return from_frame(sub, label=label, sensitive=sensitive, score=score, cluster=cluster,
                      allow_many_groups=allow_many_groups,
                      source=f"{source} ({column} = {wanted})", root=root,
                      sha256=f"{sha}:{column}={wanted}" if sha else None, **(inputs or {}))
