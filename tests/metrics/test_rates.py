"""fairaudit.metrics.rates: confusion rates from one table, group sums, and the AUCs."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics.cells import Partition
from fairaudit.metrics.rates import (
    CONFUSION_CELLS,
    RATES,
    UNDEFINED_REASON,
    aggregate,
    auc_from_wins,
    binned_auc,
    cell_sum,
    confusion_metrics,
    exact_auc,
    group_matrix,
    pairwise_wins,
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


@pytest.mark.parametrize("seed", range(4))
def test_group_sums_of_stacked_partitions_equal_scipys_csr_product_bit_for_bit(seed: int) -> None:
    """The sums run in fine-group order, as SciPy's CSR product adds them (the numbers did not
    change when SciPy left the audit's path)."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    n_fine = int(rng.integers(1, 300))
    parts = [Partition(f"p{i}", (i,), tuple(f"g{j}" for j in range(k)), rng.integers(0, k, n_fine))
             for i, k in enumerate(rng.integers(1, 40, 3))]
    x = rng.standard_normal((n_fine, 5)) * 10.0 ** rng.integers(-9, 9, (n_fine, 1))
    m = group_matrix(parts)
    rows = np.concatenate([p.member + off for p, off in zip(
        parts, np.cumsum([0] + [p.n_groups for p in parts[:-1]]), strict=True)])
    csr = sparse.csr_matrix((np.ones(rows.size), (rows, np.tile(np.arange(n_fine), len(parts)))),
                            shape=m.shape)
    assert np.array_equal(m @ x, csr @ x)
    assert np.array_equal(aggregate(x[:, None, :], parts, 0), (csr @ x)[:, None, :])
    assert np.array_equal(m.toarray(), csr.toarray())
    assert np.array_equal(group_matrix(csr).toarray(), csr.toarray())  # from a SciPy matrix
    w = rng.integers(0, 50, (n_fine, n_fine)).astype(np.float64)
    dense = csr.toarray()
    np.testing.assert_array_equal(m.within(w), np.einsum("gf,fh,gh->g", dense, w, dense))


def test_group_matrix_refuses_what_is_not_a_zero_one_matrix() -> None:
    with pytest.raises(ValueError, match="0 and 1"):
        group_matrix(np.array([[2.0, 0.0]]))
    with pytest.raises(ValueError, match="fine groups"):
        group_matrix(np.array([[1.0, 0.0], [0.0, 1.0]])) @ np.ones((3, 2))


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


def _brute_wins(y: np.ndarray, s: np.ndarray, f: np.ndarray, n_fine: int) -> np.ndarray:
    """``W[f1, f2]`` by its definition: every (positive, negative) pair, ties 1/2."""
    w = np.zeros((n_fine, n_fine))
    for i in np.flatnonzero(y == 1):
        for j in np.flatnonzero(y == 0):
            w[f[i], f[j]] += 1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0
    return w


@pytest.mark.parametrize("max_cells", [1, 7, 64, 1 << 16])
def test_pairwise_wins_equal_the_pair_definition_with_ties_in_any_chunking(max_cells: int) -> None:
    rng = np.random.default_rng(5)
    n, n_fine = 400, 6
    y = (rng.random(n) < 0.3).astype(np.int64)
    s = np.round(rng.random(n), 1)  # 11 distinct scores: long tie runs mixing labels and groups
    s[:50] = rng.random(50)  # and some untied ones
    f = rng.integers(0, n_fine, n)
    got = pairwise_wins(y, s, f, n_fine, np.argsort(s), max_cells=max_cells)
    np.testing.assert_array_equal(got, _brute_wins(y, s, f, n_fine))


def test_pairwise_wins_without_ties_or_with_one_class() -> None:
    rng = np.random.default_rng(6)
    y, s, f = rng.integers(0, 2, 300), rng.random(300), rng.integers(0, 4, 300)
    np.testing.assert_array_equal(pairwise_wins(y, s, f, 4, np.argsort(s), max_cells=10),
                                  _brute_wins(y, s, f, 4))
    ones = np.ones(300, dtype=np.int64)
    assert not pairwise_wins(ones, s, f, 4, np.argsort(s)).any()
    assert pairwise_wins(ones[:0], s[:0], f[:0], 4, np.arange(0)).shape == (4, 4)


def test_aucs_from_wins_equal_the_exact_and_sklearn_aucs_of_every_group() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    n, n_fine = 20_000, 12
    f = rng.integers(0, n_fine, n)
    y = (rng.random(n) < 0.2 + 0.03 * (f % 5)).astype(np.int64)
    s = np.round(1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * y - 1.0 + 0.1 * f))), 3)
    order = np.argsort(s)
    wins = pairwise_wins(y, s, f, n_fine, order)
    member = f % 3  # a partition of 3 groups, each a union of 4 fine groups
    part = Partition("g", (0,), ("a", "b", "c"), np.arange(n_fine) % 3)
    pos = np.bincount(member, weights=y, minlength=3)
    neg = np.bincount(member, minlength=3) - pos
    got = auc_from_wins(wins, part, pos, neg)
    assert np.array_equal(got, exact_auc(y, s, member, 3, order))
    for g in range(3):
        assert got[g] == pytest.approx(roc_auc_score(y[member == g], s[member == g]), abs=1e-12)
