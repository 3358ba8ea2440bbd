"""fairaudit.metrics.multinomial: Poissonised multinomial counts are exactly multinomial, the
compiled kernel and the NumPy twin give the same counts, and the Poisson samplers have the
Poisson law (chi-square against the exact probabilities, seeded)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fairaudit.metrics import kernels
from fairaudit.metrics.multinomial import (
    PTRS_FROM,
    PoissonisedMultinomial,
    poisson_inverse,
    poisson_params,
    poisson_ptrs,
)

COUNTS = {
    "bench-like": np.random.default_rng(3).integers(1, 400, 3000),
    "small cells": np.random.default_rng(4).integers(1, 4, 2000),
    "two rows": np.array([1, 1]),
    "one huge cell": np.array([1, 2, 3, 250_000]),
    "mixed": np.array([1, 9, 10, 11, 57, 1234, 40_000]),
}


def _keys(r: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**63, r, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _draw(plan: PoissonisedMultinomial, keys: np.ndarray) -> np.ndarray:
    out = np.zeros((keys.size, plan.params.shape[0]))
    plan.draw(keys, out, np.arange(plan.params.shape[0]))
    return out


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_replicate_has_n_rows_and_whole_counts(name: str) -> None:
    plan = PoissonisedMultinomial(COUNTS[name])
    x = _draw(plan, _keys(300))
    assert (x.sum(axis=1) == plan.n).all()
    assert (x >= 0).all() and (x == np.rint(x)).all()


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_the_kernel_and_the_numpy_twin_give_the_same_counts(name: str) -> None:
    if not kernels.available():
        pytest.skip("kernels not built")
    plan = PoissonisedMultinomial(COUNTS[name])
    keys = _keys(200, seed=len(name))
    compiled = np.zeros((keys.size, plan.params.shape[0]))
    redrawn = kernels.multinomial_poisson(keys, plan, compiled, np.arange(plan.params.shape[0]))
    twin, twin_redrawn = plan._draw_numpy(keys)
    np.testing.assert_array_equal(compiled, twin)
    assert redrawn == twin_redrawn


def test_redrawn_replicates_match_too() -> None:
    """Two rows of one each: the Poisson sum exceeds 2 in about 8 % of replicates, which are
    drawn again (step 2); the twin redraws the same ones."""
    plan = PoissonisedMultinomial(np.array([1, 1]))
    twin, redrawn = plan._draw_numpy(_keys(400))
    assert redrawn > 10
    if kernels.available():
        out = np.zeros((400, 2))
        assert kernels.multinomial_poisson(_keys(400), plan, out, np.arange(2)) == redrawn
        np.testing.assert_array_equal(out, twin)


def test_counts_are_written_at_the_given_columns() -> None:
    plan = PoissonisedMultinomial(np.array([5, 7, 9]))
    keys = _keys(20)
    wide = np.full((20, 6), -1.0)
    plan.draw(keys, wide, np.array([4, 0, 2]))
    np.testing.assert_array_equal(wide[:, [4, 0, 2]], _draw(plan, keys))
    assert (wide[:, [1, 3, 5]] == -1.0).all()


def test_one_cell_holds_every_row() -> None:
    plan = PoissonisedMultinomial(np.array([17]))
    assert (_draw(plan, _keys(5)) == 17).all()


def test_bad_counts_are_refused() -> None:
    for bad in (np.array([]), np.array([3, 0]), np.array([[1, 2]])):
        with pytest.raises(ValueError):
            PoissonisedMultinomial(bad)


def test_the_kernel_checks_its_arguments() -> None:
    if not kernels.available():
        pytest.skip("kernels not built")
    plan = PoissonisedMultinomial(np.array([3, 4, 5]))
    with pytest.raises(TypeError):
        kernels.multinomial_poisson(np.zeros(2, np.int64), plan, np.zeros((2, 3)), np.arange(3))
    with pytest.raises(ValueError):
        kernels.multinomial_poisson(_keys(2), plan, np.zeros((2, 2)), np.arange(3))
    with pytest.raises(ValueError):
        kernels.multinomial_poisson(_keys(3), plan, np.zeros((2, 3)), np.arange(3))


def _chi2_pvalue(observed: np.ndarray, probs: np.ndarray) -> float:
    """Goodness of fit with cells of expected count below 5 pooled into their neighbours."""
    expected = probs * observed.sum()
    groups, acc_o, acc_e = [], 0.0, 0.0
    for o, e in zip(observed, expected, strict=True):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 5:
            groups.append((acc_o, acc_e))
            acc_o, acc_e = 0.0, 0.0
    if groups and acc_e > 0:
        last = groups.pop()
        groups.append((last[0] + acc_o, last[1] + acc_e))
    o, e = np.array(groups).T
    e = e * o.sum() / e.sum()
    return float(stats.chisquare(o, e).pvalue)


@pytest.mark.parametrize("lam", [0.3, 3.7, 9.99, 10.0, 57.3, 1234.5])
def test_the_poisson_samplers_have_the_poisson_law(lam: float) -> None:
    draws = 40_000
    params = poisson_params(np.array([lam]))  # the parameters the sampler uses
    if lam < PTRS_FROM:
        u = np.random.default_rng(5).random((draws, 1))
        x = poisson_inverse(u, params)[:, 0]
    else:
        logfact = PoissonisedMultinomial(np.array([1, 1])).logfact
        x = poisson_ptrs(_keys(draws, seed=6), np.zeros(1, np.uint64), params, logfact)[:, 0]
    top = int(lam + 12 * np.sqrt(lam) + 20)
    observed = np.bincount(x.astype(np.int64), minlength=top + 1)[: top + 1].astype(float)
    probs = stats.poisson.pmf(np.arange(top + 1), lam)
    assert observed.sum() == draws  # nothing beyond the 12-sigma range
    assert _chi2_pvalue(observed, probs) > 1e-3


def test_cell_counts_are_multinomial() -> None:
    """Marginals are Binomial(n, m_i / n) (chi-square), and two cells correlate as
    -sqrt(p_i p_j / ((1 - p_i)(1 - p_j))), over cells drawn by inversion and by PTRS."""
    m = np.array([2, 6, 15, 40, 137])
    plan = PoissonisedMultinomial(m)
    draws = 20_000
    x = _draw(plan, _keys(draws, seed=8))
    n, p = plan.n, m / m.sum()
    for i in range(m.size):
        observed = np.bincount(x[:, i].astype(np.int64), minlength=n + 1).astype(float)
        assert _chi2_pvalue(observed, stats.binom.pmf(np.arange(n + 1), n, p[i])) > 1e-3, i
    corr = np.corrcoef(x.T)
    q = np.sqrt(p / (1 - p))
    rho = -np.outer(q, q)
    np.fill_diagonal(rho, 1.0)
    se = (1 - rho**2) / np.sqrt(draws)  # the sample correlation's standard error
    assert (np.abs(corr - rho) <= 5 * se + 1e-12).all()
