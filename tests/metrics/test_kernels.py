"""fairaudit.metrics.kernels: the compiled bootstrap kernels are built, and give the numbers of
their NumPy twins (counts and AUC numerators exactly, Brier and ECE up to rounding), alone and
through a whole audit, on any number of threads."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairaudit.metrics import kernels
from fairaudit.metrics.engine import AuditConfig, compute_audit
from fairaudit.result import CRITERIA_NAMES


def test_the_kernels_are_built_by_the_install() -> None:
    """`pip install -e .` compiles them; a silent fallback would only show as a slow audit."""
    if os.environ.get("FAIRAUDIT_KERNELS") == "0":
        pytest.skip("kernels disabled by FAIRAUDIT_KERNELS=0")
    assert kernels.available(), "fairaudit/metrics/_kernels.c was not built: reinstall with a C compiler"


def test_disabled_by_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("FAIRAUDIT_KERNELS", "0")
    kernels.library.cache_clear()
    try:
        assert not kernels.available() and kernels.description() == "numpy"
        out = np.zeros(3)  # the NumPy twin: n = 3 rejects only the value 0
        assert kernels.count_uniform(np.array([0, 1, 2**31, 2**32 - 1], dtype=np.uint32), 3,
                                     np.array([2, 0, 1], dtype=np.int32), out) == 1
        assert out.tolist() == [1.0, 1.0, 1.0]
    finally:
        monkeypatch.delenv("FAIRAUDIT_KERNELS")
        kernels.library.cache_clear()


def test_a_stale_build_is_refused_with_a_warning(monkeypatch) -> None:
    """A library built from older sources (another interface version) is not called: the
    audit warns and uses the NumPy code."""
    if not kernels.available():
        pytest.skip("kernels not built")
    monkeypatch.setattr(kernels, "ABI_VERSION", kernels.ABI_VERSION + 100)
    kernels.library.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="from another version.*Reinstall"):
            assert kernels.library() is None
        assert kernels.description() == "numpy"
    finally:
        monkeypatch.undo()
        kernels.library.cache_clear()
    assert kernels.description() == "compiled"


def test_the_run_record_says_which_code_summed() -> None:
    import pandas as pd

    from fairaudit.api import audit

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.integers(0, 2, 200), "score": rng.random(200),
                       "sex": rng.choice(["F", "M"], 200)})
    res = audit(df, label="y", sensitive="sex", n_bootstrap=100, n_permutations=0)
    assert res.run.package_versions["fairaudit kernels"] == kernels.description()


@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "numpy"])
def test_count_uniform_is_lemires_exact_multiply_shift(monkeypatch, compiled: bool) -> None:
    if not compiled:
        monkeypatch.setattr(kernels, "library", lambda: None)
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 1 << 32, 5000, dtype=np.uint64).astype(np.uint32)
    row_cell = rng.integers(0, 11, 777).astype(np.int32)
    out = np.zeros(11)
    rejected = kernels.count_uniform(bits, 777, row_cell, out)
    m = bits.astype(np.uint64) * 777
    keep = (m % (1 << 32)) >= (1 << 32) % 777
    assert rejected == np.count_nonzero(~keep)
    assert np.array_equal(out, np.bincount(row_cell[(m[keep] >> 32).astype(np.int64)], minlength=11))
    # n = 3: 2^32 mod 3 = 1, so only the value 0 is rejected; 2^32 - 1 is row 2.
    out = np.zeros(3)
    assert kernels.count_uniform(np.array([0, 1, 2**31, 2**32 - 1], dtype=np.uint32), 3,
                                 np.arange(3, dtype=np.int32), out) == 1
    assert out.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="uint32 bits"):
        kernels.count_uniform(bits.astype(np.int64), 777, row_cell, out)


def test_count_uniform_rows_are_uniform() -> None:
    """Every row is drawn equally often: a chi-square over 200,000 draws of 1,000 rows."""
    from scipy import stats

    bits = np.random.default_rng(5).integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    out = np.zeros(1000)
    kernels.count_uniform(bits, 1000, np.arange(1000, dtype=np.int32), out)
    assert stats.chisquare(out).pvalue > 0.001


def _audit(config: AuditConfig, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 3000
    codes = np.stack([rng.integers(0, 7, n), rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1)
    y = (rng.random(n) < 0.3 + 0.05 * codes[:, 1]).astype(np.int64)
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1).round(3)  # ties within and across bins
    names = (tuple(f"s{i}" for i in range(7)), ("a", "b", "c"), ("F", "M"))
    return compute_audit(y, score, codes, names, ("site", "ward", "sex"), config,
                         clusters=np.arange(n) // 3 if seed else None)


@pytest.mark.parametrize(("seed", "index_cost"), [(0, None), (0, 0), (1, None)],
                         ids=["rows", "rows-poissonised", "patients"])
def test_an_audit_gives_the_numpy_numbers(monkeypatch, seed: int, index_cost: int | None) -> None:
    """Row draws by uniform rows (the default for this table) and by Poissonised cells
    (forced), and patient draws."""
    from fairaudit.metrics.bootstrap import RowBootstrap

    if index_cost is not None:
        monkeypatch.setattr(RowBootstrap, "INDEX_COST", index_cost)
    config = AuditConfig(n_bootstrap=150, n_permutations=0, seed=4, min_group_size=5,
                         min_group_events=1, jobs=2, chunk=16)
    compiled = _audit(config, seed)
    monkeypatch.setattr(kernels, "library", lambda: None)
    plain = _audit(config, seed)

    def numbers(parts):
        rows = []
        for g in parts.groups:
            for name, m in sorted(g.metrics.items()):
                rows.append((g.attribute, g.group, name, m.value, *(m.ci or (None, None)),
                             *(m.simultaneous_ci or (None, None))))
        for c in parts.criteria:
            rows.append((c.attribute, c.name, "", c.value, *(c.ci or (None, None))))
        return rows

    a, b = numbers(compiled), numbers(plain)
    assert len(a) == len(b) and {r[:3] for r in a} == {r[:3] for r in b}
    for ra, rb in zip(a, b, strict=True):
        for u, v in zip(ra[3:], rb[3:], strict=True):
            assert (u is None) == (v is None), ra[:3]
            if u is not None:
                assert u == pytest.approx(v, rel=1e-9, abs=1e-12), ra[:3]
    assert {c.name for c in compiled.criteria} <= set(CRITERIA_NAMES)


def test_compiled_numbers_do_not_depend_on_threads_or_chunks() -> None:
    if not kernels.available():
        pytest.skip("kernels not built")
    base = AuditConfig(n_bootstrap=90, n_permutations=0, seed=2, min_group_size=5,
                       min_group_events=1, jobs=1)
    ref = _audit(base)
    for jobs, chunk in ((2, 7), (3, 64)):
        assert _audit(dataclasses.replace(base, jobs=jobs, chunk=chunk)) == ref


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       n=st.integers(1, 400), intersections=st.booleans(), prevalence=st.floats(0.0, 1.0))
def test_kernel_sums_equal_the_numpy_path_on_any_table(seed, sizes, n, intersections, prevalence):
    """Random tables: one-row groups, one-class groups, attributes of one value, partitions
    with and without intersections (so with and without slots built from a parent): the
    kernel's metrics equal the NumPy path's (AUC and counts exactly, the rest to rounding)."""
    from fairaudit.metrics.bootstrap import ReplicateStreams, RowBootstrap
    from fairaudit.metrics.cells import build_cells, make_partitions, overall_partition
    from fairaudit.metrics.replicates import ReplicateMetrics

    if not kernels.available():
        pytest.skip("kernels not built")
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, k, n) for k in sizes], axis=1)
    y = (rng.random(n) < prevalence).astype(np.int64)
    s = np.round(rng.random(n), int(rng.integers(1, 4)))
    cells = build_cells(y, s, codes, float(rng.choice([0.3, 0.5])))
    names = tuple(tuple(f"v{i}" for i in range(k)) for k in sizes)
    attrs = tuple(f"a{j}" for j in range(len(sizes)))
    parts = [overall_partition(cells.n_fine),
             *make_partitions(cells, attrs, names, intersections=intersections)]
    x = RowBootstrap(cells).draw_rows(ReplicateStreams(seed), 0, 5)
    got = ReplicateMetrics(cells, parts, compiled=True).rows(x)
    ref = ReplicateMetrics(cells, parts, compiled=False).rows(x)
    for key in ref:
        exact = key in ("auc", "_n", "_pos", "_neg")
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=0 if exact else 1e-12,
                                   equal_nan=True, err_msg=key)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 300), n_fine=st.integers(1, 9),
       decimals=st.sampled_from([None, 0, 1, 2]), prevalence=st.floats(0.0, 1.0))
def test_pairwise_wins_kernel_equals_the_numpy_twin(seed, n, n_fine, decimals, prevalence) -> None:
    """Random rows with and without tied scores, one-class data, empty groups: the compiled
    cross-group win counts equal the NumPy twin's exactly (whole and half counts)."""
    if not kernels.available():
        pytest.skip("kernels not built")
    from fairaudit.metrics.rates import pairwise_wins

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int64)
    s = rng.random(n)
    if decimals is not None:
        s = s.round(decimals)
    f = rng.integers(0, n_fine, n)
    order = np.argsort(s)
    got = kernels.pairwise_wins(order, s, y, f, n_fine)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "library", lambda: None)
        ref = pairwise_wins(y, s, f, n_fine, order)
    np.testing.assert_array_equal(got, ref)
    # Every (positive, negative) pair of rows counts once: wins and losses add up.
    assert got.sum() <= y.sum() * (n - y.sum())


