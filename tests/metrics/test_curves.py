"""fairaudit.metrics.curves: ROC, reliability and threshold curves per group, for the report."""

from __future__ import annotations

import numpy as np

from fairaudit.metrics.cells import build_cells, make_partitions
from fairaudit.metrics.curves import CURVE_POINTS, group_curves


def _curves(y: np.ndarray, s: np.ndarray, g: np.ndarray):
    cells = build_cells(y, s, g[:, None], 0.5)
    (part,) = make_partitions(cells, ("grp",), (("a", "b"),))
    return group_curves(cells, part)


def test_curves_are_bounded_monotone_and_end_at_the_origin() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.4).astype(int)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    g = rng.integers(0, 2, 600)
    curves = _curves(y, s, g)
    assert [c.group for c in curves] == ["a", "b"] and all(c.attribute == "grp" for c in curves)
    for c in curves:
        assert len(c.roc_fpr) == len(c.roc_tpr) <= CURVE_POINTS + 1
        assert (c.roc_fpr[-1], c.roc_tpr[-1]) == (0.0, 0.0)
        fpr = np.array(c.roc_fpr, dtype=float)
        assert ((fpr >= 0) & (fpr <= 1)).all() and (np.diff(fpr) <= 1e-12).all()
        assert list(c.thresholds) == sorted(c.thresholds)
        assert sum(c.reliability_count) == int((g == ("ab".index(c.group))).sum())


def test_a_group_without_positives_has_no_tpr_curve() -> None:
    y = np.r_[np.zeros(50, int), np.r_[np.ones(25, int), np.zeros(25, int)]]
    s = np.linspace(0.01, 0.99, 100)
    g = np.r_[np.zeros(50, int), np.ones(50, int)]
    a, b = _curves(y, s, g)
    assert all(v is None for v in a.roc_tpr[:-1]) and all(v is None for v in a.threshold_tpr)
    assert all(v is not None for v in b.roc_tpr)
