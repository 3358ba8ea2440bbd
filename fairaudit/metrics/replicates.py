"""Replicate metrics of every group from counts on a list of cells (sparse layout).

A bootstrap replicate is a vector of counts on cells (fine group, label, score bin). The dense
(F, 2, B) layout costs F x 2 x B per replicate for every sum, although with many small groups
most cells are empty: 1,000 groups of 50 rows over 75 bins
occupy about 40,000 of 150,000 cells. Here only the listed cells are carried, as a (K, r) array
(cells x replicates), and every group quantity is a sparse product or a segmented sum:

- linear sums (confusion counts, the Brier numerator, the per-ECE-bin differences between
  positives and summed scores) are reduced per fine group, then summed into every partition's
  groups by the sparse group matrix;
- binned AUCs need each group's histogram over (label, bin). Each partition's occupied
  (group, label, bin) cells are summed from the cells of its smallest finer partition already
  built (an intersection from a finer intersection, an attribute from an intersection), so
  the cost is that of the parent's occupied cells, not fine groups x bins per partition. The
  AUC numerator (pairs in one bin count 1/2) is then a cumulative sum of negatives in
  (group, bin) order, read at the positive cells.

The results equal :func:`fairaudit.metrics.rates.group_metrics` on the dense layout (the same
sums in another order: equal up to floating-point rounding; ``tests/metrics/test_replicates.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fairaudit.metrics.cells import ECE_BINS, CellTable, Partition
from fairaudit.metrics.rates import confusion_metrics, group_matrix

_LINEAR = 5 + ECE_BINS  # tn, fp, fn, tp, Brier numerator, ECE differences per bin


@dataclass(frozen=True)
class _AucLayout:
    """Cells of one partition in (group, bin, label) order and where to read the AUC sums."""

    source: int  # -1: the input cells; otherwise the index of the parent partition
    collect: object  # sparse (K_p, K_source) 0/1 matrix, or None when the layout is the source's
    neg_rows: np.ndarray
    pos_rows: np.ndarray
    n_incl: np.ndarray  # per positive cell: negative cells of its group's bins up to its own
    n_excl: np.ndarray  # per positive cell: the same, below its bin
    seg_starts: np.ndarray  # first positive cell of each group that has positives
    seg_base: np.ndarray  # negative cells before each of those groups
    seg_groups: np.ndarray  # those groups
    n_groups: int
    group_of: np.ndarray  # group of each cell
    n_cells: int


def _layout(group: np.ndarray, label: np.ndarray, bin_: np.ndarray, n_bins: int) -> tuple:
    """Unique (group, bin, label) keys in that order, and the inverse map."""
    key = (group.astype(np.int64) * n_bins + bin_) * 2 + label
    return np.unique(key, return_inverse=True)


def _auc_layout(keys: np.ndarray, inverse: np.ndarray, n_source: int, n_groups: int,
                n_bins: int, source: int) -> _AucLayout:
    from scipy import sparse

    label = keys % 2
    group = keys // (2 * n_bins)
    identity = keys.size == n_source and np.array_equal(inverse, np.arange(n_source))
    collect = None if identity else sparse.csr_matrix(
        (np.ones(inverse.size), (inverse, np.arange(inverse.size))), shape=(keys.size, n_source))
    neg_rows, pos_rows = np.flatnonzero(label == 0), np.flatnonzero(label == 1)
    n_incl = np.searchsorted(neg_rows, pos_rows)
    # A negative cell shares the positive cell's bin when it is the cell just before it.
    prev = np.maximum(pos_rows - 1, 0)
    tie = (pos_rows > 0) & (keys[prev] == keys[pos_rows] - 1)
    gp = group[pos_rows]
    seg_starts = np.flatnonzero(np.r_[True, gp[1:] != gp[:-1]]) if gp.size else np.zeros(0, np.int64)
    group_start = np.searchsorted(group, np.arange(n_groups))
    seg_groups = gp[seg_starts] if gp.size else np.zeros(0, np.int64)
    return _AucLayout(source, collect, neg_rows, pos_rows, n_incl, n_incl - tie, seg_starts,
                      np.searchsorted(neg_rows, group_start[seg_groups]), seg_groups, n_groups,
                      group, keys.size)


def _cumsum_rows(x: np.ndarray, rows: np.ndarray, block: int = 64) -> np.ndarray:
    """Cumulative sums down ``x[rows]`` (C-ordered (K, r)), with a zero row first.

    ``np.cumsum(a, axis=0)`` walks each column with a stride of a whole row (slow for large
    K); cumulative sums inside blocks of rows plus the running block totals touch memory in
    order. Exact for counts (integers in float64).
    """
    k, r = rows.size, x.shape[1]
    nb = max(1, -(-k // block))
    out = np.empty((nb * block + 1, r))
    out[0] = 0.0
    out[k + 1:] = 0.0
    np.take(x, rows, axis=0, out=out[1:k + 1], mode="clip")  # "raise" would buffer ``out``
    v = out[1:].reshape(nb, block, r)
    np.cumsum(v, axis=1, out=v)
    if nb > 1:
        v[1:] += np.cumsum(v[:-1, -1, :], axis=0)[:, None, :]
    return out[: k + 1]


class AucPlan:
    """Binned AUC numerators of every group of every partition from counts on given cells.

    Parameters
    ----------
    fine : ndarray (K,)
        Fine group of each input cell.
    label, bin_ : ndarray (K,)
        Label (0/1) and score bin of each input cell.
    n_bins : int
    parts : list of Partition
        Partitions of the fine groups, in output (stacking) order.
    """

    def __init__(self, fine: np.ndarray, label: np.ndarray, bin_: np.ndarray, n_bins: int,
                 parts: list[Partition]) -> None:
        self.n_bins = n_bins
        self.parts = parts
        self.n_cells = int(fine.size)
        self.layouts: list[_AucLayout | None] = [None] * len(parts)
        keys_of: dict[int, np.ndarray] = {}
        order = sorted(range(len(parts)), key=lambda i: -len(parts[i].attributes))
        self._order = order
        for i in order:
            p = parts[i]
            # Parent: the built partition with the fewest cells whose attributes include p's.
            cands = [j for j in order if self.layouts[j] is not None
                     and set(p.attributes) < set(parts[j].attributes)]
            if cands:
                j = min(cands, key=lambda j: self._layout(j).n_cells)
                q, lay = parts[j], self._layout(j)
                lut = np.zeros(q.n_groups, dtype=np.int64)
                lut[q.member] = p.member
                src = keys_of[j]  # the parent's cells, as (group, bin, label) keys
                g, b, y = lut[src // (2 * n_bins)], (src // 2) % n_bins, src % 2
                source, n_source = j, lay.n_cells
            else:
                g, y, b = p.member[fine], label, bin_
                source, n_source = -1, self.n_cells
            keys, inverse = _layout(g, y, b, n_bins)
            self.layouts[i] = _auc_layout(keys, np.asarray(inverse).ravel(), n_source, p.n_groups,
                                          n_bins, source)
            keys_of[i] = keys
        self.offsets = np.cumsum([0] + [p.n_groups for p in parts])
        self.max_cells = max((lay.n_cells for lay in self.layouts if lay is not None), default=0)

    def _layout(self, i: int) -> _AucLayout:
        """The built layout of partition ``i`` (built parents come first in ``_order``)."""
        lay = self.layouts[i]
        if lay is None:
            raise RuntimeError(f"AUC layout {i} used before it was built")
        return lay

    def wins(self, x: np.ndarray) -> np.ndarray:
        """AUC numerators (G_total, r) from counts ``x`` (K, r) on the input cells."""
        r = x.shape[1]
        out = np.zeros((int(self.offsets[-1]), r))
        arrays: dict[int, np.ndarray] = {}
        for i in self._order:
            lay = self._layout(i)
            src = x if lay.source < 0 else arrays[lay.source]
            xp = src if lay.collect is None else np.asarray(lay.collect @ src)
            arrays[i] = xp
            if lay.pos_rows.size == 0 or lay.neg_rows.size == 0:
                continue
            # Negatives below a positive cell, ties counted 1/2: the mean of the cumulative
            # sums up to its bin and up to the bin before; less those before its group.
            c = _cumsum_rows(xp, lay.neg_rows)
            xpos = xp[lay.pos_rows]
            below = c[lay.n_incl]
            below += c[lay.n_excl]
            below *= xpos
            seg = 0.5 * np.add.reduceat(below, lay.seg_starts, axis=0)
            seg -= np.add.reduceat(xpos, lay.seg_starts, axis=0) * c[lay.seg_base]
            out[self.offsets[i] + lay.seg_groups] = seg
        return out


class ReplicateMetrics:
    """Every metric of every stacked group from replicate counts on the occupied cells.

    ``occupied`` are the flat indices (into the (F, 2, B) layout) of the cells with at least
    one row; replicate counts are given as (K, r) arrays on them, in that order.
    """

    def __init__(self, cells: CellTable, parts: list[Partition]) -> None:
        from scipy import sparse

        n_fine, _, n_bins = cells.count.shape
        flat = cells.count.ravel()
        occ = np.flatnonzero(flat)
        self.occupied = occ
        f, rest = np.divmod(occ, 2 * n_bins)
        y, b = np.divmod(rest, n_bins)
        cnt = flat[occ]
        mean = cells.ssum.ravel()[occ] / cnt
        mean_sq = cells.ssq.ravel()[occ] / cnt
        above = cells.above[f, b].astype(np.int64)
        k = occ.size
        rows = np.concatenate([f * _LINEAR + 2 * y + above, f * _LINEAR + 4,
                               f * _LINEAR + 5 + cells.ece_bin[b]])
        vals = np.concatenate([np.ones(k), mean_sq - 2.0 * y * mean + y, y - mean])
        self._linear = sparse.csr_matrix((vals, (rows, np.tile(np.arange(k), 3))),
                                         shape=(n_fine * _LINEAR, k))
        self._groups = group_matrix(parts)
        self._auc = AucPlan(f, y, b, n_bins, parts)
        self.n_fine = n_fine

    @property
    def width(self) -> int:
        """Largest number of rows of a (rows, r) array in :meth:`__call__` (memory bound)."""
        return max(self.occupied.size, self._auc.max_cells, self.n_fine * _LINEAR,
                   self._groups.shape[0] * _LINEAR)

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics (r, G_total) from replicate counts ``x`` (K, r)."""
        r = x.shape[1]
        fine = np.asarray(self._linear @ x).reshape(self.n_fine, _LINEAR * r)
        lin = np.asarray(self._groups @ fine).reshape(-1, _LINEAR, r).transpose(2, 0, 1)
        conf = lin[..., :4].reshape(r, -1, 2, 2)
        out = confusion_metrics(conf)
        n = conf.sum(axis=(-2, -1))
        pos = conf[..., 1, :].sum(axis=-1)
        neg = conf[..., 0, :].sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["auc"] = np.where(pos * neg > 0, self._auc.wins(x).T / (pos * neg), np.nan)
            out["brier"] = np.where(n > 0, lin[..., 4] / n, np.nan)
            out["ece"] = np.where(n > 0, np.abs(lin[..., 5:]).sum(axis=-1) / n, np.nan)
        out["_n"], out["_pos"], out["_neg"] = n, pos, neg
        return out


def draw_occupied(sampler, occupied: np.ndarray, rng: np.random.Generator, r: int) -> np.ndarray:
    """Replicate counts (K, r) on the ``occupied`` cells from a sampler's ``draw_occupied``, or,
    for a sampler with only dense draws (r, F, 2, B) (``PoissonBootstrap``), from those: cells
    without rows get no count from any resampler."""
    if hasattr(sampler, "draw_occupied"):
        return sampler.draw_occupied(rng, r)
    return np.ascontiguousarray(sampler.draw(rng, r).reshape(r, -1)[:, occupied].T)