def test_pairwise_wins_kernel_refuses_bad_rows() -> None:
    if not kernels.available():
        pytest.skip("kernels not built")
    s = np.array([0.1, 0.2])
    with pytest.raises(ValueError):
        kernels.pairwise_wins(np.array([0, 5]), s, np.array([0, 1]), np.array([0, 0]), 1)
    with pytest.raises(ValueError):
        kernels.pairwise_wins(np.array([0, 1]), s, np.array([0, 1]), np.array([0, 3]), 2)
    with pytest.raises(ValueError):
        kernels.pairwise_wins(np.array([0]), s, np.array([0, 1]), np.array([0, 0]), 1)


def test_patient_type_counts_equal_the_numpy_pass() -> None:
    """TypeCounts' table pass in C gives the NumPy pass's counts, ambiguous cells included
    (many types of one patient, runs of many sizes, a mean above the tables)."""
    if not kernels.available():
        pytest.skip("kernels not built")
    from fairaudit.metrics.bootstrap import ReplicateStreams, TypeCounts

    rng = np.random.default_rng(11)
    types = TypeCounts(np.concatenate([np.ones(6000, int), rng.integers(2, 80, 3000), [1500, 4000]]))
    streams = ReplicateStreams(5)
    compiled = np.concatenate([types.draw(streams.span(a, 3)) for a in range(0, 12, 3)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "library", lambda: None)
        plain = np.concatenate([types.draw(streams.span(a, 3)) for a in range(0, 12, 3)])
    np.testing.assert_array_equal(compiled, plain)
    assert (compiled.sum(axis=1) == types._total).all()


def test_type_lookup_reads_wide_tables_and_lists_every_ambiguous_cell() -> None:
    if not kernels.available():
        pytest.skip("kernels not built")
    rng = np.random.default_rng(12)
    narrow = rng.integers(-1, 5, 1 << 16).astype(np.int16)
    wide = rng.integers(-1, 40_000, 1 << 16).astype(np.int64)
    cells = rng.integers(0, 1 << 16, (3, 20)).astype(np.uint16)
    k = np.zeros((3, 18))
    rows, cols, run = kernels.type_lookup(cells, [(0, 7, narrow), (7, 18, wide)], k)
    expect = np.concatenate([narrow[cells[:, :7]], wide[cells[:, 7:18]]], axis=1)
    np.testing.assert_array_equal(k, expect)
    r_, c_ = np.nonzero(expect < 0)
    np.testing.assert_array_equal(rows, r_)
    np.testing.assert_array_equal(cols, c_)
    np.testing.assert_array_equal(run, (c_ >= 7).astype(np.int64))
    with pytest.raises(ValueError):
        kernels.type_lookup(cells, [(0, 19, narrow)], k)


def test_type_lookup_grows_its_list_when_full() -> None:
    if not kernels.available():
        pytest.skip("kernels not built")
    every = np.full(1 << 16, -1, dtype=np.int16)
    cells = np.zeros((3, 2000), dtype=np.uint16)
    rows, cols, run = kernels.type_lookup(cells, [(0, 2000, every)], np.zeros((3, 2000)))
    assert rows.size == 6000 and (np.diff(rows * 2000 + cols) == 1).all() and (run == 0).all()


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), g=st.integers(1, 7), b=st.integers(1, 12), r=st.integers(1, 5),
       data=st.data())
