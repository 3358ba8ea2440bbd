"""fairaudit.metrics.rates: confusion rates from one table, group sums, and the AUCs."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics.rates import (
    CONFUSION_CELLS,
    RATES,
    UNDEFINED_REASON,
    aggregate,
    binned_auc,
    cell_sum,
    confusion_metrics,
    exact_auc,
    group_matrix,
)
from fairaudit.metrics.simultaneous import scales
from fairaudit.result import METRIC_NAMES, METRICS

# Two groups: [label, decision] counts. Group 0: tn=50 fp=10 fn=5 tp=35; group 1 has no positives.
CONF = np.array([[[50, 10], [5, 35]], [[8, 2], [0, 0]]], dtype=np.float64)


def test_every_confusion_rate_matches_its_definition() -> None:
    m = confusion_metrics(CONF)
    tn, fp, fn, tp = 50, 10, 5, 35
    expected = {
        "prevalence": (tp + fn) / 100, "tpr": tp / (tp + fn), "fpr": fp / (tn + fp),
        "tnr": tn / (tn + fp), "fnr": fn / (tp + fn), "ppv": tp / (tp + fp), "npv": tn / (tn + fn),
        "selection_rate": (tp + fp) / 100, "accuracy": (tp + tn) / 100,
        "balanced_accuracy": (tp / (tp + fn) + tn / (tn + fp)) / 2,
    }
    assert set(m) == set(expected)
    for name, value in expected.items():
        assert m[name][0] == pytest.approx(value), name


def test_a_rate_with_an_empty_denominator_is_nan_not_zero() -> None:
    m = confusion_metrics(CONF)
    for name in ("tpr", "fnr", "balanced_accuracy"):
        assert np.isnan(m[name][1]), name
    assert m["fpr"][1] == pytest.approx(0.2) and m["prevalence"][1] == 0.0


def test_every_metric_is_computed_scaled_and_explained() -> None:
    special = {"balanced_accuracy", "auc", "brier", "ece"}  # not a single confusion rate
    assert set(RATES) | special == set(METRIC_NAMES)
    assert UNDEFINED_REASON == {name: info.undefined for name, info in METRICS.items()}
    point = {**confusion_metrics(CONF), "auc": np.array([0.8, np.nan])}
    assert set(scales(point, CONF)) == set(METRIC_NAMES)


def test_a_rates_scale_is_its_denominators_count() -> None:
    point = {**confusion_metrics(CONF), "auc": np.array([0.8, np.nan])}
    sc = scales(point, CONF)
    for name, (_num, den) in RATES.items():
        n = cell_sum(CONF, den)
        np.testing.assert_array_equal(sc[name].n, np.where(n > 0, n, np.nan), err_msg=name)


def test_cell_sum_reads_the_named_cells() -> None:
    assert CONFUSION_CELLS["fp"] == (0, 1)
    np.testing.assert_array_equal(cell_sum(CONF, ("tp",)), [35, 0])
    np.testing.assert_array_equal(cell_sum(CONF, ("tn", "fp", "fn", "tp")), CONF.sum(axis=(-2, -1)))


def test_group_matrix_and_aggregate_sum_fine_groups() -> None:
    dense = np.array([[1, 1, 0], [0, 0, 1]], dtype=np.float64)
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.testing.assert_array_equal(aggregate(x, dense, 0), dense @ x)
    assert group_matrix(group_matrix(dense)).toarray().tolist() == dense.tolist()


def test_binned_and_exact_auc_agree_without_ties_across_bins() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.4
    s = np.where(y, rng.normal(1, 1, 200), rng.normal(0, 1, 200))
    pos, neg = s[y], s[~y]
    want = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    got = exact_auc(y.astype(int), s, np.zeros(200, dtype=np.int64), 1)
    assert got[0] == pytest.approx(want)
    # One bin per distinct score: the binned AUC is the exact one.
    edges = np.sort(np.unique(s))
    bins = np.searchsorted(edges, s)
    count = np.zeros((1, 2, edges.size))
    np.add.at(count, (0, y.astype(int), bins), 1)
    assert binned_auc(count)[0] == pytest.approx(want)
