"""fairaudit.naming: the one spelling of group and intersection labels, and its inverse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairaudit.naming import SEPARATOR, attribute_label, group_label, split_label


def test_a_single_value_is_itself_even_with_the_separator_inside() -> None:
    assert group_label(["F"]) == "F"
    assert group_label(["Private & Medicare"]) == "Private & Medicare"
    assert group_label([3]) == "3"


def test_parts_are_joined_by_the_separator() -> None:
    assert SEPARATOR == " & "
    assert group_label(["F", "Black"]) == "F & Black"
    assert attribute_label(["sex", "race"]) == "sex & race"
    assert group_label(("a", "b", "c")) == "a & b & c"


def test_a_part_with_an_ampersand_or_a_quote_is_quoted_and_escaped() -> None:
    assert group_label(["Private & Medicare", "F"]) == '"Private & Medicare" & F'
    assert group_label(['say "hi"', "F"]) == '"say \\"hi\\"" & F'
    assert group_label(["back\\slash&", "F"]) == '"back\\\\slash&" & F'
    assert attribute_label(["race & ethnicity", "sex"]) == '"race & ethnicity" & sex'


def test_split_label_inverts_the_examples() -> None:
    assert split_label("F & Black") == ("F", "Black")
    assert split_label('"Private & Medicare" & F') == ("Private & Medicare", "F")
    assert split_label('"say \\"hi\\"" & F') == ('say "hi"', "F")
    assert split_label("plain") == ("plain",)


@pytest.mark.parametrize("bad", ['"unterminated & F', '"quoted"F', '"quoted" and F'])
def test_split_label_rejects_malformed_quotes(bad: str) -> None:
    with pytest.raises(ValueError, match="group label|after a quoted part"):
        split_label(bad)


@given(st.lists(st.text(max_size=12), min_size=2, max_size=4))
def test_labels_of_two_or_more_parts_round_trip(parts: list[str]) -> None:
    assert split_label(group_label(parts)) == tuple(parts)


@given(st.lists(st.text(max_size=8), min_size=2, max_size=3),
       st.lists(st.text(max_size=8), min_size=2, max_size=3))
def test_distinct_tuples_of_the_same_length_get_distinct_labels(a: list[str], b: list[str]) -> None:
    if len(a) == len(b) and a != b:
        assert group_label(a) != group_label(b)
