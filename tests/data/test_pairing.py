"""fairaudit.data.pairing: two tables paired row by row on an ID, or refused with counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairaudit.data.pairing import id_values, pair_ids
from fairaudit.errors import InputError


def test_ids_pair_in_any_order_and_numbers_pair_with_their_spelling() -> None:
    ref = id_values(pd.DataFrame({"id": [12, 7, 3]}), "id", "baseline")
    other = id_values(pd.DataFrame({"id": ["3 ", "12", "7"]}), "id", "candidate")
    idx = pair_ids(ref, other, reference_source="baseline", other_source="candidate")
    np.testing.assert_array_equal(other[idx], ref)
    np.testing.assert_array_equal(idx, [1, 2, 0])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"x": [1]}), "baseline has no ID column 'id' \\(`id_column`\\); its columns are: x"),
        (pd.DataFrame({"id": ["a", None, "c"]}), "empty in 1 row\\(s\\) \\(first: data row 2\\)"),
        (pd.DataFrame({"id": ["a", "b", "a", "b", "c"]}), "2 ID\\(s\\) in 'id' occur more than once \\(e.g. 'a', 'b'\\)"),
    ],
)
def test_missing_column_empty_and_duplicated_ids_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        id_values(frame, "id", "baseline")


def test_unmatched_ids_on_either_side_are_counted_with_examples() -> None:
    ref = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)
    other = np.array(["a", "b", "x"], dtype=object)
    with pytest.raises(InputError) as info:
        pair_ids(ref, other, reference_source="baseline", other_source="candidate")
    text = str(info.value)
    assert "4 of 6 ID(s) of baseline are not in candidate (e.g. 'c', 'd', 'e' and 1 more)" in text
    assert "1 of 3 ID(s) of candidate are not in baseline (e.g. 'x')" in text
    assert "\n" not in text


def test_an_empty_other_side_pairs_nothing() -> None:
    with pytest.raises(InputError, match="2 of 2 ID\\(s\\) of baseline are not in candidate"):
        pair_ids(np.array(["a", "b"], dtype=object), np.array([], dtype=object),
                 reference_source="baseline", other_source="candidate")