def test_random_tables_kernel_draws_numpys_tables(seed, g, b, r, data) -> None:
    """The compiled table loop calls NumPy's own sampler on the same generator: the same
    tables, and the generator left in the same state (empty bins and groups included)."""
    if not kernels.available():
        pytest.skip("kernels not built")
    from fairaudit.metrics.significance import _tables_by_rows

    cols = np.array(data.draw(st.lists(st.integers(0, 60), min_size=b, max_size=b)), dtype=np.int64)
    total = int(cols.sum())
    cuts = sorted(data.draw(st.lists(st.integers(0, total), min_size=g - 1, max_size=g - 1)))
    rows = np.diff(np.array([0, *cuts, total], dtype=np.int64))
    a_rng, b_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    got = kernels.random_tables(rows, cols, r, a_rng)
    if got is None:
        pytest.skip("NumPy does not export its multivariate hypergeometric sampler here")
    np.testing.assert_array_equal(got, _tables_by_rows(rows, cols, r, b_rng))
    assert a_rng.bit_generator.state == b_rng.bit_generator.state
    with pytest.raises(ValueError):
        kernels.random_tables(rows + np.eye(1, g, 0, dtype=np.int64)[0], cols, r, a_rng)


# -- beta quantiles (the exact binomial bounds) -------------------------------------------

