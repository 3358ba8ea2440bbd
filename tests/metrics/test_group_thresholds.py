"""Per-group thresholds: decisions use each row's group threshold, in every partition."""

from __future__ import annotations

import numpy as np
import pytest

import fairaudit
from fairaudit.errors import InputError
from fairaudit.metrics import GroupThresholdSpec
from tests.conftest import make_predictions


def test_each_row_uses_its_groups_threshold_in_every_partition():
    df = make_predictions(3)
    thr = {"White": 0.55, "Black": 0.35, "Asian": 0.5, "Mixed": 0.3}
    spec = GroupThresholdSpec("race", thr, default=None)
    res = fairaudit.audit(df, label="y", sensitive=["sex", "race"], group_thresholds=spec,
                          n_bootstrap=0, n_permutations=0, min_group_size=0, min_group_events=0)
    pred = df.score.to_numpy() >= df.race.map(thr).to_numpy()
    for (attr, col) in (("race", df.race), ("sex", df.sex)):
        for name in col.unique():
            m = (col == name).to_numpy()
            y = df.y.to_numpy()[m]
            expected = pred[m][y == 1].mean()
            assert res.group(attr, name).metrics["tpr"].value == pytest.approx(expected, abs=1e-12)
    assert res.threshold.group_thresholds == thr
    assert res.threshold.group_attribute == "race"


def test_missing_group_without_default_is_an_error():
    df = make_predictions(3)
    spec = GroupThresholdSpec("race", {"White": 0.5}, default=None)
    with pytest.raises(InputError, match="no threshold for group 'Asian'"):
        fairaudit.audit(df, label="y", sensitive="race", group_thresholds=spec, n_bootstrap=0)


def test_thresholds_for_an_attribute_not_audited_is_an_error():
    df = make_predictions(3)
    spec = GroupThresholdSpec("age", {"<40": 0.5}, default=0.5)
    with pytest.raises(InputError, match="not audited"):
        fairaudit.audit(df, label="y", sensitive="race", group_thresholds=spec, n_bootstrap=0)


def test_default_threshold_applies_to_unlisted_groups():
    df = make_predictions(3)
    spec = GroupThresholdSpec("race", {"Black": 0.3}, default=0.6)
    res = fairaudit.audit(df, label="y", sensitive="race", group_thresholds=spec,
                          n_bootstrap=0, n_permutations=0)
    white = df[df.race == "White"]
    expected = (white.score[white.y == 1] >= 0.6).mean()
    assert res.group("race", "White").metrics["tpr"].value == pytest.approx(expected, abs=1e-12)
    assert res.threshold.value == 0.6
    assert not any("default 0.5" in w for w in res.warnings)
    assert np.isfinite(res.overall.metrics["tpr"].value)
