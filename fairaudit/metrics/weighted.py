"""Row-level statistics under replicate weights: the AUC and the resampling weights.

A bootstrap replicate of a table is a row of multiplicities (how many times each row was
drawn). :func:`resample_weights` draws them (rows, or whole patients); :func:`weighted_auc`
evaluates the Mann-Whitney AUC of every replicate at once, and :func:`auc` is its one-row case
(the AUC of a score vector). The audit engine itself works on cell tables
(:mod:`fairaudit.metrics.rates`, :mod:`fairaudit.metrics.bootstrap`); these serve the paired
mitigation comparison, checkpoint selection and the model benchmarks.
"""

from __future__ import annotations

import numpy as np


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC (ties count 1/2) under each row of ``weights`` as row multiplicities.

    Parameters
    ----------
    scores, labels : ndarray of shape (n,)
        Scores and binary labels (1 = positive).
    weights : ndarray of shape (r, n) or (n,)
        Multiplicity (or weight) of every row in each of ``r`` replicates.

    Returns
    -------
    ndarray of shape (r,)
        The AUC of each replicate: equal to the AUC of the rows repeated that many times; NaN
        where a replicate has no positive or no negative weight.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if s.size == 0:
        return np.full(w.shape[0], np.nan)
    order = np.argsort(s, kind="stable")
    s, y, w = s[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(w * y, starts, axis=1)  # (r, distinct scores)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted 1/2; NaN when a class is absent."""
    return float(weighted_auc(scores, labels, np.ones(np.shape(scores)[0]))[0])


def resample_weights(n_rows: int, clusters: np.ndarray | None, n_boot: int,
                     rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_rows) multiplicity of every row in ``n_boot`` bootstrap resamples.

    Parameters
    ----------
    n_rows : int
        Rows of the table.
    clusters : ndarray of int, optional
        Patient code of every row, in ``0 .. C - 1``: whole patients are resampled (``C`` draws
        of ``C`` codes) and each row gets its patient's count. Without it rows are resampled.
    n_boot : int
        Replicates; drawing them in several calls continues the same random stream.
    rng : numpy Generator
    """
    units = n_rows if clusters is None else int(clusters.max()) + 1
    picks = rng.integers(0, units, size=(n_boot, units)) + (np.arange(n_boot) * units)[:, None]
    per_unit = np.bincount(picks.ravel(), minlength=n_boot * units).reshape(n_boot, units)
    per_unit = per_unit.astype(np.float64)
    return per_unit if clusters is None else per_unit[:, clusters]


__all__ = ["auc", "resample_weights", "weighted_auc"]
