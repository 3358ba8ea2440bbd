"""Mergeable statistics: exact merges, the merged finaliser against the in-memory engine, and
the partition-independent Poisson bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.data.stream import MISSING as STREAM_MISSING
from fairaudit.metrics.engine import AuditConfig, compute_audit
from fairaudit.metrics.merged import audit_stats
from fairaudit.metrics.poisson import bucket_of, poisson_weights
from fairaudit.metrics.rates import exact_auc
from fairaudit.metrics.stats import MISSING, auc_from_stats, merge, merge_all, reduce_rows

NAMES = (("a", "b", "c"), ("F", "M"))
ATTRS = ("race", "sex")


def rows(n: int = 3000, seed: int = 0, tied: bool = False):
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1)
    y = (rng.random(n) < 0.3 + 0.1 * codes[:, 0]).astype(np.int8)
    s = np.clip(rng.normal(0.3 + 0.3 * y - 0.05 * codes[:, 1], 0.2), 0.0, 1.0)
    if tied:
        s = np.round(s, 2)
    return y, s, codes, np.arange(n, dtype=np.uint64)


def reduce(y, s, codes, keys, idx=None, names=NAMES, n_buckets=64):
    idx = np.arange(y.size) if idx is None else idx
    return reduce_rows(y[idx], s[idx], codes[idx], names, attributes=ATTRS, numeric=(False, False),
                       cut_points=np.array([0.5]), keys=keys[idx], seed=3, n_buckets=n_buckets)


def flat(parts) -> dict:
    """Every number of the audit parts, keyed by where it is."""
    out = {}
    for g in parts.groups:
        for k, e in g.metrics.items():
            out[(g.attribute, g.group, k)] = (e.value, e.ci, e.simultaneous_ci)
    for c in parts.criteria:
        out[(c.attribute, c.name)] = (c.value, c.ci, c.p_value, c.q_value)
    for s in parts.summaries:
        out[(s.attribute, s.metric, "summary")] = (s.sd, s.sd_ci, s.ser, s.ser_ci)
    return out


def test_missing_sentinel_is_shared_by_reader_and_statistics():
    assert STREAM_MISSING == MISSING


def test_merge_is_exact_and_independent_of_the_split():
    y, s, codes, keys = rows()
    whole = reduce(y, s, codes, keys)
    rng = np.random.default_rng(1)
    pieces = [reduce(y, s, codes, keys, idx) for idx in np.array_split(rng.permutation(y.size), 5)]
    merged = merge_all(pieces[::-1])
    # Fine groups are numbered by discovery, so compare through the canonical finaliser input.
    from fairaudit.metrics.stats import canonical

    a, b = canonical(whole), canonical(merged)
    for field in ("key", "count", "smin", "smax", "ckey", "s1", "s2", "bkey", "bcount", "fine_codes"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert b.n_rows == y.size


def test_merge_refuses_statistics_of_different_audits():
    y, s, codes, keys = rows(200)
    a = reduce(y, s, codes, keys)
    b = reduce_rows(y, s, codes, NAMES, attributes=ATTRS, numeric=(False, False),
                    cut_points=np.array([0.3]), keys=keys, seed=3, n_buckets=64)
    with pytest.raises(ValueError, match="cannot be merged"):
        merge(a, b)


def test_merged_audit_matches_the_in_memory_engine():
    y, s, codes, keys = rows()
    cfg = AuditConfig(n_bootstrap=0, n_permutations=0)
    ref = flat(compute_audit(y, s, codes, NAMES, ATTRS, cfg))
    got = audit_stats(reduce(y, s, codes, keys, n_buckets=0), cfg)
    new = flat(got.parts)
    assert ref.keys() == new.keys()
    for key, (v, *_rest) in ref.items():
        if len(key) == 3 and key[2] in ("auc",) and v is not None:
            assert abs(new[key][0] - v) <= got.auc_error_bound + 1e-12, key
        elif len(key) == 3 and key[2] != "summary" and v is not None:
            assert new[key][0] == pytest.approx(v, abs=1e-12), key  # counts, Brier, ECE exact


def test_auc_is_exact_when_no_grid_cell_holds_two_scores():
    y, s, codes, keys = rows(tied=True)  # scores on a 0.01 grid: every fine cell one value
    st = reduce(y, s, codes, keys)
    auc, bound = auc_from_stats(st, np.zeros(st.n_fine, np.int64), 1)
    assert bound[0] == 0.0
    assert auc[0] == pytest.approx(exact_auc(y, s, np.zeros(y.size, np.int64), 1)[0], abs=1e-14)


def test_auc_orders_pairs_inside_a_cell_by_the_classes_score_ranges():
    y, s, codes, keys = rows(5000, seed=4)  # few pairs share a cell, and never overlap
    st = reduce(y, s, codes, keys)
    auc, bound = auc_from_stats(st, st.fine_codes[:, 0], 3)
    np.testing.assert_allclose(auc, exact_auc(y, s, codes[:, 0], 3), rtol=0, atol=1e-14)
    assert np.all(bound == 0)


def test_auc_error_is_within_the_bound_when_cells_are_crowded():
    rng = np.random.default_rng(5)
    n = 40000
    y = (rng.random(n) < 0.4).astype(np.int8)
    s = 0.5 + rng.random(n) * 1e-4 * (0.6 + 0.4 * y)  # all in a few cells of width 2**-16
    codes = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1)
    st = reduce(y, s, codes, np.arange(n, dtype=np.uint64))
    auc, bound = auc_from_stats(st, st.fine_codes[:, 0], 3)
    err = np.abs(auc - exact_auc(y, s, codes[:, 0], 3))
    assert np.all(bound > 0.01) and np.all(err <= bound)


def test_poisson_replicates_do_not_depend_on_the_partitioning():
    y, s, codes, keys = rows(2500)
    cfg = AuditConfig(n_bootstrap=100, n_permutations=100, seed=5)
    results = []
    for k in (1, 2, 7):
        idx = np.array_split(np.random.default_rng(k).permutation(y.size), k)
        st = merge_all([reduce(y, s, codes, keys, i) for i in idx])
        results.append(flat(audit_stats(st, cfg, method="poisson").parts))
    assert results[0] == results[1] == results[2]
    other_seed = audit_stats(reduce(y, s, codes, keys), AuditConfig(n_bootstrap=100, n_permutations=100, seed=6),
                             method="poisson")
    assert flat(other_seed.parts) != results[0]


def test_poisson_weights_are_poisson_one_and_a_pure_function_of_the_counter():
    w = poisson_weights(7, np.arange(4000), np.arange(50))
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.var() == pytest.approx(1.0, abs=0.02)
    assert np.mean(w == 0) == pytest.approx(np.exp(-1), abs=0.005)
    np.testing.assert_array_equal(poisson_weights(7, np.arange(10, 20), np.arange(5, 8)), w[5:8, 10:20])
    b = bucket_of(np.arange(100000, dtype=np.uint64), 0, 1024)
    assert b.min() == 0 and b.max() == 1023 and np.bincount(b).min() > 50


def test_groups_seen_in_different_partitions_get_one_order():
    y, s, codes, keys = rows(1200)
    names_rev = (("c", "b", "a"), ("M", "F"))  # the same groups discovered in another order
    codes_rev = np.stack([2 - codes[:, 0], 1 - codes[:, 1]], axis=1)
    half = np.arange(600)
    a = merge(reduce(y, s, codes, keys, half), reduce(y, s, codes_rev, keys, half + 600, names_rev))
    b = reduce(y, s, codes, keys)
    cfg = AuditConfig(n_bootstrap=100, n_permutations=0)
    assert flat(audit_stats(a, cfg, method="poisson").parts) == flat(audit_stats(b, cfg, method="poisson").parts)
    assert [g.group for g in audit_stats(a, cfg).parts.groups][:3] == ["a", "b", "c"]


def test_patients_are_counted_exactly_for_any_split_and_only_when_asked():
    y, s, codes, _ = rows()
    patients = np.random.default_rng(5).integers(0, 700, y.size).astype(np.uint64) * np.uint64(977)
    truth = np.unique(patients).size

    def counted(idx):
        return reduce_rows(y[idx], s[idx], codes[idx], NAMES, attributes=ATTRS,
                           numeric=(False, False), cut_points=np.array([0.5]), keys=patients[idx],
                           seed=3, n_buckets=64, count_keys=True)

    from fairaudit.metrics.stats import canonical

    rng = np.random.default_rng(2)
    for k in (1, 2, 7):
        parts = [counted(idx) for idx in np.array_split(rng.permutation(y.size), k)]
        merged = canonical(merge_all([parts[i] for i in rng.permutation(k)]))
        assert merged.distinct_keys.count() == truth and not merged.distinct_keys.estimated
        np.testing.assert_array_equal(merged.distinct_keys.exact, np.unique(patients))
    assert reduce(y, s, codes, patients).distinct_keys is None  # row ids are not counted
    with pytest.raises(ValueError, match="cannot be merged"):
        merge(counted(np.arange(10)), reduce(y, s, codes, patients, np.arange(10, 20)))
