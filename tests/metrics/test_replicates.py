"""The fast replicate paths equal the reference computations they replace.

- ReplicateMetrics (counts on occupied cells) == group_metrics on the dense (F, 2, B) layout.
- Both row-bootstrap samplers (multinomial over cells, uniform row positions) and the
  Poissonised patient-type sampler draw the same multinomial as NumPy's.
- The AUC permutation p-values (partition tables summed from parents) == a direct computation
  from the same random tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics import significance
from fairaudit.metrics.bootstrap import ClusterBootstrap, ReplicateStreams, RowBootstrap, TypeCounts
from fairaudit.metrics.cells import build_cells, make_partitions, overall_partition
from fairaudit.metrics.rates import aggregate, group_matrix, group_metrics
from fairaudit.metrics.replicates import ReplicateMetrics
from fairaudit.metrics.significance import (
    SEQUENTIAL_EXCEEDANCES,
    auc_permutation_pvalues,
    chunk_sizes,
    merge_bins,
    random_tables_by_group,
)


def _table(seed: int, n: int = 3000, sizes=(3, 4, 5), tied: bool = True, thresholds: bool = True):
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, k, n) for k in sizes], axis=1)
    y = (rng.random(n) < 0.3).astype(np.int64)
    s = rng.random(n)
    if tied:
        s = np.round(s, 2)
    thr = np.where(codes[:, 0] == 1, 0.3, 0.5) if thresholds else 0.5
    cells = build_cells(y, s, codes, thr)
    names = tuple(tuple(f"v{i}" for i in range(k)) for k in sizes)
    attrs = tuple(f"a{j}" for j in range(len(sizes)))
    return cells, [overall_partition(cells.n_fine), *make_partitions(cells, attrs, names)], y


COMPILED = pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "kernel"])


@COMPILED
@pytest.mark.parametrize("seed,sizes", [(0, (3, 4, 5)), (1, (2,)), (2, (40,)), (3, (2, 2))])
def test_replicate_metrics_equal_the_dense_computation(seed, sizes, compiled):
    cells, parts, _ = _table(seed, sizes=sizes)
    plan = ReplicateMetrics(cells, parts, compiled=compiled)
    dense = RowBootstrap(cells).draw(ReplicateStreams(seed), 0, 9)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(cells.count > 0, cells.ssum / cells.count, 0.0)
        mean_sq = np.where(cells.count > 0, cells.ssq / cells.count, 0.0)
    ref = group_metrics(dense, dense * mean, dense * mean_sq, cells, parts)
    got = plan.rows(dense.reshape(9, -1)[:, plan.occupied])
    assert set(ref) <= set(got)
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-12, equal_nan=True, err_msg=key)
    # The AUC sums are exact (integers and halves), not merely close.
    assert np.array_equal(np.nan_to_num(got["auc"]), np.nan_to_num(ref["auc"]))


def _moments_match(draws: np.ndarray, n: int, p: np.ndarray) -> None:
    assert (draws.sum(axis=1) == n).all()
    np.testing.assert_allclose(draws.mean(axis=0), n * p, atol=4 * np.sqrt(n * p / len(draws)).max() + 1e-9)
    np.testing.assert_allclose(draws.var(axis=0), n * p * (1 - p), rtol=0.12, atol=0.02)
    c = np.cov(draws[:, :2].T)[0, 1]
    assert c == pytest.approx(-n * p[0] * p[1], abs=0.12 * n * np.sqrt(p[0] * p[1]))


@pytest.mark.parametrize("by_index", [False, True])
def test_both_row_samplers_draw_the_multinomial(monkeypatch, by_index):
    cells, _, _ = _table(4, n=600, sizes=(6,), tied=False, thresholds=False)
    monkeypatch.setattr(RowBootstrap, "INDEX_COST", 10**9 if by_index else 0)
    boot = RowBootstrap(cells)
    assert boot._by_index is by_index
    x = boot.draw_rows(ReplicateStreams(0), 0, 6000)  # (r, K)
    counts = cells.count.ravel()[boot.occupied]
    _moments_match(x, int(counts.sum()), counts / counts.sum())
    again = boot.draw_rows(ReplicateStreams(0), 0, 6000)
    assert np.array_equal(x, again)  # deterministic per seed


def test_index_sampler_does_not_depend_on_row_order(monkeypatch):
    monkeypatch.setattr(RowBootstrap, "INDEX_COST", 10**9)
    rng = np.random.default_rng(5)
    n = 500
    y, s, g = rng.integers(0, 2, n), rng.random(n), rng.integers(0, 7, (n, 1))
    perm = rng.permutation(n)
    a = RowBootstrap(build_cells(y, s, g, 0.5)).draw(ReplicateStreams(1), 0, 50)
    b = RowBootstrap(build_cells(y[perm], s[perm], g[perm], 0.5)).draw(ReplicateStreams(1), 0, 50)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("sampler", ["multinomial", "by_index", "patients", "patient_types"])
def test_a_replicate_is_the_same_in_any_chunk(monkeypatch, sampler):
    """Replicate i draws from stream i only: drawn alone, in a chunk, or after others, the
    same counts (what lets chunks run on several threads)."""
    rng = np.random.default_rng(11)
    n = 1500
    y, s, g = rng.integers(0, 2, n), rng.random(n), rng.integers(0, 3, (n, 1))
    cells = build_cells(y, s, g, 0.5, n_quantiles=4)
    if sampler in ("multinomial", "by_index"):
        monkeypatch.setattr(RowBootstrap, "INDEX_COST", 10**9 if sampler == "by_index" else 0)
        boot = RowBootstrap(cells)
    else:
        monkeypatch.setattr(ClusterBootstrap, "POISSON_FROM", 1 if sampler == "patient_types" else 10**9)
        boot = ClusterBootstrap(cells, y, np.arange(n) // 3)
    streams = ReplicateStreams(4)
    whole = boot.draw_rows(streams, 0, 12)
    parts = np.vstack([boot.draw_rows(streams, a, b - a) for a, b in ((0, 5), (5, 6), (6, 12))])
    assert np.array_equal(whole, parts)
    assert np.array_equal(boot.draw_rows(streams, 7, 1)[0], whole[7])
    assert not np.array_equal(whole[0], whole[1])  # replicates differ
    assert not np.array_equal(boot.draw_rows(ReplicateStreams(5), 0, 12), whole)


@pytest.mark.parametrize("margin", [TypeCounts.MARGIN_SD, 0.0])  # adding draws; both branches
def test_poissonised_type_counts_draw_the_multinomial(monkeypatch, margin):
    # Small and large multiplicities (above MAX_TABLE: NumPy's Poisson sampler).
    monkeypatch.setattr(TypeCounts, "MARGIN_SD", margin)
    m = np.array([1, 1, 1, 2, 3, 5, 8, 13, 1500])
    tc = TypeCounts(m)
    k = tc.draw(ReplicateStreams(0).span(0, 40000))[:, np.argsort(tc.order)]
    _moments_match(k, int(m.sum()), m / m.sum())


def test_patient_bootstrap_by_poissonisation_matches_resampling_patients(monkeypatch):
    rng = np.random.default_rng(0)
    n = 3000
    cl = np.unique(rng.integers(0, 1200, n), return_inverse=True)[1]
    y, s, g = rng.integers(0, 2, n), rng.random(n), rng.integers(0, 2, (n, 1))
    cells = build_cells(y, s, g, 0.5, n_quantiles=4)
    monkeypatch.setattr(ClusterBootstrap, "POISSON_FROM", 1)
    boot = ClusterBootstrap(cells, y, cl)
    assert boot._types is not None
    r = 20000
    fast = boot.draw(ReplicateStreams(1), 0, r).reshape(r, -1)
    cell = cells.cell_index(y)
    per_patient = np.zeros((boot.n_clusters, fast.shape[1]))
    np.add.at(per_patient, (cl, cell), 1)
    naive = np.stack([per_patient[rng.integers(0, boot.n_clusters, boot.n_clusters)].sum(0)
                      for _ in range(5000)])
    np.testing.assert_allclose(fast.mean(0), naive.mean(0), atol=0.6)
    np.testing.assert_allclose(np.cov(fast[:, :10].T), np.cov(naive[:, :10].T), atol=6.0)


def _reference_auc_pvalues(count, parts, eligible, n_perm, rng):
    """The direct computation: every partition's tables summed from the fine tables, every
    partition's statistic for every permutation (drawn in the same chunks), then the
    Besag-Clifford rule on each sequence: p = h / L at the h-th exceedance L, else
    (1 + X) / (1 + N)."""
    count = np.rint(count).astype(np.int64)
    canon = np.lexsort(count.reshape(count.shape[0], -1).T[::-1])
    count = merge_bins(count[canon], sum(p.n_groups for p in parts))
    m = group_matrix(parts).toarray()[:, canon]
    offsets = np.cumsum([0] + [p.n_groups for p in parts])

    def ranges(neg, pos):  # (r, G_total, B)
        below = np.cumsum(neg, axis=-1) - neg
        auc = (pos * (below + 0.5 * neg)).sum(axis=-1) / (pos.sum(axis=-1) * neg.sum(axis=-1))
        return np.stack([auc[:, a:b].max(axis=-1) - auc[:, a:b].min(axis=-1)
                         for a, b in zip(offsets[:-1], offsets[1:], strict=True)], axis=-1)

    obs = ranges(aggregate(count[None, :, 0, :], m, 1), aggregate(count[None, :, 1, :], m, 1))[0]
    stats = []
    for r in chunk_sizes(n_perm, n_perm):
        neg = random_tables_by_group(count[:, 0].sum(1), count[:, 0].sum(0), r, rng).transpose(1, 0, 2)
        pos = random_tables_by_group(count[:, 1].sum(1), count[:, 1].sum(0), r, rng).transpose(1, 0, 2)
        stats.append(ranges(aggregate(neg.astype(float), m, 1), aggregate(pos.astype(float), m, 1)))
    cum = np.cumsum(np.concatenate(stats) >= obs[None, :] - 1e-12, axis=0)
    h = SEQUENTIAL_EXCEEDANCES
    p, used = np.full(len(parts), np.nan), np.zeros(len(parts), dtype=np.int64)
    for i in np.flatnonzero(eligible):
        hits = np.flatnonzero(cum[:, i] >= h)
        used[i] = hits[0] + 1 if hits.size else n_perm
        p[i] = h / used[i] if hits.size else (1 + cum[-1, i]) / (1 + n_perm)
    return p, used


@pytest.mark.parametrize("seed,sizes,budget", [(0, (3, 4, 2), None), (1, (5,), None),
                                              (2, (2, 3), None), (3, (3, 4), 400)])
def test_auc_permutation_pvalues_equal_the_direct_computation(monkeypatch, seed, sizes, budget):
    # every chunk drawn at the fine level, as the reference does (drawing at a coarser level
    # once the finer partitions have stopped is tested in test_significance.py)
    monkeypatch.setattr(significance, "base_partition", lambda parts, active, n_fine: -1)
    if budget is not None:  # bins merged (few cells allowed per group)
        monkeypatch.setattr(significance, "PERM_CELLS", budget)
    cells, parts, _ = _table(seed, n=800, sizes=sizes, thresholds=False)
    parts = parts[1:]
    merged = merge_bins(cells.count, sum(p.n_groups for p in parts)).shape[2]
    assert (merged < cells.n_bins) == (budget is not None)
    by_class = cells.count.sum(axis=2)  # (F, 2)
    eligible = np.array([bool((aggregate(by_class, p, 0) > 0).all()) for p in parts])
    assert eligible.any()
    n_perm = 300
    got = auc_permutation_pvalues(cells.count, parts, eligible, [p.n_groups for p in parts], n_perm,
                                  np.random.default_rng(seed))
    ref = _reference_auc_pvalues(cells.count, parts, eligible, n_perm, np.random.default_rng(seed))
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


@pytest.mark.parametrize("seed,sizes", [(0, (3, 4, 2)), (4, (2, 3, 2, 2))])
def test_every_draw_level_gives_each_partition_its_own_statistic(seed, sizes):
    """Tables drawn at a coarser level (once the finer partitions' tests have stopped): the
    data's own tables at that level give every partition summed from it the same AUC range
    as the fine tables do (group order, memberships and class totals line up)."""
    cells, parts, _ = _table(seed, n=2000, sizes=sizes, thresholds=False)
    parts = parts[1:]
    count = np.rint(cells.count).astype(np.int64)
    member = [np.asarray(p.member) for p in parts]
    on = np.ones(len(parts), dtype=bool)
    fine = significance.draw_level(count, parts, member, -1)
    ref = significance.auc_ranges(fine.counts[:, None, 0], fine.counts[:, None, 1], fine.steps,
                                  fine.totals, on)[0]
    checked = 0
    for b, part in enumerate(parts):
        if part.n_groups >= count.shape[0]:
            continue
        lv = significance.draw_level(count, parts, member, b)
        got = significance.auc_ranges(lv.counts[:, None, 0], lv.counts[:, None, 1], lv.steps,
                                      lv.totals, on[lv.keep])[0]
        np.testing.assert_allclose(got, ref[lv.keep])
        assert len(lv.keep) == 2 ** len(part.attributes) - 1  # itself and every sub-intersection
        checked += 1
    assert checked == len(parts) - 1


@COMPILED
def test_replicate_aucs_with_one_class_groups_and_many_tiny_groups(compiled):
    """Groups with only positives or only negatives, a partition with one group, groups of one
    row and a cell count that fills no whole block of the cumulative sums: still the dense
    computation, AUC sums exactly."""
    rng = np.random.default_rng(7)
    n = 1500
    g = rng.integers(0, 230, n)
    y = (rng.random(n) < 0.35).astype(np.int64)
    y[g == 0], y[g == 1] = 1, 0  # group 0 only positives, group 1 only negatives
    s = np.round(rng.random(n), 3)
    h = rng.integers(0, 3, n)
    cells = build_cells(y, s, np.stack([g, h], axis=1), 0.5)
    names = (tuple(f"g{i}" for i in range(230)), ("a", "b", "c"))
    parts = [overall_partition(cells.n_fine), *make_partitions(cells, ("g", "h"), names)]
    plan = ReplicateMetrics(cells, parts, compiled=compiled)
    dense = RowBootstrap(cells).draw(ReplicateStreams(3), 0, 7)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(cells.count > 0, cells.ssum / cells.count, 0.0)
        mean_sq = np.where(cells.count > 0, cells.ssq / cells.count, 0.0)
    ref = group_metrics(dense, dense * mean, dense * mean_sq, cells, parts)
    got = plan.rows(dense.reshape(7, -1)[:, plan.occupied])
    assert np.array_equal(np.nan_to_num(got["auc"], nan=-1.0), np.nan_to_num(ref["auc"], nan=-1.0))
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-12, equal_nan=True, err_msg=key)


def test_replicate_plan_memory_bound_counts_every_array_alive():
    """A partition's counts are kept until its last child is built: the plan's width is the
    most rows alive at once, more than any one partition's and less than all of them."""
    cells, parts, _ = _table(0, sizes=(3, 4, 5))
    plan = ReplicateMetrics(cells, parts, compiled=False)  # the NumPy path's AUC plan
    auc = plan._auc
    rows = [auc.layouts[i].n_rows for i in range(len(parts))]
    assert max(rows) < auc.max_cells < sum(rows)
    assert plan.width >= auc.max_cells


@pytest.mark.parametrize("seed,sizes", [(0, (3, 4, 5)), (2, (40,))])
def test_metrics_written_by_the_kernel_are_the_numpy_bits(seed, sizes):
    """rows_into (compiled: metrics computed in C straight into the output rows) gives exactly
    the bits of rows() on the kernel's sums (the NumPy metric code), at any row offset."""
    from fairaudit.metrics import kernels
    from fairaudit.result import METRIC_NAMES

    if not kernels.available():
        pytest.skip("kernels not built")
    cells, parts, _ = _table(seed, sizes=sizes)
    plan = ReplicateMetrics(cells, parts, compiled=True)
    x = RowBootstrap(cells).draw_rows(ReplicateStreams(seed), 0, 11)
    ref = plan.rows(x)
    full = {k: np.full((15, ref["auc"].shape[1]), -7.0) for k in METRIC_NAMES}
    plan.rows_into(x, full, 3)
    for key in METRIC_NAMES:
        assert np.array_equal(full[key][3:14], ref[key], equal_nan=True), key
        assert (full[key][:3] == -7.0).all() and (full[key][14:] == -7.0).all(), key
    with pytest.raises(ValueError, match="room for the replicates"):
        plan.rows_into(x, full, 5)
    # Balanced accuracy is the mean of TPR and TNR as written: without their outputs, refused
    # (the kernel would otherwise read through a null address).
    table = plan._tables[tuple(METRIC_NAMES)]
    outs = [full[k] if k != "tnr" else None for k in METRIC_NAMES]
    with pytest.raises(ValueError, match="balanced_accuracy.*averages"):
        kernels.replicate_metrics(x, plan._layout, table, outs, 0)
