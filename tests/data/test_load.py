"""fairaudit.data.load: one predictions file to a dataset, by the pandas-free reader or pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.data import load_table_dataset
from fairaudit.data.dataset import from_frame


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame({"y": rng.integers(0, 2, n), "p": rng.random(n),
                         "sex": rng.choice(["F", "M"], n), "pid": np.arange(n) // 2})


@pytest.mark.parametrize("options", [{}, {"cluster": "pid"}, {"allow_many_groups": True}])
def test_either_reader_gives_the_dataset_from_frame_gives(tmp_path: Path, options: dict) -> None:
    """Plain files take the pyarrow reader, files with options it does not handle take pandas;
    both give what :func:`from_frame` gives for the same table."""
    df = _table()
    path = tmp_path / "p.parquet"
    df.to_parquet(path, index=False)
    got = load_table_dataset(path, label="y", sensitive="sex", score="p", **options)
    ref = from_frame(df, label="y", sensitive="sex", score="p", **options)
    np.testing.assert_array_equal(got.labels, ref.labels)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.group_codes, ref.group_codes)
    assert got.group_names == ref.group_names
    assert got.source == f"predictions file '{path}'"
    assert (got.clusters is None) == ("cluster" not in options)
    pd.testing.assert_frame_equal(got.frame.reset_index(drop=True), df)
