"""Statistics of the stress audit that are not paired metric changes.

The paired per-group changes (AUC, TPR, FPR, balanced accuracy, criteria) come from
:mod:`fairaudit.metrics.paired`. This module holds the rest: proportions with Wilson intervals
and a between-group test (modality missingness), group means and their differences from the
other groups over bootstrap replicate weights (Shapley shares, missing rates), the relative
balanced error, the headline corruption index, and a rank correlation. Every function takes
replicate weights (B, n) that the caller drew once, so every statistic of one run is computed on
the same resampled patients.
"""

from __future__ import annotations

import numpy as np

from fairaudit.metrics.bootstrap import percentile_ci


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion ``k / n`` (None when ``n == 0``)."""
    from scipy.stats import norm

    if n <= 0:
        return None
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def chi_square_test(missing: np.ndarray, groups: np.ndarray) -> dict[str, float | int | None]:
    """Pearson chi-square test of independence of a 0/1 outcome and the group (rows as units).

    Returns ``statistic``, ``dof`` and ``p_value`` (None when the table has one group or the
    outcome does not vary).
    """
    from scipy.stats import chi2_contingency

    names = np.unique(groups)
    table = np.array([[np.sum(missing[groups == g]), np.sum(~missing[groups == g])] for g in names])
    if names.size < 2 or (table.sum(axis=0) == 0).any():
        return {"statistic": None, "dof": None, "p_value": None}
    stat, p, dof, _ = chi2_contingency(table, correction=False)
    return {"statistic": float(stat), "dof": int(dof), "p_value": float(p)}


def group_means(values: np.ndarray, member: np.ndarray, weights: np.ndarray
                ) -> tuple[float | None, np.ndarray]:
    """Mean of ``values`` over the rows in ``member`` (NaN values skipped), and its replicates
    under the row multiplicities ``weights`` (B, n)."""
    ok = member & np.isfinite(values)
    if not ok.any():
        return None, np.full(weights.shape[0], np.nan)
    v = values[ok]
    w = weights[:, ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ v) / w.sum(axis=1)
    return float(v.mean()), reps


def mean_and_difference(values: np.ndarray, member: np.ndarray, weights: np.ndarray,
                        level: float) -> dict[str, object]:
    """Mean in the group, its interval, and the difference from the other rows with its
    interval (both percentile intervals over the same replicates)."""
    point, reps = group_means(values, member, weights)
    rest, rest_reps = group_means(values, ~member, weights)
    out: dict[str, object] = {"value": point, "ci": _ci(reps, level),
                              "difference_from_rest": None, "difference_ci": None}
    if point is not None and rest is not None:
        out["difference_from_rest"] = point - rest
        out["difference_ci"] = _ci(reps - rest_reps, level)
    return out


def _ci(reps: np.ndarray, level: float) -> tuple[float, float] | None:
    lo, hi, _ = percentile_ci(np.asarray(reps, dtype=float)[:, None], level)
    return (float(lo[0]), float(hi[0])) if np.isfinite(lo[0]) and np.isfinite(hi[0]) else None


def relative_balanced_error(ba_corrupt: float | None, ba_clean: float | None) -> float | None:
    """MedMNIST-C's relative balanced error without a reference model:
    ``(E_corrupt - E_clean) / E_clean`` with ``E = 1 - balanced accuracy``."""
    if ba_corrupt is None or ba_clean is None or ba_clean >= 1.0:
        return None
    e_clean, e_corrupt = 1.0 - ba_clean, 1.0 - ba_corrupt
    return float((e_corrupt - e_clean) / e_clean)


def worst_relative_loss(clean: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """Headline index from AUCs: the worst group's relative AUC loss, averaged over severities.

    Parameters
    ----------
    clean : ndarray (R, G)
        Clean AUC of G groups in R replicates (row 0 may be the point estimate).
    corrupted : ndarray (S, R, G)
        The same under S severities.

    Returns
    -------
    ndarray (R,)
        ``mean_s max_g (clean - corrupted) / clean``; NaN groups are skipped.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = (clean[None] - corrupted) / clean[None]
        worst = np.nanmax(np.where(np.isfinite(loss), loss, -np.inf), axis=2)
    worst = np.where(np.isfinite(worst), worst, np.nan)
    with np.errstate(invalid="ignore"):
        return np.nanmean(worst, axis=0)


def interval(reps: np.ndarray, level: float) -> tuple[float, float] | None:
    """Percentile interval of replicates (NaN skipped); None if there are none."""
    return _ci(reps, level)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> dict[str, float | int | None]:
    """Spearman's rank correlation with its (asymptotic) p-value; None below 3 points."""
    from scipy.stats import spearmanr

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return {"spearman": None, "p_value": None, "n": int(ok.sum())}
    r = spearmanr(x[ok], y[ok])
    return {"spearman": float(r.statistic), "p_value": float(r.pvalue), "n": int(ok.sum())}
