"""Simultaneous (family-wise) intervals over groups, and criterion intervals built from them.

Why: a criterion such as the demographic-parity difference is a max - min over G group rates.
The plug-in max - min is biased upward when groups are small and many, and a percentile
bootstrap of a maximum is not consistent: with hundreds of groups its interval can exclude the
estimate itself and miss the true value every time. Following Cherian & Candès ("Statistical
inference for fairness auditing"), we instead bound every group's rate at once:

1. For each group g, a standard error ``se_g``: the bootstrap standard deviation, floored by an
   analytic one (so a group whose rate is 0 or 1 in every replicate still gets a width).
2. The bootstrap distribution of the maximum studentised deviation
   ``T* = max_g |theta*_g - theta_g| / se_g`` over the family's groups; its ``level``
   quantile ``c`` is the critical value (max-t), so that
   ``theta_g in [theta_g - c se_g, theta_g + c se_g]`` for all g at once with probability
   ``level`` (asymptotically).
3. Any criterion that is a function of the group rates lies, with at least that probability,
   between its smallest and largest value over the box of intervals; for a range, a ratio
   and the equalised-odds maximum these bounds have closed forms (``range_interval``,
   ``ratio_interval``), and for the SD the extremes over the box are found exactly
   (``sd_interval``).

The intervals always contain the point estimate (it lies in the box). They are conservative
with two groups (the box bounds each group, not the difference), and keep their coverage with
hundreds (measured: ``benchmarks/validity.py``, ``docs/statistics.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

INTERVAL_METHOD = (
    "per-group metrics: percentile bootstrap (display) and max-t simultaneous intervals over the "
    "sufficient groups of each attribute (rules); criteria and SD/SER: the extremes of the "
    "criterion over the simultaneous intervals (Cherian & Candes 2024)"
)

_Z_FLOOR_PSEUDO = 2.0  # Agresti-Coull style pseudo-counts for the analytic SE floor


def proportion_se(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Analytic floor for the SE of a proportion: ``sqrt(p~ (1 - p~) / (n + 4))`` with the
    Agresti-Coull centre ``p~ = (x + 2) / (n + 4)``; never 0, NaN where ``n`` is 0."""
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    pt = (x + _Z_FLOOR_PSEUDO) / (n + 2 * _Z_FLOOR_PSEUDO)
    return np.where(n > 0, np.sqrt(pt * (1.0 - pt) / (n + 2 * _Z_FLOOR_PSEUDO)), np.nan)


