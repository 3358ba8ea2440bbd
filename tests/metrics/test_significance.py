"""fairaudit.metrics.significance: permutation p-values, exact random tables, q-values."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics.criteria import criterion_values
from fairaudit.metrics.rates import confusion_metrics
from fairaudit.metrics.significance import (
    FIRST_CHUNK,
    SEQUENTIAL_EXCEEDANCES,
    SequentialPValues,
    auc_permutation_pvalues,
    benjamini_hochberg,
    chunk_sizes,
    permutation_pvalues,
    random_tables,
)


def _observed(conf: np.ndarray) -> dict[str, float]:
    m = confusion_metrics(conf)
    names = ("demographic_parity_difference", "equal_opportunity_difference", "equalized_odds_difference")
    return {name: float(criterion_values(name, m)) for name in names}


def test_identical_groups_are_not_significant_and_a_planted_gap_is() -> None:
    same = np.array([[[80, 20], [10, 40]], [[80, 20], [10, 40]]], dtype=np.float64)
    gap = np.array([[[80, 20], [10, 40]], [[95, 5], [35, 15]]], dtype=np.float64)
    r_same = permutation_pvalues(same, _observed(same), 400, np.random.default_rng(0))
    r_gap = permutation_pvalues(gap, _observed(gap), 400, np.random.default_rng(0))
    p_same = {k: p for k, (p, _n) in r_same.items()}
    p_gap = {k: p for k, (p, _n) in r_gap.items()}
    assert set(p_same) == set(_observed(same))
    assert min(p_same.values()) > 0.5
    assert max(p_gap.values()) < 0.01
    assert min(p_gap.values()) >= 1 / 401  # never 0: the observed table counts
    # Clearly null tests stop early (h exceedances within the first chunk); the planted gap
    # runs all 400 permutations.
    assert all(n <= FIRST_CHUNK for _p, n in r_same.values())
    assert all(n == 400 for _p, n in r_gap.values())


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
    count[2:, 1, 15:] *= 3  # groups 2-3 rank their positives higher: the test runs to the end
    p, used = significance.auc_permutation_pvalues(count, [part], np.array([True]), [2], 300,
                                                   np.random.default_rng(0))
    # the sequential chunks (32, 64, 128, rest), not chunks capped by the rows; one per class
    assert seen == [32, 32, 64, 64, 128, 128, 76, 76]
    assert p[0] == 1 / 301 and used[0] == 300


def test_a_test_stops_at_the_exact_permutation_of_its_h_th_exceedance() -> None:
    """L is the index of the h-th exceedance inside the chunk, not the chunk's end; later
    exceedances do not count; a test that never reaches h gets (1 + X) / (1 + N)."""
    h = SEQUENTIAL_EXCEEDANCES
    seq = SequentialPValues(3, 100)
    first = np.zeros((32, 3), dtype=bool)
    first[:h - 1, 0] = True  # test 0: h - 1 exceedances in the first chunk ...
    first[::8, 2] = True  # test 2: 4 exceedances
    seq.update(first)
    second = np.zeros((64, 3), dtype=bool)
    second[[4, 5, 40], 0] = True  # ... the h-th at permutation 32 + 4 + 1 = 37
    second[:, 1] = True  # test 1: h exceedances at permutations 33..42
    seq.update(second)
    assert not seq.running[:2].any() and seq.running[2]
    seq.update(np.zeros((4, 3), dtype=bool))
    p, used = seq.result()
    assert used.tolist() == [37, 32 + h, 100]
    np.testing.assert_allclose(p, [h / 37, h / (32 + h), (1 + 4) / 101])


def test_chunks_double_from_the_first_and_respect_the_cap() -> None:
    assert chunk_sizes(1000, 1000) == [32, 64, 128, 256, 520]
    assert chunk_sizes(100, 50) == [32, 50, 18]
    assert sum(chunk_sizes(7, 3)) == 7


def test_sequential_p_values_are_valid_under_a_continuous_null() -> None:
    """Observed and permuted statistics exchangeable (i.i.d. uniforms): P(p <= a) ~ a.
    The Besag-Clifford p-value is exact here; the share of p <= a stays within 3 binomial
    SDs of a (4,000 simulated tests, 500 permutations at most)."""
    rng = np.random.default_rng(11)
    sims, n_max = 4000, 500
    obs = rng.random(sims)
    seq = SequentialPValues(sims, n_max)
    for r in chunk_sizes(n_max, n_max):
        seq.update(rng.random((r, sims)) >= obs[None, :])
    p, used = seq.result()
    for a in (0.05, 0.2, 0.5):
        sd = np.sqrt(a * (1 - a) / sims)
        assert abs(np.mean(p <= a) - a) < 3 * sd, (a, np.mean(p <= a))
    assert np.median(used) < 64  # half the tests (p > ~0.3) stop within the first chunks


def test_criterion_p_values_are_valid_on_simulated_null_data() -> None:
    """Groups that share one decision and label model (small, seeded): the share of p <= 0.05
    and p <= 0.2 stays within 3 binomial SDs above the nominal level for every criterion."""
    rng = np.random.default_rng(5)
    sims, n_max = 500, 200
    ps: dict[str, list[float]] = {}
    for _ in range(sims):
        y = rng.random((3, 60)) < 0.4
        d = rng.random((3, 60)) < np.where(y, 0.7, 0.3)
        conf = np.stack([[[(~yy & ~dd).sum(), (~yy & dd).sum()], [(yy & ~dd).sum(), (yy & dd).sum()]]
                         for yy, dd in zip(y, d, strict=True)]).astype(np.float64)
        for name, (p, _n) in permutation_pvalues(conf, _observed(conf), n_max, rng).items():
            ps.setdefault(name, []).append(p)
    for name, values in ps.items():
        arr = np.array(values)
        for a in (0.05, 0.2):
            assert np.mean(arr <= a) < a + 3 * np.sqrt(a * (1 - a) / sims), (name, a)
        assert np.mean(arr <= 0.5) > 0.35  # not degenerate (conservative only through ties)


def _two_partitions() -> tuple[np.ndarray, list]:
    """Fine groups of two attributes: 'a' (2 groups) with a planted AUC gap, 'b' (2 groups)
    without; cell counts (4, 2, 12)."""
    from types import SimpleNamespace

    bins = np.arange(12)
    neg = 40 * np.exp(-((bins - 4) ** 2) / 8)
    pos_hi, pos_lo = 20 * np.exp(-((bins - 9) ** 2) / 8), 20 * np.exp(-((bins - 6) ** 2) / 8)
    count = np.rint(np.stack([[neg, pos_hi], [neg, pos_hi], [neg, pos_lo], [neg, pos_lo]]))
    parts = [SimpleNamespace(member=np.array([0, 0, 1, 1]), n_groups=2, attributes=(0,)),
             SimpleNamespace(member=np.array([0, 1, 0, 1]), n_groups=2, attributes=(1,))]
    return count, parts


def test_auc_tests_stop_per_partition_and_a_planted_gap_keeps_its_smallest_p() -> None:
    count, parts = _two_partitions()
    both = auc_permutation_pvalues(count, parts, np.array([True, True]), [2, 2], 500,
                                   np.random.default_rng(2))
    alone = auc_permutation_pvalues(count, parts, np.array([True, False]), [2, 2], 500,
                                    np.random.default_rng(2))
    (p_a, p_b), (n_a, n_b) = both
    assert p_a < 0.01 and n_a == 500  # the planted gap runs every permutation
    assert n_b < 500 and p_b == SEQUENTIAL_EXCEEDANCES / n_b  # the null one stopped early
    # tested alone (its tables drawn over its own 2 groups from the start), the same p
    assert p_a == alone[0][0] == 1 / 501 and alone[1][0] == n_a and np.isnan(alone[0][1])


def test_once_the_finer_partitions_stop_the_tables_are_drawn_for_the_coarsest_running_one(monkeypatch) -> None:
    """'b' stops in the first chunk; 'a' runs on, and its later tables are drawn over its own 2
    groups, not the 4 fine groups. Exactness of that level: if every later draw is the data's
    own table for 'a', every one of them is an exceedance, so 'a' stops exactly h draws into
    the second chunk (a wrong group order or total would give a different statistic)."""
    from fairaudit.metrics import significance

    count, parts = _two_partitions()
    coarse = [np.stack([count[:2, y].sum(axis=0), count[2:, y].sum(axis=0)]) for y in (0, 1)]
    real = significance.random_tables_by_group
    sizes: list[int] = []

    def fake(rows, cols, r, rng):
        sizes.append(len(rows))
        if len(rows) == 4:  # the fine level: real draws
            return real(rows, cols, r, rng)
        table = next(t for t in coarse if (t.sum(axis=0) == cols).all())
        picked = [table[int(np.flatnonzero(table.sum(axis=1) == n)[0])] for n in rows]
        return np.repeat(np.stack(picked)[:, None, :], r, axis=1).astype(np.int64)

    monkeypatch.setattr(significance, "random_tables_by_group", fake)
    p, used = auc_permutation_pvalues(count, parts, np.array([True, True]), [2, 2], 500,
                                      np.random.default_rng(2))
    assert sizes == [4, 4, 2, 2]  # chunk 1 fine (both run), chunk 2 at the level of 'a'
    assert used[1] <= FIRST_CHUNK  # 'b' (null) stopped in the first chunk
    # 'a' had no exceedance among its 32 real draws (a planted gap), then h in a row
    assert used[0] == FIRST_CHUNK + SEQUENTIAL_EXCEEDANCES
    assert p[0] == SEQUENTIAL_EXCEEDANCES / used[0]


@pytest.mark.parametrize("sampler", ["shuffle", "cells", "rows"])
def test_every_table_sampler_draws_the_shuffle_distribution(monkeypatch, sampler) -> None:
    """Each of the three samplers keeps both margins, and every cell has the hypergeometric
    mean and variance of a uniform shuffle of the items (4,000 tables, 5 % / 10 %)."""
    from fairaudit.metrics import significance

    monkeypatch.setattr(significance, "table_sampler", lambda *args: sampler)
    rows, cols = np.array([30, 50, 20]), np.array([40, 25, 35])
    t = random_tables(rows, cols, 4000, np.random.default_rng(4))
    assert (t.sum(axis=2) == rows).all() and (t.sum(axis=1) == cols).all()
    n = cols.sum()
    mean = rows[:, None] * cols[None, :] / n
    var = mean * (n - cols[None, :]) / n * (n - rows[:, None]) / (n - 1)
    np.testing.assert_allclose(t.mean(axis=0), mean, rtol=0.05)
    np.testing.assert_allclose(t.var(axis=0), var, rtol=0.1)


def test_the_cheapest_sampler_is_chosen() -> None:
    from fairaudit.metrics.significance import table_sampler

    assert table_sampler(100, 5, 16, 1000) == "shuffle"  # few items
    assert table_sampler(1_000_000, 40, 456, 32) == "rows"  # many bins, few tables
    assert table_sampler(1_000_000, 5, 16, 1000) == "cells"  # few cells, many tables


def test_the_audit_records_the_rule_and_the_permutations_each_p_value_used() -> None:
    """Schema 1.4: ``criteria[].n_permutations`` (at most the maximum; a p-value of h / L
    when it stopped early) and the rule in ``run.p_value_method``."""
    import pandas as pd

    from fairaudit.api import audit

    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "score": rng.random(n),
                       "site": rng.choice(["a", "b", "c"], n)})
    res = audit(df, label="y", sensitive="site", threshold=0.5, n_bootstrap=0,
                n_permutations=300, seed=0)
    assert "at most 300 permutations" in res.run.p_value_method
    assert f"{SEQUENTIAL_EXCEEDANCES} permutations at least as extreme" in res.run.p_value_method
    tested = [c for c in res.criteria if c.p_value is not None]
    assert tested and all(1 <= c.n_permutations <= 300 for c in tested)
    for c in tested:
        stopped = c.n_permutations < 300
        assert not stopped or c.p_value == SEQUENTIAL_EXCEEDANCES / c.n_permutations
    assert any(c.n_permutations < 300 for c in tested)  # fair data: most stop early
    assert res.to_dict()["criteria"][0]["n_permutations"] == res.criteria[0].n_permutations

