"""The paired DeLong test of two correlated ROC curves, per group, vectorised.

DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach", in the structural-component
notation of Sun & Xu (2014): every positive gets the placement ``V10`` (share of negatives below
it, ties 1/2), every negative ``V01`` (share of positives above it); the AUC is their mean and
the variance of a difference of two AUCs on the same rows is built from the sample
(co)variances of the placements. All groups come from one sort by (group, score).
"""

from __future__ import annotations

import numpy as np

TIE_TOL = 1e-12


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def placements(labels: np.ndarray, scores: np.ndarray, gid: np.ndarray, n_groups: int) -> np.ndarray:
    """DeLong placement value of every row within its group.

    For a positive row: the share of its group's negatives scored below it (ties 1/2),
    ``V10``; for a negative row: the share of its group's positives scored above it, ``V01``.
    The group's AUC is the mean ``V10`` over its positives (and the mean ``V01`` over its
    negatives). NaN where the group lacks the other class.
    """
    y = labels.astype(np.float64)
    order = np.lexsort((scores, gid))
    s, g, yy = scores[order], gid[order], y[order]
    new_run = np.r_[True, (s[1:] != s[:-1]) | (g[1:] != g[:-1])]
    starts = np.flatnonzero(new_run)
    run_of = np.cumsum(new_run) - 1
    pos_run, neg_run = np.add.reduceat(yy, starts), np.add.reduceat(1.0 - yy, starts)
    run_g = g[starts]
    first = np.searchsorted(run_g, np.arange(n_groups))
    cum_neg, cum_pos = np.cumsum(neg_run), np.cumsum(pos_run)
    base_neg, base_pos = np.r_[0.0, cum_neg][first], np.r_[0.0, cum_pos][first]
    pos_g = np.bincount(run_g, pos_run, minlength=n_groups)
    neg_g = np.bincount(run_g, neg_run, minlength=n_groups)
    v10 = _div(cum_neg - neg_run - base_neg[run_g] + 0.5 * neg_run, neg_g[run_g])
    v01 = _div(pos_g[run_g] - (cum_pos - base_pos[run_g]) + 0.5 * pos_run, pos_g[run_g])
    out = np.empty(y.size)
    out[order] = np.where(yy == 1, v10[run_of], v01[run_of])
    return out


def delong_paired(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray,
                  gid: np.ndarray | None = None, n_groups: int = 1
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paired DeLong test of ``AUC_b - AUC_a`` in every group (same rows scored twice).

    With placements ``V10`` (positives) and ``V01`` (negatives) of each score (see
    :func:`placements`), ``var(AUC_b - AUC_a) = S10 / m + S01 / k`` where ``S10`` is the
    sample variance (ddof 1) over the group's ``m`` positives of ``V10_b - V10_a`` (which
    equals ``S10_aa + S10_bb - 2 S10_ab`` of DeLong et al. 1988) and ``S01`` the same over its
    ``k`` negatives.

    Returns
    -------
    delta, se, p_value : ndarray of shape (n_groups,)
        NaN where the group lacks positives or negatives; ``p_value`` is 1 where the change and
        its SE are both 0 (identical rankings) and 0 where only the SE is 0.
    """
    from scipy.special import ndtr

    y = np.asarray(labels).astype(np.int64)
    gid = np.zeros(y.size, np.int64) if gid is None else np.asarray(gid, dtype=np.int64)
    pa = placements(y, np.asarray(scores_a, dtype=np.float64), gid, n_groups)
    pb = placements(y, np.asarray(scores_b, dtype=np.float64), gid, n_groups)
    d = pb - pa
    out_var = np.zeros(n_groups)
    delta = np.zeros(n_groups)
    for label in (1, 0):
        rows = y == label
        m = np.bincount(gid[rows], minlength=n_groups).astype(np.float64)
        s1 = np.bincount(gid[rows], d[rows], minlength=n_groups)
        s2 = np.bincount(gid[rows], d[rows] ** 2, minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(m > 1, (s2 - s1 * s1 / np.maximum(m, 1)) / (m - 1), np.nan)
        out_var = out_var + np.maximum(var, 0.0) / m
        if label == 1:
            delta = _div(np.bincount(gid[rows], pb[rows] - pa[rows], minlength=n_groups), m)
    se = np.sqrt(out_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(delta) / se
    p = np.where(se > 0, 2.0 * ndtr(-z), np.where(np.abs(delta) <= TIE_TOL, 1.0, 0.0))
    return delta, se, np.where(np.isfinite(delta) & np.isfinite(se), p, np.nan)


__all__ = ["delong_paired", "placements"]
