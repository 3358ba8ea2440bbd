"""Sensitive columns that cannot be attributes: many numeric values, or an identifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairaudit.data import from_frame
from fairaudit.data.dataset import MAX_NUMERIC_GROUPS, check_group_count
from fairaudit.errors import InputError


def _frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "y": rng.integers(0, 2, n),
        "score": rng.random(n),
        "age": rng.integers(18, 90, n),  # raw ages: ~70 distinct numbers
        "site": rng.integers(1, MAX_NUMERIC_GROUPS + 1, n),  # integer-coded, 20 sites
        "hospital": rng.choice([f"H{i:02d}" for i in range(40)], n),  # 40 named sites
        "patient": [f"P{i:05d}" for i in range(n)],  # an identifier
    })


def test_numeric_column_with_many_values_is_refused() -> None:
    frame = _frame()
    n_age = frame["age"].nunique()
    with pytest.raises(InputError) as e:
        from_frame(frame, label="y", sensitive="age", score="score")
    msg = str(e.value)
    assert "'age'" in msg and f"numeric with {n_age} distinct values" in msg
    assert "bin it first" in msg and "--allow-many-groups" in msg and "\n" not in msg


def test_identifier_column_is_refused() -> None:
    with pytest.raises(InputError, match=r"'patient' .* has 600 distinct values in 600 rows \(an identifier\?\)"):
        from_frame(_frame(), label="y", sensitive="patient", score="score")


def test_allow_many_groups_lifts_the_refusal() -> None:
    ds = from_frame(_frame(), label="y", sensitive="age,patient", score="score", allow_many_groups=True)
    assert len(ds.group_names[1]) == 600


@pytest.mark.parametrize("column", ["site", "hospital"])
def test_few_numeric_values_or_many_named_groups_pass(column: str) -> None:
    # 20 integer codes is the limit; 40 text groups over 600 rows are not an identifier.
    ds = from_frame(_frame(), label="y", sensitive=column, score="score")
    assert len(ds.group_names[0]) == _frame()[column].nunique()


def test_limits_are_strict_and_missing_values_do_not_count() -> None:
    n = 100
    values = pd.Series(np.r_[np.arange(MAX_NUMERIC_GROUPS, dtype=float), [np.nan] * (n - MAX_NUMERIC_GROUPS)])
    check_group_count(values, MAX_NUMERIC_GROUPS, "t", "c")  # exactly the limit: accepted
    ds = from_frame(pd.DataFrame({"y": [0, 1] * (n // 2), "c": values}), label="y", sensitive="c")
    assert ds.group_names[0][-1] == "unknown" and len(ds.group_names[0]) == MAX_NUMERIC_GROUPS + 1
    with pytest.raises(InputError, match="numeric with 21 distinct"):
        check_group_count(pd.Series(np.arange(21.0).repeat(5)), 21, "t", "c")
    # 21 text values in 42 rows: just at half the rows, not refused; in 41 rows it is.
    check_group_count(pd.Series([f"v{i}" for i in range(21)] * 2), 21, "t", "c")
    with pytest.raises(InputError, match="an identifier"):
        check_group_count(pd.Series([f"v{i}" for i in range(21)] * 2)[:41], 21, "t", "c")


def test_categorical_numbers_are_not_refused_as_numeric() -> None:
    # A categorical dtype is the user saying "these are groups"; only the identifier rule applies.
    cats = pd.Categorical(np.arange(600) % 30)
    check_group_count(pd.Series(cats), 30, "t", "c")


def test_manifest_passes_the_flag(tmp_path) -> None:
    from fairaudit.data.manifest import load_manifest

    frame = _frame(60).assign(image_path="", note="", sex="F", lab_a=1.0)
    path = tmp_path / "manifest.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="'patient'"):
        load_manifest(path, label="y", sensitive="patient")
    ds = load_manifest(path, label="y", sensitive="patient", allow_many_groups=True)
    assert len(ds.group_names[0]) == 60
