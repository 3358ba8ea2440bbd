"""Binning numeric attributes: the same intervals as pandas.cut(right=False), quantile cut points
recorded, missing values unknown, and the continuous-column guard pointing at --bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairaudit.data import from_frame
from fairaudit.data.binning import bin_column, bin_labels, fixed_cuts, parse_bins
from fairaudit.errors import ConfigError, InputError


def _pandas_labels(x: pd.Series, cuts) -> pd.Series:
    """What pandas.cut(right=False) assigns, spelt with fairaudit's labels."""
    edges = [-np.inf, *cuts, np.inf]
    codes = pd.cut(pd.to_numeric(x), edges, right=False, labels=False)
    labels = np.asarray(bin_labels(cuts), dtype=object)
    return pd.Series([None if np.isnan(c) else labels[int(c)] for c in codes], dtype=object)


@pytest.fixture
def ages() -> pd.Series:
    rng = np.random.default_rng(3)
    x = pd.Series(rng.integers(18, 95, 500).astype(float), name="age")
    x[rng.random(500) < 0.05] = np.nan
    return x


def test_labels_follow_the_issue() -> None:
    assert bin_labels([40, 60, 80]) == ("< 40", "[40, 60)", "[60, 80)", ">= 80")
    assert bin_labels([52.75]) == ("< 52.75", ">= 52.75")
    assert bin_labels([1.0000001, 1.0000002])[1] == "[1.0000001, 1.0000002)"  # distinct even when close


def test_cut_points_match_pandas_cut(ages) -> None:
    binned, info = bin_column(ages, (40.0, 60.0, 80.0), None, column="age", source="t")
    expected = _pandas_labels(ages, [40, 60, 80])
    got = binned.astype(object).where(binned.notna(), None)
    assert got.tolist() == expected.tolist()
    assert info.method == "cut_points" and info.cuts == (40.0, 60.0, 80.0) and info.q is None
    assert list(binned.cat.categories) == ["< 40", "[40, 60)", "[60, 80)", ">= 80"]
    assert binned.isna().sum() == ages.isna().sum()  # missing stays missing


def test_values_on_a_cut_point_go_to_the_upper_interval() -> None:
    binned, _ = bin_column(pd.Series([39.999, 40, 59.5, 60, 80, 81]), (40, 60, 80), None, column="a", source="t")
    assert binned.tolist() == ["< 40", "[40, 60)", "[40, 60)", "[60, 80)", ">= 80", ">= 80"]


def test_quantile_cuts_are_numpy_quantiles_and_bin_like_pandas(ages) -> None:
    binned, info = bin_column(ages, (), 4, column="age", source="t")
    cuts = np.quantile(ages.dropna(), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(info.cuts, cuts)
    assert info.method == "quantile" and info.q == 4
    expected = _pandas_labels(ages, list(info.cuts))
    assert binned.astype(object).where(binned.notna(), None).tolist() == expected.tolist()
    counts = binned.value_counts()
    assert counts.min() > 0.15 * ages.notna().sum()  # roughly equal quarters


def test_quantile_ties_merge_and_unused_bins_are_dropped() -> None:
    x = pd.Series([1, 1, 1, 1, 1, 1, 2, 3])
    binned, info = bin_column(x, (), 4, column="a", source="t")
    assert info.cuts == tuple(np.unique(np.quantile(x, [0.25, 0.5, 0.75])))
    assert "< 1" not in info.labels and set(binned) == set(info.labels)


def test_text_numbers_are_binned_and_text_is_refused() -> None:
    binned, _ = bin_column(pd.Series(["45", " 70 ", ""], dtype=object), (60,), None, column="a", source="t")
    assert binned.tolist()[:2] == ["< 60", ">= 60"] and pd.isna(binned.iloc[2])
    with pytest.raises(InputError, match=r"column 'age' in t is binned but holds the non-numeric value 'old' at data row 2"):
        bin_column(pd.Series(["45", "old"]), (60,), None, column="age", source="t")


@pytest.mark.parametrize(("spec", "expected"), [
    ("age=40,60,80", {"age": ((40.0, 60.0, 80.0), None)}),
    (["age=q4", "bmi=25, 30"], {"age": ((), 4), "bmi": ((25.0, 30.0), None)}),
    ({"age": [40, 60], "bmi": "q3"}, {"age": ((40.0, 60.0), None), "bmi": ((), 3)}),
    (None, {}),
])
def test_parse_bins(spec, expected) -> None:
    assert parse_bins(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("age", r"`bins` takes COLUMN=CUTS or COLUMN=qN"),
    ("age=q1", r"q1 makes one bin"),
    ("age=60,40", r"must increase strictly"),
    ("age=40,x", r"expected comma-separated numbers"),
    (["age=q4", "age=40"], r"names column 'age' twice"),
    ("age=inf", r"finite"),
])
def test_bad_bins_name_the_parameter(spec, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_bins(spec)


def test_from_frame_bins_groups_but_keeps_the_raw_column(ages) -> None:
    frame = pd.DataFrame({"y": np.arange(len(ages)) % 2, "score": 0.5, "age": ages})
    ds = from_frame(frame, label="y", sensitive="age", score="score", bins="age=40,60,80")
    assert ds.group_names[0] == ("< 40", "[40, 60)", "[60, 80)", ">= 80", "unknown")
    assert ds.unknown_counts["age"] == ages.isna().sum()
    assert (ds.group_labels("age") == _pandas_labels(ages, [40, 60, 80]).fillna("unknown")).all()
    pd.testing.assert_series_equal(ds.frame["age"], ages)  # a model still reads the raw age
    assert ds.bins["age"].cuts == (40.0, 60.0, 80.0)
    assert fixed_cuts(ds.bins) == {"age": [40.0, 60.0, 80.0]}


def test_bins_must_name_a_sensitive_column(ages) -> None:
    frame = pd.DataFrame({"y": 0, "score": 0.5, "age": ages, "sex": "F"})
    with pytest.raises(ConfigError, match=r"`bins` names 'age', not a sensitive column"):
        from_frame(frame, label="y", sensitive="sex", score="score", bins="age=q4")


def test_the_continuous_guard_shows_the_bins_to_use(ages) -> None:
    frame = pd.DataFrame({"y": 0, "score": 0.5, "age": ages})
    with pytest.raises(InputError, match=r"bin it first: --bins age=q4 or --bins age=\d+,\d+,\d+ "
                                         r"\(bins=\{'age': 'q4'\} in Python\)") as info:
        from_frame(frame, label="y", sensitive="age", score="score")
    suggested = str(info.value).split("--bins ")[2].split(" ")[0]
    ds = from_frame(frame, label="y", sensitive="age", score="score", bins=suggested)  # and it works
    assert len(ds.group_names[0]) == 5


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=60),
    cuts=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6, unique=True),
)
def test_property_bins_equal_pandas_cut(values, cuts) -> None:
    cuts = sorted(cuts)
    x = pd.Series([np.nan if v is None else v for v in values], dtype=float)
    binned, _ = bin_column(x, tuple(cuts), None, column="x", source="t")
    edges = [-np.inf, *cuts, np.inf]
    codes = pd.cut(x, edges, right=False, labels=False).to_numpy()
    labels = bin_labels(cuts)
    got = binned.astype(object).where(binned.notna(), None).tolist()
    assert got == [None if np.isnan(c) else labels[int(c)] for c in codes]
