"""fairaudit.models.evaluation: the selection scores and the threshold rule of training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairaudit.errors import InputError
from fairaudit.models.evaluation import overall_auc, roc_auc, worst_group_auc, youden_threshold


def test_auc_counts_ties_as_half_and_is_nan_for_one_class() -> None:
    assert roc_auc(np.array([0.1, 0.4, 0.4, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(0.875)
    assert math.isnan(roc_auc(np.array([0.1, 0.2]), np.array([1, 1])))
    assert overall_auc(np.array([0.2, 0.8]), np.array([0, 1]), np.array([0, 1])) == 1.0


def test_worst_group_auc_skips_groups_without_both_classes() -> None:
    s = np.array([0.1, 0.9, 0.8, 0.2, 0.5, 0.6])
    y = np.array([0, 1, 0, 1, 1, 1])
    g = np.array([0, 0, 1, 1, 2, 2])  # group 2 has positives only
    assert worst_group_auc(s, y, g) == 0.0
    assert math.isnan(worst_group_auc(s[4:], y[4:], g[4:]))


def test_youden_threshold_separates_separable_scores_midway() -> None:
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    y = np.array([0, 0, 0, 1, 1])
    t = youden_threshold(s, y)
    assert t == pytest.approx(0.5)
    assert ((s >= t) == y.astype(bool)).all()
    with pytest.raises(InputError, match="both positive and negative"):
        youden_threshold(s, np.ones(5))
