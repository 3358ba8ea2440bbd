"""Threshold adjustment as a variant (:mod:`fairaudit.mitigation.threshold_variant`)."""

from __future__ import annotations

import pytest

from fairaudit.data import from_frame
from fairaudit.errors import ConfigError
from fairaudit.mitigation.threshold_variant import (
    ThresholdSettings,
    columns,
    pooled_threshold,
    resolve_target,
    threshold_variant,
)
from fairaudit.workflows import mitigate as pipeline
from tests.conftest import make_predictions


def test_pipeline_re_exports_the_threshold_names() -> None:
    assert pipeline.ThresholdSettings is ThresholdSettings
    assert pipeline.threshold_variant is threshold_variant
    assert pipeline.pooled_threshold is pooled_threshold


def test_resolve_target_and_columns() -> None:
    ds = from_frame(make_predictions(1, n=400), label="y", sensitive=["sex", "race"], score="score")
    assert columns("sex, race") == ("sex", "race")
    assert resolve_target(None, ds) == ("sex", "race")
    assert resolve_target("race", ds) == ("race",)
    with pytest.raises(ConfigError, match="`target`"):
        resolve_target("age", ds)


def test_threshold_variant_keeps_test_scores_and_fits_on_validation() -> None:
    val = from_frame(make_predictions(2, n=2000), label="y", sensitive=["race"], score="score")
    test = make_predictions(3, n=500)
    base = pooled_threshold(val, val.scores)
    variant, gt = threshold_variant(val, val.scores, test["score"].to_numpy(), target=("race",),
                                    base_threshold=base, settings=ThresholdSettings())
    assert variant.group_thresholds is gt and gt.attribute == "race"
    assert variant.scores.shape == (500,) and variant.threshold == base
    assert "level_down_check" in variant.provenance
