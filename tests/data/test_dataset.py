"""encode_groups: every row gets the group its value spells, missing values are 'unknown'."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fairaudit.data.dataset import UNKNOWN, encode_groups

_OBJECTS = st.sampled_from(["F", "M", " F", "", "  ", None, float("nan"), "Black", 1, 1.0, 2.5,
                            "1", "<x>", True, False, 0, "a & b"])


def _spelling(v: object) -> str:
    """The definition, row by row: what encode_groups does with vectorised passes."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return UNKNOWN
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    text = str(v).strip()
    return text if text else UNKNOWN


def _check(series: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    codes, names, n_unknown = encode_groups(series)
    spelt = [names[c] for c in codes]
    assert spelt == [_spelling(v) for v in series.astype(object)]
    assert n_unknown == sum(s == UNKNOWN for s in spelt)
    assert len(set(names)) == len(names)
    if UNKNOWN in names:
        assert names[-1] == UNKNOWN
    return codes, names


@settings(max_examples=200, deadline=None)
@given(st.lists(_OBJECTS, min_size=1, max_size=40))
def test_object_columns_with_mixed_values(values: list) -> None:
    _, names = _check(pd.Series(values, dtype=object))
    known = [n for n in names if n != UNKNOWN]
    assert known == sorted(known)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([1.0, 2.0, 10.0, 3.5, float("nan")]), min_size=1, max_size=40))
def test_numeric_columns_sort_numerically(values: list) -> None:
    _, names = _check(pd.Series(values))
    known = [float(n) for n in names if n != UNKNOWN]
    assert known == sorted(known)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["b", "a", " ", "c", None]), min_size=1, max_size=40))
def test_categorical_columns_keep_category_order(values: list) -> None:
    series = pd.Series(pd.Categorical(values, categories=["c", "b", "a", " ", "z"]))
    _, names = _check(series)
    assert [n for n in names if n != UNKNOWN] == ["c", "b", "a", "z"]


def test_string_and_nullable_dtypes() -> None:
    _check(pd.Series(["x", "", None, " y "], dtype="string"))
    s = pd.Series(pd.array([1, 2, None, 2], dtype="Int64"))
    _, names = _check(s)
    assert names == ("1", "2", UNKNOWN)
    _, names = _check(pd.Series([True, False, True]))
    assert names == ("False", "True")


def test_require_scores_returns_them_or_names_the_source() -> None:
    import pytest

    from fairaudit.data import from_frame
    from fairaudit.errors import InputError

    frame = pd.DataFrame({"y": [0, 1, 1], "score": [0.1, 0.8, 0.6], "sex": ["F", "M", "F"]})
    scored = from_frame(frame, label="y", score="score", sensitive=("sex",), source="p.csv")
    np.testing.assert_array_equal(scored.require_scores(), [0.1, 0.8, 0.6])
    unscored = from_frame(frame.drop(columns=["score"]), label="y", sensitive=["sex"], source="m.csv")
    with pytest.raises(InputError, match="m.csv carries no scores"):
        unscored.require_scores()
