"""Significance of disparities: permutation tests, a Wald test for AUCs, Benjamini-Hochberg.

- Demographic parity, equal opportunity and equalised odds: a permutation test of "the groups
  are exchangeable". Shuffling group labels over rows keeps each group's size; the number of
  positive decisions that land in each group is then multivariate hypergeometric, so a
  permutation replicate is one draw per criterion (within the label-1 rows for TPR, within the
  label-0 rows for FPR), independent of the number of rows. The statistic is the criterion
  itself (a larger difference, or a smaller ratio, is more extreme).
- AUC difference: a Wald chi-square test of equal AUCs across groups, with each group's AUC
  variance taken from the bootstrap (groups are independent), df = groups - 1.
- q-values: Benjamini-Hochberg over every p-value of the audit.
"""

from __future__ import annotations

import numpy as np

from fairaudit.metrics.criteria import CRITERIA, criterion_values

PERMUTATION_METHOD = (
    "permutation test of exchangeable groups (multivariate hypergeometric over decision counts) "
    "for parity/opportunity/odds; Wald chi-square with bootstrap variances for AUC difference; "
    "Benjamini-Hochberg q-values across all criteria"
)


def permutation_pvalues(
    conf: np.ndarray, observed: dict[str, float], n_permutations: int, rng: np.random.Generator
) -> dict[str, float]:
    """p-values of the confusion-based criteria over the groups in ``conf`` (G, 2, 2)."""
    # Draw over groups in a canonical order (by their counts, not their names) so that
    # renaming groups cannot change a p-value; the statistics are symmetric in the groups.
    canon = np.lexsort(conf.reshape(conf.shape[0], -1).T[::-1])
    conf = conf[canon]
    n_y = conf.sum(axis=-1).astype(np.int64)  # (G, 2) rows per label
    n_g = n_y.sum(axis=-1)
    dec = conf[..., 1]  # positive decisions per (group, label)

    def hyper(colors: np.ndarray, k: float) -> np.ndarray:
        return rng.multivariate_hypergeometric(colors, int(round(k)), size=n_permutations)

    with np.errstate(divide="ignore", invalid="ignore"):
        sr = hyper(n_g, dec.sum()) / n_g
        tpr = hyper(n_y[:, 1], dec[:, 1].sum()) / n_y[:, 1]
        fpr = hyper(n_y[:, 0], dec[:, 0].sum()) / n_y[:, 0]
    perm = {"selection_rate": sr, "tpr": tpr, "fpr": fpr}
    out: dict[str, float] = {}
    for name, (rates, kind) in CRITERIA.items():
        if "auc" in rates or observed.get(name) is None or np.isnan(observed[name]):
            continue
        stat = criterion_values(name, perm)
        obs = observed[name]
        tol = 1e-12
        extreme = stat >= obs - tol if kind == "difference" else stat <= obs + tol
        extreme = np.where(np.isnan(stat), False, extreme)
        out[name] = float((1 + extreme.sum()) / (1 + n_permutations))
    return out


def wald_equal_auc(auc: np.ndarray, variance: np.ndarray) -> float | None:
    """p-value of H0: all group AUCs are equal, given independent variance estimates."""
    from scipy.special import chdtrc  # chi-square survival function (lighter than scipy.stats)

    if auc.size < 2 or np.isnan(auc).any() or np.isnan(variance).any() or (variance <= 0).any():
        return None
    w = 1.0 / variance
    pooled = (w * auc).sum() / w.sum()
    stat = float((w * (auc - pooled) ** 2).sum())
    return float(chdtrc(auc.size - 1, stat))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as ``p``."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out
