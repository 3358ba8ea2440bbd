"""Group and intersection names: one spelling, unambiguous when values contain the separator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairaudit.data import from_frame
from fairaudit.errors import InputError
from fairaudit.metrics.cells import build_cells, make_partitions
from fairaudit.naming import SEPARATOR, attribute_label, group_label, split_label

# Values made of the characters that could confuse a join: the separator's parts, quotes and
# the escape character.
_VALUE = st.text(alphabet=st.sampled_from(['&', ' ', '"', '\\', 'a', 'b']), max_size=6)


def test_a_value_with_the_separator_is_quoted_inside_an_intersection() -> None:
    assert group_label(["Private & Medicare", "F"]) == '"Private & Medicare" & F'
    assert group_label(["F", "Black"]) == "F & Black"
    assert group_label(['say "hi"', "x"]) == '"say \\"hi\\"" & x'
    # A single attribute's group is its value as it is.
    assert group_label(["Private & Medicare"]) == "Private & Medicare"
    assert attribute_label(["sex", "race"]) == "sex & race"
    assert SEPARATOR == " & "


def test_overlapping_separators_do_not_collide() -> None:
    # Joined plainly both would be "a & & b".
    assert group_label(["a &", "b"]) != group_label(["a", "& b"])
    assert split_label(group_label(["a &", "b"])) == ("a &", "b")


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 3).flatmap(lambda k: st.lists(st.tuples(*[_VALUE] * k), min_size=2, max_size=8)))
def test_labels_are_unique_across_distinct_value_tuples(tuples: list[tuple[str, ...]]) -> None:
    labels = {t: group_label(t) for t in set(tuples)}
    assert len(set(labels.values())) == len(labels)
    for t, label in labels.items():
        assert split_label(label) == t


def test_split_label_rejects_a_malformed_quote() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        split_label('"abc & d')
    with pytest.raises(ValueError, match="after a quoted part"):
        split_label('"abc"d & e')


def _ambiguous_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    # Joined plainly, ("x & y", "z") and ("x", "y & z") would both be "x & y & z".
    a = rng.choice(["x & y", "x"], n)
    b = rng.choice(["z", "y & z"], n)
    return pd.DataFrame({"y": rng.integers(0, 2, n), "score": rng.random(n), "a": a, "b": b})


def test_partitions_give_distinct_names_and_the_values_of_each_group() -> None:
    ds = from_frame(_ambiguous_frame(), label="y", sensitive="a,b", score="score")
    cells = build_cells(ds.labels, ds.scores, ds.group_codes, 0.5)
    parts = {p.name: p for p in make_partitions(cells, ds.attributes, ds.group_names)}
    inter = parts["a & b"]
    assert len(set(inter.groups)) == inter.n_groups == 4
    assert set(inter.values) == {("x & y", "z"), ("x & y", "y & z"), ("x", "z"), ("x", "y & z")}
    for name, values in zip(inter.groups, inter.values, strict=True):
        assert name == group_label(values) and split_label(name) == values
    assert parts["a"].values == tuple((g,) for g in parts["a"].groups)


def test_audit_groups_carry_their_values() -> None:
    from fairaudit.api import audit

    res = audit(_ambiguous_frame(), label="y", sensitive="a,b", n_bootstrap=0, n_permutations=0,
                min_group_size=0, min_group_events=0)
    inter = res.groups_of("a & b")
    assert len({g.group for g in inter}) == 4
    assert {g.values for g in inter} == {("x & y", "z"), ("x & y", "y & z"), ("x", "z"), ("x", "y & z")}
    assert res.group("a & b", '"x & y" & z').values == ("x & y", "z")
    assert res.group("a", "x & y").values == ("x & y",)
    data = res.to_dict()
    assert {tuple(g["values"]) for g in data["groups"] if g["attribute"] == "a & b"} == {
        ("x & y", "z"), ("x & y", "y & z"), ("x", "z"), ("x", "y & z")}


def test_a_column_named_like_an_intersection_is_refused() -> None:
    frame = _ambiguous_frame().rename(columns={"a": "p", "b": "q"})
    frame["p & q"] = "v"
    with pytest.raises(InputError, match="'p & q' has the name of the intersection"):
        from_frame(frame, label="y", sensitive=["p", "q", "p & q"], score="score")
    # Alone, or without both parts, such a column is fine.
    ds = from_frame(frame, label="y", sensitive=["p", "p & q"], score="score")
    assert ds.attributes == ("p", "p & q")


def test_mitigation_names_groups_as_the_audit_does() -> None:
    from fairaudit.mitigation import group_labels
    from fairaudit.mitigation.thresholds import dataset_groups

    frame = _ambiguous_frame()
    ds = from_frame(frame, label="y", sensitive="a,b", score="score")
    names, attribute = dataset_groups(ds, "a & b")
    assert attribute == "a & b"
    expected = [group_label(t) for t in zip(frame["a"], frame["b"], strict=True)]
    assert list(names) == expected
    assert list(group_labels(frame[["a", "b"]])[0]) == expected
    assert len(set(expected)) == 4
