"""The comparison types (:mod:`fairaudit.comparison_result`)."""

from __future__ import annotations

import json

import numpy as np

from fairaudit.comparison_result import Comparison, GroupChange, Variant, VariantSummary
from fairaudit.mitigation import compare


def test_compare_re_exports_the_types() -> None:
    assert (compare.Variant, compare.Comparison, compare.GroupChange, compare.VariantSummary) == (
        Variant, Comparison, GroupChange, VariantSummary)


def test_comparison_json_is_clean() -> None:
    change = GroupChange("v", "race", "a", "tpr", np.float64(0.5), 0.4, -0.1, (-0.2, float("nan")),
                         "unchanged")
    comp = Comparison(baseline="baseline", attribute="race", variants=(), changes=(change,),
                      audits={}, settings={"n": np.int64(2)})
    data = json.loads(comp.to_json())
    assert data["format"] == "fairaudit-comparison" and data["settings"] == {"n": 2}
    assert data["do_no_harm"][0]["ci"] == [-0.2, None]
    assert comp.changes_of("v", "unchanged") == (change,)
