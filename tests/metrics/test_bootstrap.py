"""The resamplers: the patient bootstrap over patient types equals resampling patients."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics.bootstrap import (
    ClusterBootstrap,
    ReplicateStreams,
    RowBootstrap,
    percentile_ci,
)
from fairaudit.metrics.cells import build_cells


def _cells(seed: int = 0, n: int = 3000, clusters: int = 1200):
    rng = np.random.default_rng(seed)
    cl = np.unique(rng.integers(0, clusters, n), return_inverse=True)[1]  # codes 0..C-1
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    g = rng.integers(0, 2, (n, 1))
    return build_cells(y, s, g, 0.5, n_quantiles=4), y, cl


def test_patient_types_merge_interchangeable_patients():
    cells, y, cl = _cells()
    boot = ClusterBootstrap(cells, y, cl)
    cell = cells.cell_index(y)
    signatures = {tuple(sorted(cell[cl == c])) for c in np.unique(cl)}
    assert boot.n_types == len(signatures) < boot.n_clusters


def test_patient_types_when_the_first_hash_word_collides():
    """Types are told apart by the first 64-bit word of their hash when it separates them;
    a collision there (forced) falls back to whole rows, with np.unique(axis=0)'s result."""
    from fairaudit.metrics.bootstrap import _cluster_cell_order, _unique_rows

    rng = np.random.default_rng(5)
    h = rng.integers(0, 50, (400, 2)).astype(np.uint64)
    h[:, 1] = h[:, 0] * 7  # the second word follows the first: no collision
    ref = np.unique(h, axis=0, return_index=True, return_inverse=True, return_counts=True)
    for got, want in zip(_unique_rows(h), ref[1:], strict=True):
        np.testing.assert_array_equal(got, np.asarray(want).ravel())
    h[0, 1] += 1  # now rows 0 and another row share the first word only
    ref = np.unique(h, axis=0, return_index=True, return_inverse=True, return_counts=True)
    for got, want in zip(_unique_rows(h), ref[1:], strict=True):
        np.testing.assert_array_equal(got, np.asarray(want).ravel())
    clusters, cell = rng.integers(0, 30, 500), rng.integers(0, 40, 500)
    np.testing.assert_array_equal(_cluster_cell_order(clusters, cell, 40), np.lexsort((cell, clusters)))
    huge = np.array([2**62, 0, 2**62])  # a combined key would overflow: lexsort
    np.testing.assert_array_equal(_cluster_cell_order(huge, np.array([1, 0, 0]), 40), [1, 2, 0])


def test_patient_bootstrap_matches_resampling_patients():
    """Mean and covariance of replicate cell counts agree with the naive patient bootstrap."""
    cells, y, cl = _cells()
    boot = ClusterBootstrap(cells, y, cl)
    r = 20000
    fast = boot.draw(ReplicateStreams(1), 0, r).reshape(r, -1)
    cell = cells.cell_index(y)
    per_patient = np.zeros((boot.n_clusters, fast.shape[1]))
    np.add.at(per_patient, (cl, cell), 1)
    rng = np.random.default_rng(2)
    naive = np.stack([per_patient[rng.integers(0, boot.n_clusters, boot.n_clusters)].sum(0)
                      for _ in range(5000)])
    assert fast.sum(axis=1) == pytest.approx(np.full(r, len(y)), rel=0.2)
    np.testing.assert_allclose(fast.mean(0), naive.mean(0), atol=0.6)
    np.testing.assert_allclose(np.cov(fast[:, :10].T), np.cov(naive[:, :10].T), atol=6.0)


def test_patients_with_identical_studies_widen_the_bootstrap():
    """Each patient's two studies in one cell: counts vary twice as much as with rows."""
    cells, y, cl = _cells(n=1500)
    y2, cl2 = np.concatenate([y, y]), np.concatenate([np.arange(1500), np.arange(1500)])
    rng = np.random.default_rng(0)
    s = rng.random(1500)
    g = rng.integers(0, 2, (1500, 1))
    doubled = build_cells(y2, np.concatenate([s, s]), np.concatenate([g, g]), 0.5, n_quantiles=4)
    patient = ClusterBootstrap(doubled, y2, cl2).draw(ReplicateStreams(1), 0, 4000).reshape(4000, -1)
    rows = RowBootstrap(doubled).draw(ReplicateStreams(2), 0, 4000).reshape(4000, -1)
    assert patient.var(axis=0).sum() == pytest.approx(2 * rows.var(axis=0).sum(), rel=0.1)


def test_percentile_ci_matches_numpy_nanquantile():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 7))
    x[rng.random(x.shape) < 0.05] = np.nan
    lo, hi, und = percentile_ci(x, 0.9, max_undefined=0.5)
    ref_lo, ref_hi = np.nanquantile(x, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(lo, ref_lo)
    np.testing.assert_allclose(hi, ref_hi)
    np.testing.assert_allclose(und, np.isnan(x).mean(axis=0))
    lo, hi, _ = percentile_ci(np.full((10, 2), np.nan), 0.9)
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_percentile_ci_leaves_its_replicates_alone():
    """The columns are sorted in a copy: a caller's (R, K) array in column-major order, or of
    one column, is sorted no more than a row-major one (paired changes and stress reuse their
    replicates after the interval)."""
    rng = np.random.default_rng(3)
    for x in (np.asfortranarray(rng.normal(size=(200, 5))), rng.normal(size=(200, 1)), rng.normal(size=200)):
        before = x.copy()
        lo, hi, _ = percentile_ci(x, 0.9)
        np.testing.assert_array_equal(x, before)
        ref_lo, ref_hi, _ = percentile_ci(np.ascontiguousarray(before), 0.9)
        np.testing.assert_array_equal(lo, ref_lo)
        np.testing.assert_array_equal(hi, ref_hi)


def test_the_poissonised_patient_bootstrap_does_not_import_scipy_stats():
    """scipy.stats costs about 0.5 s of CPU to import; the Poisson CDF comes from scipy.special."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from fairaudit.metrics.bootstrap import TypeCounts\n"
        "TypeCounts(np.array([1, 2, 3, 2000])).draw([np.random.default_rng(0), np.random.default_rng(1)])\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_replicate_streams_are_the_seed_sequences_children() -> None:
    """Stream i is what ``SeedSequence.spawn`` hands out as child i (NumPy's recipe for
    independent parallel streams), whatever order the streams are asked for in."""
    seed = np.random.SeedSequence(12).spawn(2)[0]
    streams = ReplicateStreams(seed)
    children = np.random.SeedSequence(12).spawn(2)[0].spawn(5)
    for i in (4, 0, 3):
        expected = np.random.Generator(np.random.SFC64(children[i])).integers(0, 1 << 30, 8)
        assert np.array_equal(streams[i].integers(0, 1 << 30, 8), expected)
    assert not np.array_equal(streams[0].random(4), streams[1].random(4))