compiled_only = pytest.mark.skipif(not kernels.available(), reason="kernels not built: nothing to compare")


def _clopper_pearson_grid(n: float, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, p) of both bounds at several levels for counts from the ends and the middle."""
    x = np.unique(np.r_[0, 1, 2, 3, n - 2, n - 1, n, np.rint(rng.random(40) * n)])
    x = x[(x >= 0) & (x <= n)]
    a, b, p = [], [], []
    for alpha in (0.05, 1 - 0.95 ** (1 / 400), 1e-6, 0.5):
        a += [x, x + 1]
        b += [n - x + 1, n - x]
        p += [np.full(x.size, alpha / 2), np.full(x.size, 1 - alpha / 2)]
    a, b, p = np.concatenate(a), np.concatenate(b), np.concatenate(p)
    ok = (a > 0) & (b > 0)
    return a[ok], b[ok], p[ok]


@compiled_only
@pytest.mark.parametrize("n", [1, 2, 5, 30, 250, 4_000, 100_000])
def test_beta_quantiles_equal_scipys(n: int) -> None:
    from scipy.special import betainc, betaincinv

    a, b, p = _clopper_pearson_grid(float(n), np.random.default_rng(n))
    got = kernels.beta_quantile(a, b, p)
    np.testing.assert_allclose(got, betaincinv(a, b, p), rtol=3e-12, atol=0)
    # and they are quantiles: the incomplete beta gives the level back (to its conditioning:
    # a relative 1e-16 in z moves I by up to 1e-11 relative at 100,000)
    np.testing.assert_allclose(betainc(a, b, got), p, rtol=1e-9, atol=0)


@compiled_only
def test_beta_quantiles_of_non_integer_counts_equal_scipys() -> None:
    """Balanced accuracy's binomial size is 4 / (1/P + 1/N), not a whole count."""
    from scipy.special import betaincinv

    rng = np.random.default_rng(3)
    a, b, p = rng.random(3000) * 60 + 0.3, rng.random(3000) * 60 + 0.3, rng.random(3000)
    np.testing.assert_allclose(kernels.beta_quantile(a, b, p), betaincinv(a, b, p), rtol=1e-12)


@pytest.mark.parametrize(("a", "b", "p"), [
    (4, 999_997, 0.75), (9, 9_999_992, 0.975), (5, 99_999_996, 0.75), (13, 2_499_999_988, 0.75),
    (3, 2_499_999_998, 0.025), (1, 10_000_000, 0.975), (8, 99_993, 1 - 5e-7), (506, 495, 5e-13),
    (40, 3_000_000, 1e-6 / 2), (2, 5_000, 0.975),
])
@compiled_only
def test_beta_quantiles_of_large_counts_are_exact_to_the_last_digits(a, b, p) -> None:
    """Where a count is small and the other in the millions (a rare event in a large group),
    against the binomial tail summed in 50-digit arithmetic: SciPy 1.17 is off by up to 1e-9
    on some of these; the kernel's saddle-point prefactor and series keep 1e-13."""
    mp = pytest.importorskip("mpmath")
    got = float(kernels.beta_quantile(a, b, p))
    mp.mp.dps = 50
    n_trials = a + b - 1

    def tail(z):  # I_z(a, b) = P(Binomial(a + b - 1, z) >= a)
        if a < 50:
            return 1 - mp.fsum(mp.binomial(n_trials, k) * z**k * (1 - z) ** (n_trials - k) for k in range(a))
        return mp.betainc(a, b, 0, z, regularized=True)  # 506 and 495: mpmath's own series

    exact = mp.findroot(lambda z: tail(z) - mp.mpf(p), (mp.mpf(got) * (1 - mp.mpf(1e-9)),
                                                        mp.mpf(got) * (1 + mp.mpf(1e-9))),
                        solver="anderson", tol=mp.mpf(10) ** -45)
    assert abs(got - exact) <= 1e-13 * exact


