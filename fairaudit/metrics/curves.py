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


def group_curves(cells: CellTable, p: Partition) -> list[GroupCurves]:
    """ROC, reliability and threshold-sweep curves of every group of ``p`` (for the report)."""
    count = aggregate(cells.count, p, 0)  # (G, 2, B)
    ssum = aggregate(cells.ssum, p, 0)
    left = cells.edges[:-1]
    n_bins = left.shape[0]
    pick = np.unique(np.round(np.linspace(0, n_bins - 1, CURVE_POINTS)).astype(int))
    onehot = np.zeros((n_bins, ECE_BINS))
    onehot[np.arange(n_bins), cells.ece_bin] = 1.0
    out = []
    for gi, g in enumerate(p.groups):
        neg, pos = count[gi, 0], count[gi, 1]
        # Rates when the threshold is each bin's left edge (score >= edge is positive).
        tp = np.cumsum(pos[::-1])[::-1]
        fp = np.cumsum(neg[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            tpr = tp / pos.sum() if pos.sum() > 0 else np.full(n_bins, np.nan)
            fpr = fp / neg.sum() if neg.sum() > 0 else np.full(n_bins, np.nan)
            n_k = (count[gi].sum(axis=0)) @ onehot
            obs = (pos @ onehot) / n_k
            mean_s = (ssum[gi].sum(axis=0) @ onehot) / n_k
        roc_f = np.concatenate([fpr[pick], [0.0]])
        roc_t = np.concatenate([tpr[pick], [0.0]])
        out.append(
            GroupCurves(
                attribute=p.name, group=g,
                roc_fpr=_r(roc_f), roc_tpr=_r(roc_t),
                reliability_score=_r(mean_s), reliability_observed=_r(obs),
                reliability_count=tuple(int(v) for v in n_k),
                thresholds=tuple(np.round(left[pick].astype(np.float64), 6).tolist()), threshold_tpr=_r(tpr[pick]), threshold_fpr=_r(fpr[pick]),
            )
        )
    return out
