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
  (label, group, bin) cells are summed from the cells of its smallest finer partition already
  built (an intersection from a finer intersection, an attribute from an intersection) by a
  sparse 0/1 product, so the cost is that of the parent's occupied cells, not fine groups x
  bins per partition; a partition's counts are dropped once its last child is built. The AUC
  numerator (pairs in one bin count 1/2) needs the cumulative negatives of each group in bin
  order: the negatives are stored block-transposed so that the sums within all blocks are a
  few vector additions over contiguous slabs (``np.cumsum`` down rows walks every column with a
  stride and costs several times more), and one sparse product reads, for every positive
  cell, 1/2 x (negatives up to its bin + below it) - negatives before its group, block
  offsets included. A product with the positives and a sparse segment sum per group follow.

The results equal :func:`fairaudit.metrics.rates.group_metrics` on the dense layout (the same
sums in another order: equal up to floating-point rounding; ``tests/metrics/test_replicates.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.metrics.cells import ECE_BINS, CellTable, Partition
from fairaudit.metrics.rates import CONFUSION_CELLS, RATES, confusion_metrics, group_matrix

if TYPE_CHECKING:
    from fairaudit.metrics.bootstrap import ReplicateStreams

_LINEAR = 5 + ECE_BINS  # tn, fp, fn, tp, Brier numerator, ECE differences per bin


@dataclass(frozen=True)
class _AucLayout:
    """The rows of one partition's counts, and how its AUC numerators are read from them.

    Cells are ordered (label, group, bin). The ``n_neg`` negative cells come first, stored
    for the cumulative sums of :func:`_cumsum_slabs`: negative ``c`` is row
    ``(c % n_slabs) * n_blocks + c // n_slabs`` of ``n_slabs * n_blocks`` rows (rows past the
    last negative are zero); the positive cells follow in order.
    """

    source: int  # -1: the input cells; otherwise the index of the parent partition
    gather: np.ndarray | None  # one source row per row: the source rows to take (None: same)
    pad: np.ndarray  # rows that hold no cell (zeroed after a gather)
    collect: object  # sparse (rows, source rows) 0/1 sums when cells merge source cells
    n_slabs: int
    n_blocks: int
    # (positive cells, rows of _cumsum_slabs): 1/2 x negatives of the cell's group up to its
    # bin + 1/2 x those below its bin, as within-block sums plus block offsets.
    pick: object
    seg: object  # (groups with positives, positive cells) 0/1: sums per group
    seg_groups: np.ndarray  # those groups
    n_rows: int


def _neg_geometry(n_neg: int) -> tuple[int, int]:
    """Slabs and blocks for ``n_neg`` negative cells: about sqrt(n_neg) each."""
    n_slabs = max(1, int(np.ceil(np.sqrt(n_neg))))
    return n_slabs, max(1, -(-n_neg // n_slabs))


def _auc_layout(key: np.ndarray, src_rows: np.ndarray, n_src_rows: int, n_groups: int,
                n_bins: int, source: int) -> tuple[_AucLayout, np.ndarray, np.ndarray]:
    """The layout whose cells are the distinct ``key`` of the source cells; also its cells'
    keys (ascending) and rows.

    ``key`` is ``(label * n_groups + group) * n_bins + bin`` of each source cell, which sits
    at row ``src_rows`` of a source array of ``n_src_rows`` rows.
    """
    from scipy import sparse

    keys, inverse = np.unique(key, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    n_neg = int(np.searchsorted(keys, n_groups * n_bins))
    n_slabs, n_blocks = _neg_geometry(n_neg)
    n_store = n_slabs * n_blocks
    c = np.arange(n_neg)
    rows = np.concatenate([(c % n_slabs) * n_blocks + c // n_slabs,
                           n_store + np.arange(keys.size - n_neg)])
    n_rows = n_store + keys.size - n_neg
    pad = np.setdiff1d(np.arange(n_store), rows[:n_neg])
    gather, collect = None, None
    if 0 < keys.size == key.size:  # a reordering of the source cells
        gather = np.zeros(n_rows, dtype=np.int64)
        gather[rows[inverse]] = src_rows
        if pad.size == 0 and n_rows == n_src_rows and np.array_equal(gather, np.arange(n_rows)):
            gather = None
    else:
        collect = sparse.csr_matrix((np.ones(key.size), (rows[inverse], src_rows)),
                                    shape=(n_rows, n_src_rows))
    neg, pos = keys[:n_neg], keys[n_neg:] - n_groups * n_bins  # (group, bin) codes
    group = pos // n_bins
    pick = _pick(neg, pos, group * n_bins, n_slabs, n_blocks)
    seg_groups, seg_row = np.unique(group, return_inverse=True)
    seg = sparse.csr_matrix((np.ones(pos.size), (np.asarray(seg_row).ravel(), np.arange(pos.size))),
                            shape=(seg_groups.size, pos.size))
    return (_AucLayout(source, gather, pad, collect, n_slabs, n_blocks, pick, seg, seg_groups, n_rows),
            keys, rows)


def _pick(neg: np.ndarray, pos: np.ndarray, group_start: np.ndarray, n_slabs: int,
          n_blocks: int):
    """Sparse (positive cells, rows of :func:`_cumsum_slabs`) reading, for each positive cell,
    1/2 x (negatives up to its bin + those below it) - those before its group.

    ``neg``, ``pos``: sorted (group, bin) codes of the cells; ``group_start``: code of the first
    bin of each positive cell's group. The cumulative count of the first ``i`` negatives is
    the within-block sum at negative ``i - 1`` plus its block's offset (zero for ``i = 0``).
    """
    from scipy import sparse

    at = np.tile(np.arange(pos.size), 3)
    i = np.concatenate([np.searchsorted(neg, pos, side="right"),
                        np.searchsorted(neg, pos, side="left"),
                        np.searchsorted(neg, group_start)])
    coef = np.repeat([0.5, 0.5, -1.0], pos.size)
    some = i > 0
    at, c, coef = at[some], i[some] - 1, coef[some]
    n_store = n_slabs * n_blocks
    within = (c % n_slabs) * n_blocks + c // n_slabs
    offset = n_store + c // n_slabs
    pick = sparse.csr_matrix((np.concatenate([coef, coef]),
                              (np.concatenate([at, at]), np.concatenate([within, offset]))),
                             shape=(pos.size, n_store + n_blocks))
    pick.eliminate_zeros()  # a block offset read with +1/2, +1/2 and -1 cancels
    return pick


def _cumsum_slabs(x: np.ndarray, n_slabs: int, n_blocks: int) -> np.ndarray:
    """Within-block cumulative sums of negatives stored as in :class:`_AucLayout`, then the
    block offsets: ((n_slabs + 1) x n_blocks, r).

    Negative ``c`` is row ``s * n_blocks + b`` (``s = c % n_slabs``, block ``b = c // n_slabs``),
    so slab ``s`` (a contiguous run of rows) holds position ``s`` of every block and the sums
    within all blocks are ``n_slabs`` vector additions over whole slabs. ``np.cumsum`` down
    rows would walk each column with a stride (several times slower). Exact for counts
    (integers in float64).
    """
    r = x.shape[1]
    n_store = n_slabs * n_blocks
    out = np.empty((n_store + n_blocks, r))
    v = out[:n_store].reshape(n_slabs, n_blocks * r)
    xv = x[:n_store].reshape(n_slabs, n_blocks * r)
    v[0] = xv[0]
    for s in range(1, n_slabs):
        np.add(v[s - 1], xv[s], out=v[s])
    off = out[n_store:]
    off[0] = 0.0
    if n_blocks > 1:
        np.cumsum(v[-1].reshape(n_blocks, r)[:-1], axis=0, out=off[1:])
    return out


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
        cells_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # keys and rows of each layout
        order = sorted(range(len(parts)), key=lambda i: -len(parts[i].attributes))
        self._order = order
        for i in order:
            p = parts[i]
            # Parent: the built partition with the fewest cells whose attributes include p's.
            cands = [j for j in order if self.layouts[j] is not None
                     and set(p.attributes) < set(parts[j].attributes)]
            if cands:
                j = min(cands, key=lambda j: cells_of[j][0].size)
                q = parts[j]
                lut = np.zeros(q.n_groups, dtype=np.int64)
                lut[q.member] = p.member
                src_keys, src_rows = cells_of[j]
                y, rest = np.divmod(src_keys, q.n_groups * n_bins)
                g, b = np.divmod(rest, n_bins)
                group, source, n_src = lut[g], j, self._layout(j).n_rows
            else:
                y, b, group, source = label, bin_, p.member[fine], -1
                src_rows, n_src = np.arange(self.n_cells), self.n_cells
            key = (y.astype(np.int64) * p.n_groups + group) * n_bins + b
            self.layouts[i], keys, rows = _auc_layout(key, src_rows, n_src, p.n_groups, n_bins,
                                                      source)
            cells_of[i] = (keys, rows)
        self._plan_memory()
        self.offsets = np.cumsum([0] + [p.n_groups for p in parts])

    def _plan_memory(self) -> None:
        """When each partition's counts can be dropped (after its last child is built), and
        the most rows alive at once (``max_cells``)."""
        order = self._order
        last = {i: pos for pos, i in enumerate(order)}
        for pos, i in enumerate(order):
            last[self._layout(i).source] = pos
        self._drop_after = [[j for j in order if last[j] == pos] for pos in range(len(order))]
        live, self.max_cells = 0, 0
        for pos, i in enumerate(order):
            live += self._layout(i).n_rows
            self.max_cells = max(self.max_cells, live)
            live -= sum(self._layout(j).n_rows for j in self._drop_after[pos])

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
                xp[lay.pad] = 0.0
            elif lay.collect is not None:  # source cells that fall in one cell are summed
                xp = np.asarray(lay.collect @ xp)
            arrays[i] = xp
            if lay.seg_groups.size:
                # Negatives below each positive cell, ties counted 1/2, times the positives:
                # integer-valued float64 sums and halves, so exact.
                n_store = lay.n_slabs * lay.n_blocks
                below = np.asarray(lay.pick @ _cumsum_slabs(xp, lay.n_slabs, lay.n_blocks))
                below *= xp[n_store:]
                out[self.offsets[i] + lay.seg_groups] = lay.seg @ below
            for j in self._drop_after[pos]:
                del arrays[j]
        return out


@dataclass(frozen=True)
class KernelLayout:
    """The arrays of the compiled kernel ``fa_replicate_sums`` (see ``_kernels.c``).

    Partitions are visited parents first; each one's groups and occupied (group, bin) slots
    are merged from its source: the input cells and fine groups, or the built partition with
    the fewest slots among those that refine it. A replicate then costs the slots of every
    partition and its source, in scratch that stays in cache, instead of (cells x replicates)
    intermediates per partition. A partition whose groups are the fine groups (one attribute
    audited alone, or the intersection of all) needs no slots: its AUC numerators are merges
    of each fine group's cells, which are already in (label, bin) order (source ``-2``).
    """

    n_fine: int
    n_parts: int
    n_groups: int
    cell_conf: np.ndarray  # int8 (K,): 2 * label + above
    cell_ece: np.ndarray  # int8 (K,)
    cell_label: np.ndarray  # int8 (K,)
    coef_brier: np.ndarray  # float64 (K,)
    coef_ece: np.ndarray  # float64 (K,)
    fine_start: np.ndarray  # int64 (F + 1,): first input cell of each fine group
    fine_pos: np.ndarray  # int64 (F,): its first positive cell
    cell_lt: np.ndarray  # int32 (K,): negatives of the cell's fine group in lower bins
    cell_le: np.ndarray  # int32 (K,): ... in lower or equal bins
    max_neg: int  # negative cells of the largest fine group
    order: np.ndarray  # int32 (P,)
    source: np.ndarray  # int32 (P,)
    group_offset: np.ndarray  # int64 (P + 1,)
    slot_start: np.ndarray  # int64 (P + 1,)
    slot_group: np.ndarray  # int32 (slots,)
    gmap_start: np.ndarray  # int64 (P,)
    group_map: np.ndarray  # int32
    smap_start: np.ndarray  # int64 (P,)
    slot_map: np.ndarray  # int32

    @classmethod
    def build(cls, fine: np.ndarray, label: np.ndarray, bin_: np.ndarray, n_bins: int,
              n_fine: int, linear: tuple[np.ndarray, ...], parts: list[Partition]) -> KernelLayout:
        """``fine``, ``label``, ``bin_``: fine group, label and score bin of each input cell;
        ``linear``: its confusion entry, ECE bin, Brier and ECE coefficients."""
        order = sorted(range(len(parts)), key=lambda i: -len(parts[i].attributes))
        source = np.full(len(parts), -1, dtype=np.int32)
        slot_keys: dict[int, np.ndarray] = {}  # (group * n_bins + bin) of each partition's slots
        gmaps: list[np.ndarray] = [np.zeros(0, np.int32)] * len(parts)
        smaps: list[np.ndarray] = [np.zeros(0, np.int32)] * len(parts)
        for i in order:
            p = parts[i]
            if p.n_groups == n_fine and np.unique(p.member).size == n_fine:  # the fine groups
                source[i], gmaps[i] = -2, p.member
                slot_keys[i], smaps[i] = np.zeros(0, np.int64), np.zeros(0, np.int32)
                continue
            cands = [j for j in slot_keys if source[j] != -2
                     and set(p.attributes) < set(parts[j].attributes)]
            if cands:
                j = min(cands, key=lambda j: slot_keys[j].size)
                lut = np.zeros(parts[j].n_groups, dtype=np.int64)
                lut[parts[j].member] = p.member
                group, b = np.divmod(slot_keys[j], n_bins)
                key, gmaps[i], source[i] = lut[group] * n_bins + b, lut, j
            else:
                key, gmaps[i] = p.member[fine].astype(np.int64) * n_bins + bin_, p.member
            slot_keys[i], inverse = np.unique(key, return_inverse=True)
            smaps[i] = np.asarray(inverse).ravel()
        conf, ece, brier, ece_coef = linear
        # Input cells are in (fine group, label, bin) order: each fine group's runs.
        fine_start = np.searchsorted(fine, np.arange(n_fine + 1))
        fine_pos = np.searchsorted(fine * 2 + label, 2 * np.arange(n_fine) + 1)
        neg_key = (fine * n_bins + bin_)[label == 0]  # ascending: cells are sorted
        key = fine * n_bins + bin_
        first_neg = np.searchsorted(neg_key, fine * n_bins)  # the group's first negative
        cell_lt = np.searchsorted(neg_key, key, side="left") - first_neg
        cell_le = np.searchsorted(neg_key, key, side="right") - first_neg
        counts = [parts[i].n_groups for i in range(len(parts))]
        slots = [slot_keys[i].size for i in range(len(parts))]
        return cls(
            n_fine=n_fine, n_parts=len(parts), n_groups=int(sum(counts)),
            cell_conf=conf.astype(np.int8), cell_ece=ece.astype(np.int8),
            cell_label=label.astype(np.int8),
            coef_brier=np.ascontiguousarray(brier, dtype=np.float64),
            coef_ece=np.ascontiguousarray(ece_coef, dtype=np.float64),
            fine_start=fine_start.astype(np.int64), fine_pos=fine_pos.astype(np.int64),
            cell_lt=cell_lt.astype(np.int32), cell_le=cell_le.astype(np.int32),
            max_neg=int(np.max(fine_pos - fine_start[:-1], initial=0)),
            order=np.array(order, dtype=np.int32), source=source,
            group_offset=np.cumsum([0, *counts]).astype(np.int64),
            slot_start=np.cumsum([0, *slots]).astype(np.int64),
            slot_group=np.concatenate([slot_keys[i] // n_bins for i in range(len(parts))]
                                      or [np.zeros(0)]).astype(np.int32),
            gmap_start=np.cumsum([0, *(m.size for m in gmaps[:-1])]).astype(np.int64),
            group_map=np.concatenate(gmaps or [np.zeros(0)]).astype(np.int32),
            smap_start=np.cumsum([0, *(m.size for m in smaps[:-1])]).astype(np.int64),
            slot_map=np.concatenate(smaps or [np.zeros(0)]).astype(np.int32),
        )


class ReplicateMetrics:
    """Every metric of every stacked group from replicate counts on the occupied cells.

    ``occupied`` are the flat indices (into the (F, 2, B) layout) of the cells with at least
    one row; replicate counts are given as (r, K) arrays on them, in that order. The sums run in the compiled kernel
    (:mod:`fairaudit.metrics.kernels`) when it is available, else in NumPy and SciPy.
    """

    def __init__(self, cells: CellTable, parts: list[Partition], *, compiled: bool | None = None) -> None:
        from fairaudit.metrics import kernels

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
        self.n_fine = n_fine
        self.n_groups = sum(p.n_groups for p in parts)
        linear = (2 * y + above, cells.ece_bin[b], mean_sq - 2.0 * y * mean + y, y - mean)
        self.compiled = kernels.available() if compiled is None else compiled and kernels.available()
        if self.compiled:
            self._layout = KernelLayout.build(f, y, b, n_bins, n_fine, linear, parts)
            self._tables: dict[tuple[str, ...], MetricTable] = {}
            return
        from scipy import sparse

        k = occ.size
        rows = np.concatenate([f * _LINEAR + linear[0], f * _LINEAR + 4, f * _LINEAR + 5 + linear[1]])
        vals = np.concatenate([np.ones(k), linear[2], linear[3]])
        self._linear = sparse.csr_matrix((vals, (rows, np.tile(np.arange(k), 3))),
                                         shape=(n_fine * _LINEAR, k))
        self._groups = group_matrix(parts)
        self._auc = AucPlan(f, y, b, n_bins, parts)

    @property
    def width(self) -> int:
        """Largest number of rows of a (rows, r) array in :meth:`rows` (memory bound)."""
        if self.compiled:
            return max(self.occupied.size, self.n_groups * (_LINEAR + 1))
        return max(self.occupied.size, self._auc.max_cells, self.n_fine * _LINEAR,
                   self._groups.shape[0] * _LINEAR)

    def rows(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics (r, G_total) from replicate counts ``x`` (r, K)."""
        if self.compiled:
            from fairaudit.metrics import kernels

            lin, wins = kernels.replicate_sums(x, self._layout)
        else:
            xt = np.ascontiguousarray(x.T)
            r = x.shape[0]
            fine = np.asarray(self._linear @ xt).reshape(self.n_fine, _LINEAR * r)
            lin = np.asarray(self._groups @ fine).reshape(-1, _LINEAR, r).transpose(1, 2, 0)
            wins = self._auc.wins(xt).T
        return _metrics(lin, wins)

    def rows_into(self, x: np.ndarray, out: dict[str, np.ndarray], row0: int) -> None:
        """Write the metrics of replicate counts ``x`` (r, K) into rows ``row0`` to
        ``row0 + r - 1`` of the (replicates, G_total) arrays ``out`` (by metric name): in the
        compiled kernel directly, else from :meth:`rows`. The same numbers either way."""
        if not self.compiled:
            m = self.rows(x)
            for key, dest in out.items():
                dest[row0:row0 + x.shape[0]] = m[key]
            return
        from fairaudit.metrics import kernels

        names = tuple(out)
        table = self._tables.get(names)
        if table is None:
            table = self._tables[names] = MetricTable.of(names)
        kernels.replicate_metrics(x, self._layout, table, [out[k] for k in names], row0)


@dataclass(frozen=True)
class MetricTable:
    """How the compiled kernel computes each metric of ``names`` (see ``_kernels.c``): the
    confusion rates from :data:`fairaudit.metrics.rates.RATES` as bit masks of their numerator
    and denominator cells, balanced accuracy as the mean of TPR and TNR, AUC, Brier and ECE by
    their kinds. The operations are those of :func:`_metrics`, so the numbers are the same bits
    (the cells are whole counts: the order of their sums cannot change them)."""

    names: tuple[str, ...]
    kind: np.ndarray  # int8
    a: np.ndarray  # int8: numerator mask, or the first averaged metric
    b: np.ndarray  # int8: denominator mask, or the second

    @classmethod
    def of(cls, names: tuple[str, ...]) -> MetricTable:
        def mask(cells: tuple[str, ...]) -> int:
            return sum(1 << (2 * CONFUSION_CELLS[c][0] + CONFUSION_CELLS[c][1]) for c in cells)

        rows: list[tuple[int, int, int]] = []  # (kind, a, b) of each metric
        for name in names:
            if name in RATES:
                num, den = RATES[name]
                rows.append((0, mask(num), mask(den)))
            elif name == "balanced_accuracy":  # the mean of two outputs written before it
                if not {"tpr", "tnr"} <= set(names[:len(rows)]):
                    raise ValueError("balanced accuracy needs TPR and TNR before it")
                rows.append((1, names.index("tpr"), names.index("tnr")))
            else:
                rows.append(({"auc": 2, "brier": 3, "ece": 4}[name], 0, 0))
        kind, a, b = (list(col) for col in zip(*rows, strict=True)) if rows else ([], [], [])
        return cls(names, np.array(kind, np.int8), np.array(a, np.int8), np.array(b, np.int8))


def _metrics(lin: np.ndarray, wins: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics (r, G) from linear sums (15, r, G) and AUC numerators (r, G)."""
    conf = {"tn": lin[0], "fp": lin[1], "fn": lin[2], "tp": lin[3]}
    out = confusion_metrics(conf)
    neg, pos = lin[0] + lin[1], lin[2] + lin[3]
    n = neg + pos
    # ECE gaps summed bin by bin, in order (chunks must not change a bit).
    gaps = np.abs(lin[5])
    for j in range(6, lin.shape[0]):
        gaps += np.abs(lin[j])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["auc"] = np.where(pos * neg > 0, wins / (pos * neg), np.nan)
        out["brier"] = np.where(n > 0, lin[4] / n, np.nan)
        out["ece"] = np.where(n > 0, gaps / n, np.nan)
    out["_n"], out["_pos"], out["_neg"] = n, pos, neg
    return out


def draw_rows(sampler, occupied: np.ndarray, streams: ReplicateStreams, start: int,
              r: int) -> np.ndarray:
    """Counts (r, K) of replicates ``start`` to ``start + r - 1`` on the ``occupied`` cells from
    a sampler's ``draw_rows``, or, for a sampler with only dense draws (r, F, 2, B)
    (``PoissonBootstrap``), from those: cells without rows get no count from any resampler."""
    if hasattr(sampler, "draw_rows"):
        return sampler.draw_rows(streams, start, r)
    return np.ascontiguousarray(sampler.draw(streams, start, r).reshape(r, -1)[:, occupied])