def auc_se(auc: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray) -> np.ndarray:
    """Hanley-McNeil SE of an AUC, evaluated at an AUC shrunk towards 1/2 by one pair so that
    a perfectly separated group still gets a width."""
    p = np.asarray(n_pos, dtype=np.float64)
    n = np.asarray(n_neg, dtype=np.float64)
    pairs = p * n
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (np.asarray(auc, dtype=np.float64) * pairs + 0.5) / (pairs + 1.0)
        q1 = a / (2.0 - a)
        q2 = 2.0 * a * a / (1.0 + a)
        var = (a * (1 - a) + (p - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / pairs
    return np.where(pairs > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)


def analytic_se(metrics: Mapping[str, np.ndarray], conf: np.ndarray) -> dict[str, np.ndarray]:
    """SE floors of every metric of G groups from their confusion counts (G, 2, 2)
    [label, decision] and point metrics; Brier and ECE have no floor (0)."""
    tn, fp = conf[:, 0, 0], conf[:, 0, 1]
    fn, tp = conf[:, 1, 0], conf[:, 1, 1]
    pos, neg = tp + fn, tn + fp
    n = pos + neg
    se = {
        "prevalence": proportion_se(pos, n),
        "tpr": proportion_se(tp, pos),
        "fnr": proportion_se(fn, pos),
        "fpr": proportion_se(fp, neg),
        "tnr": proportion_se(tn, neg),
        "ppv": proportion_se(tp, tp + fp),
        "npv": proportion_se(tn, tn + fn),
        "selection_rate": proportion_se(tp + fp, n),
        "accuracy": proportion_se(tp + tn, n),
    }
    se["balanced_accuracy"] = 0.5 * np.sqrt(se["tpr"] ** 2 + se["tnr"] ** 2)
    se["auc"] = auc_se(metrics["auc"], pos, neg)
    zero = np.zeros(conf.shape[0])
    se["brier"] = zero
    se["ece"] = zero
    return se


def max_t_critical(
    point: np.ndarray, reps: np.ndarray, se: np.ndarray, level: float
) -> float:
    """The ``level`` quantile of max_g |reps - point| / se over the family's groups.

    ``point`` (K,), ``reps`` (R, K), ``se`` (K,) for the K members of one family (the groups of
    one attribute; for equalised odds, its TPRs and FPRs together). Undefined replicates are
    left out of the maximum; a replicate with no defined member does not count.
    """
    if point.size == 0 or reps.shape[0] == 0:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(reps - point[None, :]) / se[None, :]
    t = np.where(np.isfinite(t), t, -np.inf)
    m = t.max(axis=1)
    m = m[np.isfinite(m)]
    if m.size == 0:
        return float("nan")
    return float(np.quantile(m, level))


def standard_errors(reps: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Bootstrap SD over axis 0 (NaN replicates left out), floored by ``floor``."""
    ok = ~np.isnan(reps)
    k = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, reps, 0.0).sum(axis=0) / k
        var = (np.where(ok, reps - mean, 0.0) ** 2).sum(axis=0) / (k - 1)
    sd = np.sqrt(np.where(k > 1, var, np.nan))
    return np.fmax(sd, np.nan_to_num(floor, nan=0.0))


def box(point: np.ndarray, se: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Intervals ``point -+ c se`` clipped to [0, 1] (every audited metric lives there)."""
    return np.clip(point - c * se, 0.0, 1.0), np.clip(point + c * se, 0.0, 1.0)


def range_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Bounds of max - min over the box: [max(0, max L - min U), max U - min L]."""
    return max(0.0, float(lo.max() - hi.min())), float(hi.max() - lo.min())


def ratio_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float] | None:
    """Bounds of min / max over the box: [min L / max U, min U / max L] (capped at 1).

    None when the largest rate may be 0 (the ratio is then unbounded below by nothing
    useful and undefined at 0).
    """
    top = float(hi.max())
    if top <= 0.0:
        return None
    upper = 1.0 if lo.max() <= 0.0 else min(1.0, float(hi.min() / lo.max()))
    return float(lo.min() / top), upper


def sd_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Smallest and largest sample SD (ddof = 1) of values constrained to the box.

    Smallest: the minimiser pulls every value to a common level m clipped to its interval,
    where m is the mean of the clipped values (bisection on that fixed point, which is
    unique because mean(clip(m)) - m is strictly decreasing). Largest: a convex function
    over a box peaks at a vertex, and at the optimum each value sits at the end farther from
    the mean; sorting the intervals by their midpoints, the optimal vertex takes the lower
    end for the first k and the upper end for the rest, for one of the G + 1 values of k.
    """
    g = lo.size
    if g < 2:
        return float("nan"), float("nan")
    a, b = float(lo.min()), float(hi.max())
    for _ in range(60):
        m = 0.5 * (a + b)
        if np.clip(m, lo, hi).mean() > m:
            a = m
        else:
            b = m
    low_sd = float(np.clip(0.5 * (a + b), lo, hi).std(ddof=1))

    order = np.argsort(0.5 * (lo + hi))
    lo_s, hi_s = lo[order], hi[order]
    # Vertex k: lower ends for the first k groups (by midpoint), upper ends for the rest.
    s1 = np.concatenate([[0.0], np.cumsum(lo_s)]) + np.concatenate([np.cumsum(hi_s[::-1])[::-1], [0.0]])
    s2 = np.concatenate([[0.0], np.cumsum(lo_s**2)]) + np.concatenate(
        [np.cumsum((hi_s**2)[::-1])[::-1], [0.0]]
    )
    var = np.maximum(s2 - s1 * s1 / g, 0.0) / (g - 1)
    return low_sd, float(np.sqrt(var.max()))


def ser_interval(lo: np.ndarray, hi: np.ndarray, higher_is_better: bool) -> tuple[float, float] | None:
    """Bounds of the skewed error ratio max(err) / min(err) over the box; None when the
    smallest error may be 0 (unbounded)."""
    e_lo, e_hi = (1.0 - hi, 1.0 - lo) if higher_is_better else (lo, hi)
    if e_lo.min() <= 0.0:
        return None
    return max(1.0, float(e_lo.max() / e_hi.min())), float(e_hi.max() / e_lo.min())