@compiled_only  # SciPy, the fallback, has its own edges (0 for an infinite b, ...)
def test_beta_quantile_edges_and_shapes() -> None:
    nan = float("nan")
    got = kernels.beta_quantile(np.array([0.0, 1, nan, 1, 1, 2, 2]), np.array([1.0, 0, 1, 1, np.inf, 3, 3]),
                                np.array([0.5, 0.5, 0.5, 1.5, 0.5, 0.0, 1.0]))
    assert np.isnan(got[:5]).all() and got[5:].tolist() == [0.0, 1.0]
    assert kernels.beta_quantile(1.0, 1.0, 0.3).shape == ()
    assert float(kernels.beta_quantile(1.0, 1.0, 0.3)) == pytest.approx(0.3, rel=1e-15)  # uniform
    assert kernels.beta_quantile(np.ones((2, 3)), 2.0, 0.5).shape == (2, 3)
    x = np.array([5.0, 50.0, 500.0])  # n = x: the lower bound has the closed form (alpha/2)^(1/n)
    np.testing.assert_allclose(kernels.beta_quantile(x, 1.0, 0.025), 0.025 ** (1 / x), rtol=1e-15)
    # quantiles that underflow or round to 1 are 0 and 1, never NaN; 1 - (1/2)^(1/b) for a = 1
    assert float(kernels.beta_quantile(1e-300, 1.0, 0.5)) == 0.0
    assert 0.0 <= float(kernels.beta_quantile(0.5, 0.5, 1e-300)) < 1e-300
    assert float(kernels.beta_quantile(5.0, 1e-8, 0.3)) == 1.0
    assert float(kernels.beta_quantile(1.0, 1e300, 0.5)) == pytest.approx(np.log(2) * 1e-300, rel=1e-14)
    assert float(kernels.beta_quantile(1.0, 1e12, 0.975)) == pytest.approx(-np.expm1(np.log(0.025) / 1e12), rel=1e-14)


# -- group sums -----------------------------------------------------------------------------

@compiled_only
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), f=st.integers(1, 60), g=st.integers(1, 9), k=st.integers(1, 40))
def test_group_sums_kernel_equals_numpys_add_at_bit_for_bit(seed, f, g, k) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((f, k)) * 10.0 ** rng.integers(-8, 8, (f, 1))  # rounding shows order
    member = rng.integers(-1, g, f)
    out = rng.standard_normal((g + 2, k))
    want = out.copy()
    keep = member >= 0
    np.add.at(want, member[keep] + 2, x[keep])
    kernels.group_sums(x, member, out[2:])
    assert np.array_equal(out, want)


def test_group_sums_refuse_shapes_that_do_not_fit() -> None:
    out = np.zeros((2, 3))
    with pytest.raises(ValueError, match="past the output"):
        kernels.group_sums(np.ones((4, 3)), np.array([0, 1, 2, 0]), out)
    with pytest.raises(ValueError, match="need x"):
        kernels.group_sums(np.ones((4, 2)), np.array([0, 1, 1, 0]), out)


# -- cell sums ------------------------------------------------------------------------------

@compiled_only
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 3000), f=st.integers(1, 30), b=st.integers(1, 90))
def test_cell_sums_kernel_equals_the_three_bincounts_bit_for_bit(seed, n, f, b) -> None:
    rng = np.random.default_rng(seed)
    rows = (rng.integers(0, f, n), rng.integers(0, 2, n), rng.integers(0, b, n), rng.random(n))
    got = kernels.cell_sums(*rows, f, b)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "library", lambda: None)
        want = kernels.cell_sums(*rows, f, b)
    assert all(np.array_equal(x, y) and x.shape == (f, 2, b) for x, y in zip(got, want, strict=True))


@compiled_only
def test_cell_sums_refuse_rows_outside_the_table() -> None:
    one = np.zeros(1, np.int64)
    with pytest.raises(ValueError, match="outside the table"):
        kernels.cell_sums(one + 3, one, one, np.zeros(1), 3, 4)
    with pytest.raises(ValueError, match="one fine group"):
        kernels.cell_sums(one, np.zeros(2, np.int64), one, np.zeros(1), 3, 4)
