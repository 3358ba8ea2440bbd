"""fairaudit.metrics.significance: permutation p-values, exact random tables, q-values."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics.criteria import criterion_values
from fairaudit.metrics.rates import confusion_metrics
from fairaudit.metrics.significance import benjamini_hochberg, permutation_pvalues, random_tables


def _observed(conf: np.ndarray) -> dict[str, float]:
    m = confusion_metrics(conf)
    names = ("demographic_parity_difference", "equal_opportunity_difference", "equalized_odds_difference")
    return {name: float(criterion_values(name, m)) for name in names}


def test_identical_groups_are_not_significant_and_a_planted_gap_is() -> None:
    same = np.array([[[80, 20], [10, 40]], [[80, 20], [10, 40]]], dtype=np.float64)
    gap = np.array([[[80, 20], [10, 40]], [[95, 5], [35, 15]]], dtype=np.float64)
    p_same = permutation_pvalues(same, _observed(same), 400, np.random.default_rng(0))
    p_gap = permutation_pvalues(gap, _observed(gap), 400, np.random.default_rng(0))
    assert set(p_same) == set(_observed(same))
    assert min(p_same.values()) > 0.5
    assert max(p_gap.values()) < 0.01
    assert min(p_gap.values()) >= 1 / 401  # never 0: the observed table counts


def test_p_values_do_not_depend_on_group_order() -> None:
    conf = np.array([[[80, 20], [10, 40]], [[95, 5], [25, 25]], [[60, 30], [15, 30]]], dtype=np.float64)
    a = permutation_pvalues(conf, _observed(conf), 200, np.random.default_rng(3))
    b = permutation_pvalues(conf[::-1].copy(), _observed(conf[::-1]), 200, np.random.default_rng(3))
    assert a == b


@pytest.mark.parametrize("total", [12, 400])  # the shuffle sampler and the hypergeometric one
def test_random_tables_keep_their_margins(total: int) -> None:
    rows = np.array([total // 4, total // 4, total // 2])
    cols = np.array([total // 2, total // 3, total - total // 2 - total // 3])
    tables = random_tables(rows, cols, 50, np.random.default_rng(1))
    assert tables.shape == (50, 3, 3)
    np.testing.assert_array_equal(tables.sum(axis=2), np.broadcast_to(rows, (50, 3)))
    np.testing.assert_array_equal(tables.sum(axis=1), np.broadcast_to(cols, (50, 3)))
    assert (tables >= 0).all() and len({t.tobytes() for t in tables}) > 1


def test_benjamini_hochberg_matches_the_step_up_rule() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5])
    q = benjamini_hochberg(p)
    # sorted 0.01, 0.03, 0.04, 0.5 -> p*m/rank 0.04, 0.06, 0.0533, 0.5 -> running min from the top
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert (q >= p).all() and (q <= 1).all()
    assert benjamini_hochberg(np.array([])).size == 0


def test_a_criterion_over_a_rate_without_a_permutation_test_gets_no_p_value(monkeypatch) -> None:
    from fairaudit.metrics import criteria, significance

    table = {**criteria.CRITERIA, "predictive_parity_difference": (("ppv",), "difference")}
    monkeypatch.setattr(significance, "CRITERIA", table)
    conf = np.array([[[80, 20], [10, 40]], [[95, 5], [35, 15]]], dtype=np.float64)
    observed = {**_observed(conf), "predictive_parity_difference": 0.2}
    p = permutation_pvalues(conf, observed, 50, np.random.default_rng(0))
    assert "predictive_parity_difference" not in p and "equalized_odds_difference" in p


def test_many_rows_in_few_cells_draw_all_permutations_in_one_chunk(monkeypatch) -> None:
    """Regression: chunks were sized by rows even when tables are drawn per cell, so a
    1M-row audit made a Python call per cell for every 8 tables (15 s instead of 1 s)."""
    from types import SimpleNamespace

    from fairaudit.metrics import significance

    seen: list[int] = []
    real = significance.random_tables_by_group

    def spy(rows, cols, r, rng):
        seen.append(r)
        return real(rows, cols, r, rng)

    monkeypatch.setattr(significance, "random_tables_by_group", spy)
    count = np.full((4, 2, 30), 10_000)  # 2.4M rows in 240 cells: the hypergeometric sampler
    part = SimpleNamespace(member=np.array([0, 0, 1, 1]), n_groups=2, attributes=(0,))
    p = significance.auc_permutation_pvalues(count, [part], np.array([True]), [2], 300,
                                             np.random.default_rng(0))
    assert seen == [300, 300]  # one chunk per class
    assert 0 < p[0] <= 1
