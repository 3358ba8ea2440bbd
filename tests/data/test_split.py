"""fairaudit.data.split: one split of a predictions table, by its split column's value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.data.split import load_split_dataset
from fairaudit.errors import InputError


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "y": rng.integers(0, 2, n), "p": rng.random(n), "sex": rng.choice(["F", "M"], n),
        "fold": np.where(np.arange(n) % 4 == 0, " test ", "train"),
    })


def test_the_rows_of_one_split_value_after_stripping(tmp_path: Path) -> None:
    path = tmp_path / "preds.csv"
    _frame().to_csv(path, index=False)
    ds = load_split_dataset(path, "fold", "test", label="y", sensitive="sex", score="p", cluster=None)
    assert ds.n_rows == 10
    assert "(fold = test)" in ds.source
    frame = _frame()
    np.testing.assert_allclose(ds.scores, frame.p[frame.fold.str.strip() == "test"])
    other = load_split_dataset(frame, "fold", "train", label="y", sensitive="sex", score="p", cluster=None)
    assert other.n_rows == 30 and other.source == "<DataFrame> (fold = train)"


def test_a_missing_split_column_or_value_names_what_there_is(tmp_path: Path) -> None:
    frame = _frame()
    with pytest.raises(InputError, match="no split column 'split' \\(`split_column`\\); its columns are: y, p, sex, fold"):
        load_split_dataset(frame, "split", "test", label="y", sensitive="sex", score="p", cluster=None)
    with pytest.raises(InputError, match="no rows with fold = 'val' \\(`split`\\); its values are: test, train"):
        load_split_dataset(frame, "fold", "val", label="y", sensitive="sex", score="p", cluster=None)
