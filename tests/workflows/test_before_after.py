"""fairaudit.workflows.before_after: every variant audited on the same test rows, do no harm."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.comparison_result import Variant
from fairaudit.data import from_frame
from fairaudit.errors import ConfigError
from fairaudit.workflows.before_after import compare_variants
from tests.conftest import make_predictions

SETTINGS = {"n_bootstrap": 100, "seed": 0, "min_group_size": 20, "min_group_events": 5}


@pytest.fixture(scope="module")
def test_set():
    frame = make_predictions(5, n=3000)
    return from_frame(frame, label="y", score="score", sensitive="race"), frame


def test_an_identical_variant_harms_no_one_and_a_broken_one_does(test_set) -> None:
    ds, frame = test_set
    scores = frame["score"].to_numpy()
    broken = scores.copy()
    white = (frame["race"] == "White").to_numpy()
    broken[white] = np.random.default_rng(0).permutation(broken[white])  # no signal left
    comparison = compare_variants(ds, [
        Variant("baseline", scores, 0.5), Variant("same", scores.copy(), 0.5, method="threshold"),
        Variant("broken", broken, 0.5, method="threshold"),
    ], attribute="race", **SETTINGS)
    verdicts = {v.name: v.verdict for v in comparison.variants}
    assert verdicts["baseline"] == "baseline" and verdicts["same"] == "no harm detected"
    assert verdicts["broken"] in ("harm", "levelling down")
    harmed = {(c.group, c.metric) for c in comparison.changes if c.variant == "broken" and c.status == "harmed"}
    assert ("White", "auc") in harmed
    assert set(comparison.audits) == {"baseline", "same", "broken"}
    assert comparison.audits["same"].groups == comparison.audits["baseline"].groups


def test_variants_must_be_named_once_and_the_baseline_must_exist(test_set) -> None:
    ds, frame = test_set
    s = frame["score"].to_numpy()
    with pytest.raises(ConfigError, match="nothing to compare"):
        compare_variants(ds, [], **SETTINGS)
    with pytest.raises(ConfigError, match="unique"):
        compare_variants(ds, [Variant("a", s), Variant("a", s)], **SETTINGS)
    with pytest.raises(ConfigError, match="baseline 'z' is not among"):
        compare_variants(ds, [Variant("a", s)], baseline="z", **SETTINGS)
