"""Curve data for the report: ROC, reliability and threshold sweeps per group, from cells."""

from __future__ import annotations

import numpy as np

from fairaudit.metrics.cells import ECE_BINS, CellTable, Partition
from fairaudit.metrics.rates import aggregate
from fairaudit.result import GroupCurves

CURVE_POINTS = 60


def _r(x: np.ndarray) -> tuple[float | None, ...]:
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    vals = np.round(np.where(finite, x, 0.0), 6).tolist()
    return tuple(v if ok else None for v, ok in zip(vals, finite.tolist(), strict=True))


def _rows(x: np.ndarray) -> list[tuple[float | None, ...]]:
    """:func:`_r` of every row of a (G, k) array, rounded in one pass."""
    finite = np.isfinite(x)
    vals = np.round(np.where(finite, x, 0.0), 6).tolist()
    clean = finite.all(axis=1).tolist()
    return [tuple(v) if ok else _r(row) for v, ok, row in zip(vals, clean, x, strict=True)]


def group_curves(cells: CellTable, p: Partition) -> list[GroupCurves]:
    """ROC, reliability and threshold-sweep curves of every group of ``p`` (for the report)."""
    count = aggregate(cells.count, p, 0)  # (G, 2, B)
    ssum = aggregate(cells.ssum, p, 0)
    left = cells.edges[:-1]
    n_bins = left.shape[0]
    pick = np.unique(np.round(np.linspace(0, n_bins - 1, CURVE_POINTS)).astype(int))
    onehot = np.zeros((n_bins, ECE_BINS))
    onehot[np.arange(n_bins), cells.ece_bin] = 1.0
    neg, pos = count[:, 0], count[:, 1]
    # Rates when the threshold is each bin's left edge (score >= edge is positive).
    tp = np.cumsum(pos[:, ::-1], axis=1)[:, ::-1]
    fp = np.cumsum(neg[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        p_tot, n_tot = pos.sum(axis=1, keepdims=True), neg.sum(axis=1, keepdims=True)
        tpr = np.where(p_tot > 0, tp / p_tot, np.nan)[:, pick]
        fpr = np.where(n_tot > 0, fp / n_tot, np.nan)[:, pick]
        n_k = count.sum(axis=1) @ onehot
        obs = (pos @ onehot) / n_k
        mean_s = (ssum.sum(axis=1) @ onehot) / n_k
    zero = np.zeros((count.shape[0], 1))
    roc_f, roc_t = _rows(np.hstack([fpr, zero])), _rows(np.hstack([tpr, zero]))
    rel_s, rel_o, thr_t, thr_f = _rows(mean_s), _rows(obs), _rows(tpr), _rows(fpr)
    thresholds = tuple(float(x) for x in np.round(left[pick].astype(np.float64), 6))
    counts = np.rint(n_k).astype(np.int64).tolist()
    return [
        GroupCurves(
            attribute=p.name, group=g,
            roc_fpr=roc_f[gi], roc_tpr=roc_t[gi],
            reliability_score=rel_s[gi], reliability_observed=rel_o[gi],
            reliability_count=tuple(counts[gi]),
            thresholds=thresholds, threshold_tpr=thr_t[gi], threshold_fpr=thr_f[gi],
        )
        for gi, g in enumerate(p.groups)
    ]
