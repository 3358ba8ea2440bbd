"""Reading one predictions table from disk into an :class:`~fairaudit.data.dataset.AuditDataset`:
the pandas-free reader (:mod:`fairaudit.data.arrow`) when it can, else pandas and
:func:`~fairaudit.data.dataset.from_frame`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fairaudit.data.arrow import arrow_dataset
from fairaudit.data.binning import BinsSpec
from fairaudit.data.dataset import AuditDataset, from_frame
from fairaudit.data.tables import file_sha256, read_table

if TYPE_CHECKING:
    import pandas as pd


def load_table_dataset(
    path: str | Path,
    *,
    label: str,
    sensitive: str | Sequence[str],
    score: str | None = None,
    cluster: str | None = None,
    what: str = "predictions file",
    allow_many_groups: bool = False,
    metadata: str | Path | pd.DataFrame | None = None,
    on: str | None = None,
    bins: BinsSpec | None = None,
    score_type: str = "probability",
    pos_label: object | None = None,
) -> AuditDataset:
    """Read a CSV/Parquet table from disk and validate it (see :func:`from_frame`).

    A plain file with a score column and no ``cluster``, ``metadata``, ``bins`` or
    ``pos_label`` is read by :func:`fairaudit.data.arrow.arrow_dataset` (pyarrow and numpy;
    the same dataset, its ``frame`` read on first use) unless that declines it.
    """
    p = Path(path)
    if (score is not None and cluster is None and metadata is None and on is None and not bins
            and pos_label is None and not allow_many_groups):
        fast = arrow_dataset(p, label=label, sensitive=sensitive, score=score, what=what,
                             score_type=score_type)
        if fast is not None:
            return fast
    frame = read_table(p, what)
    return from_frame(
        frame,
        label=label,
        sensitive=sensitive,
        score=score,
        cluster=cluster,
        source=f"{what} '{p}'",
        root=p.resolve().parent,
        sha256=file_sha256(p),
        allow_many_groups=allow_many_groups,
        metadata=metadata,
        on=on,
        bins=bins,
        score_type=score_type,
        pos_label=pos_label,
    )
