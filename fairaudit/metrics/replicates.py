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
    """One partition's cells in (label, group, bin) order, and how its AUC sums are read.

    Negatives are cells ``[0, n_neg)`` and positives ``[n_neg, n_cells)``, each sorted by
    (group, bin), so the negatives' cumulative sums run over one contiguous block.
    """

    source: int  # -1: the input cells; otherwise the index of the parent partition
    gather: np.ndarray | None  # one source cell per cell: the source rows in order (None: same)
    collect: object  # several source cells per cell: sparse (n_cells, source cells) 0/1 sums
    n_neg: int
    # (positive cells, n_neg + 1): 1/2 x negatives up to the cell's bin + 1/2 x those below it
    # - those before its group, read from the cumulative negatives (a leading zero first).
    pick: object
    seg: object  # (groups with positives, positive cells) 0/1: sums per group
    seg_groups: np.ndarray  # those groups
    n_cells: int


def _auc_layout(key: np.ndarray, n_groups: int, n_bins: int, source: int) -> tuple[_AucLayout, np.ndarray]:
    """The layout whose cells are the distinct ``key`` values of the source cells, and those keys.

    ``key`` is ``(label * n_groups + group) * n_bins + bin`` of each source cell.
    """
    from scipy import sparse

    keys, inverse = np.unique(key, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    k = keys.size
    gather, collect = None, None
    if k == key.size:  # a reordering of the source cells
        order = np.empty(k, dtype=np.int64)
        order[inverse] = np.arange(k)
        gather = None if np.array_equal(order, np.arange(k)) else order
    else:
        collect = sparse.csr_matrix((np.ones(key.size), (inverse, np.arange(key.size))),
                                    shape=(k, key.size))
    n_neg = int(np.searchsorted(keys, n_groups * n_bins))
    neg, pos = keys[:n_neg], keys[n_neg:] - n_groups * n_bins  # (group, bin) codes
    group = pos // n_bins
    at = np.arange(pos.size)
    pick = sparse.csr_matrix(
        (np.repeat([0.5, 0.5, -1.0], pos.size),
         (np.tile(at, 3), np.concatenate([np.searchsorted(neg, pos, side="right"),
                                          np.searchsorted(neg, pos, side="left"),
                                          np.searchsorted(neg, group * n_bins)]))),
        shape=(pos.size, n_neg + 1))
    seg_groups, seg_row = np.unique(group, return_inverse=True)
    seg = sparse.csr_matrix((np.ones(pos.size), (np.asarray(seg_row).ravel(), at)),
                            shape=(seg_groups.size, pos.size))
    return _AucLayout(source, gather, collect, n_neg, pick, seg, seg_groups, k), keys


def _cumsum_rows(x: np.ndarray, block: int = 128) -> np.ndarray:
    """Cumulative sums down the rows of ``x`` (C-ordered (K, r)), with a zero row first.

    ``np.cumsum(a, axis=0)`` walks each column with a stride of a whole row (slow for large
    K); cumulative sums inside blocks of rows plus the running block totals touch memory in
    order. Exact for counts (integers in float64).
    """
    k, r = x.shape
    nb = max(1, -(-k // block))
    out = np.empty((nb * block + 1, r))
    out[0] = 0.0
    out[k + 1:] = 0.0
    out[1:k + 1] = x
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
                q = parts[j]
                lut = np.zeros(q.n_groups, dtype=np.int64)
                lut[q.member] = p.member
                y, rest = np.divmod(keys_of[j], q.n_groups * n_bins)  # the parent's cells
                g, b = np.divmod(rest, n_bins)
                group, source = lut[g], j
            else:
                y, b, group, source = label, bin_, p.member[fine], -1
            key = (y.astype(np.int64) * p.n_groups + group) * n_bins + b
            self.layouts[i], keys_of[i] = _auc_layout(key, p.n_groups, n_bins, source)
        # A partition's counts are kept until its last child is built, then dropped.
        last = {i: pos for pos, i in enumerate(order)}
        for pos, i in enumerate(order):
            last[self._layout(i).source] = pos
        self._drop_after = [[j for j in order if last[j] == pos] for pos in range(len(order))]
        live, self.max_cells = 0, 0
        for pos, i in enumerate(order):
            live += self._layout(i).n_cells
            self.max_cells = max(self.max_cells, live)
            live -= sum(self._layout(j).n_cells for j in self._drop_after[pos])
        self.offsets = np.cumsum([0] + [p.n_groups for p in parts])

    def _layout(self, i: int) -> _AucLayout:
        """The built layout of partition ``i`` (built parents come first in ``_order``)."""
        lay = self.layouts[i]
        if lay is None:
            raise RuntimeError(f"AUC layout {i} used before it was built")
        return lay

    def wins(self, x: np.ndarray) -> np.ndarray:
        """AUC numerators (G_total, r) from counts ``x`` (K, r) on the input cells."""
        out = np.zeros((int(self.offsets[-1]), x.shape[1]))
        arrays: dict[int, np.ndarray] = {}
        for pos, i in enumerate(self._order):
            lay = self._layout(i)
            xp = x if lay.source < 0 else arrays[lay.source]
            if lay.gather is not None:
                xp = np.take(xp, lay.gather, axis=0)
            elif lay.collect is not None:  # source cells that fall in one cell are summed
                xp = np.asarray(lay.collect @ xp)
            arrays[i] = xp
            if lay.seg_groups.size:
                # Negatives below each positive cell, ties counted 1/2, times the positives:
                # integer-valued float64 sums and halves, so exact.
                below = np.asarray(lay.pick @ _cumsum_rows(xp[:lay.n_neg]))
                below *= xp[lay.n_neg:]
                out[self.offsets[i] + lay.seg_groups] = lay.seg @ below
            for j in self._drop_after[pos]:
                del arrays[j]
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
