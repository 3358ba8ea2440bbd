"""Small-cell suppression of counts inside free text (reasons, notes, gate messages, warnings)."""

from __future__ import annotations

import pytest

from fairaudit.report.context import Suppressor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=17 < minimum group size 30", "n<20 < minimum group size 30"),
        ("3 positives < minimum 10; 14 negatives < minimum 10", "<20 positives < minimum 10; <20 negatives < minimum 10"),
        ("4 rows have no value for 'race'", "<20 rows have no value for 'race'"),
        ("n = 25; 0 negatives", "n = 25; 0 negatives"),  # 0 and counts of K or more are shown
        # Bounds are not counts.
        ("fewer than 15 rows in: a, b", "fewer than 15 rows in: a, b"),
        ("fewer than 30 rows or 10 positives/negatives", "fewer than 30 rows or 10 positives/negatives"),
        ("at least 5 rows; minimum 10", "at least 5 rows; minimum 10"),
        # Numbers that are not counts of people stay.
        ("AUC 0.812 (95% CI 0.7 to 0.9); 3 groups", "AUC 0.812 (95% CI 0.7 to 0.9); 3 groups"),
    ],
)
def test_counts_in_text_are_hidden(text, expected):
    assert Suppressor(20).text(text) == expected


def test_no_suppression_leaves_text_alone():
    assert Suppressor(0).text("n=3 < minimum group size 30") == "n=3 < minimum group size 30"
