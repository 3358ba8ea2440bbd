"""Sufficient statistics: every row reduced to a cell (fine group, label, score bin).

The *fine* groups are the occurring combinations of all audited attributes; every attribute
and every intersection is a *partition* that merges fine groups. Per cell we keep the row
count and the sums of scores and squared scores. From these arrays alone we get

- exact confusion counts at any threshold that is a bin edge (thresholds are always made edges),
- exact Brier score and ECE (the ECE bin edges are bin edges too),
- ROC, reliability and threshold-sweep curves,
- AUC up to ties inside a bin (used for bootstrap replicates; point AUCs are exact from ranks).

A bootstrap replicate is then a redraw of cell counts, whose cost does not grow with rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics import kernels
from fairaudit.naming import attribute_label, group_label

ECE_BINS = 10
"""Equal-width bins of the expected calibration error."""

QUANTILE_BINS = 64
"""Score-quantile bins. Binned AUCs in bootstrap replicates count pairs inside a bin as ties;
the engine shifts them by (exact - binned) point AUC so intervals centre on the exact value."""


@dataclass(frozen=True)
class Partition:
    """One audited attribute or intersection, as a merge of the fine groups.

    Attributes
    ----------
    name : str
        ``"race"`` or ``"sex & race"``.
    attributes : tuple of int
        Indices of the attributes it combines.
    groups : tuple of str
        Display names of its non-empty groups (:func:`fairaudit.naming.group_label`).
    member : ndarray of shape (F,)
        ``member[f]`` is the partition group that fine group ``f`` belongs to.
    values : tuple of tuple of str
        ``values[g]`` is group ``g``'s value of each attribute, in ``attributes`` order.
    """

    name: str
    attributes: tuple[int, ...]
    groups: tuple[str, ...]
    member: np.ndarray
    values: tuple[tuple[str, ...], ...] = ()

    @property
    def n_groups(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class CellTable:
    """Per-cell sufficient statistics of an audit (see module docstring).

    Shapes: ``count``, ``ssum``, ``ssq`` are (F, 2, B); ``above`` is (F, B) and tells whether
    bin ``b`` is a positive decision for fine group ``f``; ``edges`` has B + 1 entries.
    """

    edges: np.ndarray
    count: np.ndarray
    ssum: np.ndarray
    ssq: np.ndarray
    above: np.ndarray
    ece_bin: np.ndarray  # (B,) ECE bin of each fine bin
    fine_codes: np.ndarray  # (F, k) attribute codes of each fine group
    row_fine: np.ndarray  # (n,) fine group of each row
    row_bin: np.ndarray  # (n,) score bin of each row

    @property
    def n_fine(self) -> int:
        return int(self.count.shape[0])

    @property
    def n_bins(self) -> int:
        return int(self.count.shape[2])

    def cell_index(self, labels: np.ndarray) -> np.ndarray:
        """Flat cell index of every row (fine group, label, bin)."""
        return (self.row_fine * 2 + labels) * self.n_bins + self.row_bin


def _sorted_quantiles(s: np.ndarray, n_quantiles: int) -> np.ndarray:
    """``np.quantile(s, linspace(0, 1, n_quantiles + 1))`` (linear method) of sorted ``s``."""
    pos = np.linspace(0.0, 1.0, n_quantiles + 1) * (s.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.size - 1)
    t = pos - lo
    a, b = s[lo], s[hi]
    diff = b - a
    # numpy's lerp: from the nearer end, so an edge that falls on a data point is that point.
    return np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)


def bin_edges(scores: np.ndarray, thresholds: np.ndarray, n_quantiles: int = QUANTILE_BINS,
              *, sorted_scores: np.ndarray | None = None) -> np.ndarray:
    """Score bin edges: quantiles of the pooled scores, the ECE edges and every threshold.

    The last edge lies just above 1 so that a threshold of exactly 1.0 still has a bin
    ``[1.0, 1.0+)`` of its own. ``sorted_scores`` (the scores in ascending order) saves a sort.
    """
    if scores.size:
        qs = _sorted_quantiles(np.sort(scores) if sorted_scores is None else sorted_scores, n_quantiles)
    else:
        qs = np.empty(0)
    ece = np.linspace(0.0, 1.0, ECE_BINS + 1)
    edges = np.unique(np.concatenate([qs, ece, np.asarray(thresholds, dtype=np.float64), [0.0, 1.0]]))
    edges = edges[(edges >= 0.0) & (edges <= 1.0)]
    return np.append(edges, np.nextafter(1.0, 2.0))


def build_cells(
    labels: np.ndarray,
    scores: np.ndarray,
    group_codes: np.ndarray,
    fine_thresholds: np.ndarray | float,
    *,
    extra_thresholds: np.ndarray | None = None,
    n_quantiles: int = QUANTILE_BINS,
    order: np.ndarray | None = None,
) -> CellTable:
    """Reduce rows to cell statistics with a few vectorised passes (bincount).

    Parameters
    ----------
    labels : ndarray of int8, shape (n,)
    scores : ndarray of float64, shape (n,)
    group_codes : ndarray of int, shape (n, k)
    fine_thresholds : float or callable result
        A single decision threshold, or an array with one threshold per *row* (group-specific
        thresholds); rows of one fine group must share a threshold.
    order : ndarray of int, optional
        ``np.argsort(scores)`` if the caller has it: edges and row bins then come from the
        sorted scores in O(n) instead of a partition and a binary search per row.
    """
    n, k = group_codes.shape
    dims = tuple(int(group_codes[:, j].max()) + 1 if n else 1 for j in range(k))
    combo = np.ravel_multi_index(group_codes.T, dims) if k else np.zeros(n, dtype=np.int64)
    n_combos = int(np.prod(dims, dtype=np.int64))
    if n_combos <= 4 * n + 1024:  # O(n) relabelling through a lookup table
        present = np.bincount(combo, minlength=n_combos) > 0
        uniq = np.flatnonzero(present)
        lut = np.cumsum(present) - 1
        row_fine = lut[combo].astype(np.int64)
    else:
        uniq, row_fine = np.unique(combo, return_inverse=True)
        row_fine = row_fine.astype(np.int64).ravel()
    fine_codes = np.stack(np.unravel_index(uniq, dims), axis=1) if k else np.zeros((1, 0), int)
    n_fine = uniq.shape[0]

    if np.ndim(fine_thresholds) == 0:  # one threshold for all
        thr_fine = np.full(n_fine, float(fine_thresholds))
    else:
        thr_fine = np.empty(n_fine)
        thr_fine[row_fine] = np.broadcast_to(np.asarray(fine_thresholds, dtype=np.float64), (n,))
    all_thr = np.unique(np.concatenate([thr_fine, extra_thresholds if extra_thresholds is not None else []]))
    if order is None:
        edges = bin_edges(scores, all_thr, n_quantiles)
        n_bins = edges.shape[0] - 1
        row_bin = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, n_bins - 1)
    else:
        s_sorted = scores[order]
        edges = bin_edges(scores, all_thr, n_quantiles, sorted_scores=s_sorted)
        n_bins = edges.shape[0] - 1
        # Sorted row i is in bin b when edges[b] <= s < edges[b + 1]; below edges[1] is bin 0
        # and from edges[-2] up is the last bin (the same clipping as the search above).
        cut = np.searchsorted(s_sorted, edges[1:-1], side="left")
        sizes = np.diff(np.concatenate([[0], cut, [n]]))
        row_bin = np.empty(n, dtype=np.int64)
        row_bin[order] = np.repeat(np.arange(n_bins, dtype=np.int64), sizes)

    count, ssum, ssq = kernels.cell_sums(row_fine, labels.astype(np.int64), row_bin, scores,
                                         n_fine, n_bins)
    above = edges[None, :-1] >= thr_fine[:, None]
    ece_edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    ece_bin = np.clip(np.searchsorted(ece_edges, edges[:-1], side="right") - 1, 0, ECE_BINS - 1)
    return CellTable(
        edges=edges,
        count=count,
        ssum=ssum,
        ssq=ssq,
        above=above,
        ece_bin=ece_bin,
        fine_codes=fine_codes,
        row_fine=row_fine,
        row_bin=row_bin,
    )


def make_partitions(
    cells: CellTable,
    attributes: tuple[str, ...],
    group_names: tuple[tuple[str, ...], ...],
    *,
    intersections: bool = True,
) -> list[Partition]:
    """Every attribute alone, then (if asked) every intersection of two or more attributes.

    Groups of a partition are the occurring value combinations, ordered by the attributes'
    own group order.
    """
    k = len(attributes)
    sizes = [1] + ([r for r in range(2, k + 1)] if intersections else [])
    parts: list[Partition] = []
    for r in sizes:
        for combo in itertools.combinations(range(k), r):
            codes = cells.fine_codes[:, combo]
            keys, member = np.unique(codes, axis=0, return_inverse=True)
            values = tuple(
                tuple(group_names[a][int(c)] for a, c in zip(combo, key, strict=True))
                for key in keys
            )
            parts.append(
                Partition(
                    name=attribute_label(attributes[a] for a in combo),
                    attributes=combo,
                    groups=tuple(group_label(v) for v in values),
                    member=np.asarray(member, dtype=np.int64).ravel(),
                    values=values,
                )
            )
    return parts


def overall_partition(n_fine: int) -> Partition:
    return Partition(name="overall", attributes=(), groups=("overall",), member=np.zeros(n_fine, np.int64),
                     values=((),))
