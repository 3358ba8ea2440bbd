"""Mergeable sufficient statistics: what any slice of rows reduces to, added up exactly.

An audit needs, per (fine group, label, score value), a row count and the sums of scores and
squared scores. :class:`AuditStats` keeps the counts (and each cell's score range) on a fixed
grid of fine score cells and the sums per coarse bin (all that needs them), so that two
slices of a dataset (two files, two Dask partitions, two batches of one file) reduce
independently and :func:`merge` adds them. Everything is exact and associative:

- counts are integers;
- score sums are fixed point (each score rounded to a multiple of 2**-48, split into two
  24-bit limbs summed as integers), so the merged sums do not depend on the order of the
  additions, and differ from float sums of the rows by at most n x 2**-49;
- minimum and maximum score per cell merge by min and max.

The grid: every score is placed in a *fine cell* of the edges ``k / levels`` (``levels`` =
65536 by default) together with every *cut point* (the decision thresholds and the ECE edges),
so confusion counts at a threshold, Brier score and ECE are exact. The bootstrap and the
curves use *coarse bins* made of whole fine cells: 64 equal-width bins plus the cut points.

AUC: from merged counts, pairs of a positive and a negative in different fine cells are
ordered by the cells; inside one cell they are ordered by the classes' score ranges (kept per
cell) when these do not overlap, and count 1/2 otherwise. The AUC is exact when no cell holds
overlapping ranges of both classes; in general its error is at most ``sum over such cells of
pos x neg / (2 P N)``, which :func:`auc_from_stats` returns.

The Poisson bootstrap (:mod:`fairaudit.metrics.poisson`) adds a mergeable table of row counts
per (hash bucket, fine group, label, coarse bin). With patient keys (``--cluster``) the
statistics also count the distinct patients (:mod:`fairaudit.metrics.sketch`: exact up to
65,536, a HyperLogLog estimate beyond).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics.cells import ECE_BINS, CellTable
from fairaudit.metrics.sketch import KeyCount, key_count, merge_counts

SCORE_LEVELS = 1 << 16
"""Fine score cells per unit interval (besides the cut points)."""

COARSE_BINS = 64
"""Equal-width bins of the bootstrap replicates and curves (besides the cut points)."""

MISSING = "\x00missing"
"""Internal name of the missing value of an attribute until the groups are finalised."""

_SCALE = float(1 << 48)
_LIMB = 1 << 24


def coarse_edges(cut_points: np.ndarray) -> np.ndarray:
    """Bin edges of the replicates: equal-width bins, the ECE edges and the cut points."""
    edges = np.unique(np.concatenate([np.linspace(0.0, 1.0, COARSE_BINS + 1),
                                      np.linspace(0.0, 1.0, ECE_BINS + 1),
                                      np.asarray(cut_points, dtype=np.float64)]))
    edges = edges[(edges >= 0.0) & (edges <= 1.0)]
    return np.append(edges, np.nextafter(1.0, 2.0))


def fine_edges(cut_points: np.ndarray, levels: int = SCORE_LEVELS) -> np.ndarray:
    """Fine cell edges: ``k / levels`` and every coarse edge (so coarse bins are unions)."""
    coarse = coarse_edges(cut_points)
    edges = np.unique(np.concatenate([np.linspace(0.0, 1.0, levels + 1), coarse[:-1]]))
    return np.append(edges, coarse[-1])


def _coarse_map(fedges: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Coarse bin of every fine cell (coarse edges are fine edges, so cells nest in bins)."""
    return np.clip(np.searchsorted(coarse, fedges[:-1], side="right") - 1, 0, coarse.shape[0] - 2)


def _limbs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.rint(x * _SCALE).astype(np.int64)
    return v >> 24, v & (_LIMB - 1)


def _limb_value(s: np.ndarray) -> np.ndarray:
    """Float value of (..., 2) limb sums."""
    return s[..., 0].astype(np.float64) / _LIMB + s[..., 1].astype(np.float64) / _SCALE


@dataclass(frozen=True, eq=False)
class AuditStats:
    """Sufficient statistics of some rows; :func:`merge` adds two of them.

    Attributes
    ----------
    attributes : tuple of str
    names : tuple of tuple of str
        Group names of every attribute, in order of discovery (``MISSING`` for missing values).
    numeric : tuple of bool
        Whether each attribute's column was numeric (its groups then sort numerically).
    fine_codes : ndarray (F, k)
        The fine groups (occurring combinations) as indices into ``names``.
    cut_points : ndarray
        Thresholds that must be exact (sorted); equal in statistics that merge.
    levels : int
        Fine score cells per unit interval.
    key : ndarray (K,)
        Sorted ``(fine * 2 + label) * n_fine_cells + cell`` of every non-empty fine cell.
    count, smin, smax : ndarray
        Per key: rows and score range.
    ckey : ndarray (C,)
        Sorted ``(fine * 2 + label) * n_coarse + bin`` of every non-empty coarse cell.
    s1, s2 : ndarray (C, 2)
        Per coarse cell: limb sums of scores and of squared scores (only coarse bins need them).
    seed, n_buckets : int
        Poisson bootstrap hashing (``n_buckets`` 0: no bucket table).
    bkey, bcount : ndarray
        Sorted ``((bucket * F + fine) * 2 + label) * n_coarse + bin`` and its rows.
    n_rows : int
    distinct_keys : KeyCount or None
        Distinct resampling keys (patients), when they were counted (``count_keys``).
    """

    attributes: tuple[str, ...]
    names: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    fine_codes: np.ndarray
    cut_points: np.ndarray
    levels: int
    key: np.ndarray
    count: np.ndarray
    smin: np.ndarray
    smax: np.ndarray
    ckey: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    seed: int
    n_buckets: int
    bkey: np.ndarray
    bcount: np.ndarray
    n_rows: int
    distinct_keys: KeyCount | None = None

    @property
    def n_fine(self) -> int:
        return int(self.fine_codes.shape[0])

    @property
    def n_cells(self) -> int:
        return int(fine_edges(self.cut_points, self.levels).shape[0] - 1)

    @property
    def n_coarse(self) -> int:
        return int(coarse_edges(self.cut_points).shape[0] - 1)


def _reduce_keys(key: np.ndarray, cols: list[np.ndarray],
                 mins: np.ndarray | None = None, maxs: np.ndarray | None = None):
    """Sum int64 columns (and min / max) over equal keys; returns the sorted unique keys."""
    order = np.argsort(key, kind="stable")
    k = key[order]
    if k.size == 0:
        return k, [c[:0] for c in cols], (mins[:0] if mins is not None else None), (
            maxs[:0] if maxs is not None else None)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    out = [np.add.reduceat(c[order], starts, axis=0) for c in cols]
    lo = np.minimum.reduceat(mins[order], starts) if mins is not None else None
    hi = np.maximum.reduceat(maxs[order], starts) if maxs is not None else None
    return k[starts], out, lo, hi


def reduce_rows(
    labels: np.ndarray,
    scores: np.ndarray,
    codes: np.ndarray,
    names: tuple[tuple[str, ...], ...],
    *,
    attributes: tuple[str, ...],
    numeric: tuple[bool, ...],
    cut_points: np.ndarray,
    levels: int = SCORE_LEVELS,
    keys: np.ndarray | None = None,
    seed: int = 0,
    n_buckets: int = 0,
    count_keys: bool = False,
) -> AuditStats:
    """Statistics of validated rows.

    Parameters
    ----------
    labels : ndarray of 0/1, shape (n,)
    scores : ndarray of float in [0, 1], shape (n,)
    codes : ndarray of int, shape (n, k)
        Indices into ``names`` (missing values have the name ``MISSING``).
    keys : ndarray of uint64, optional
        Resampling key of every row (row or patient identity); needed when ``n_buckets`` > 0.
    n_buckets : int
        Hash buckets of the Poisson bootstrap; 0 keeps no bucket table.
    count_keys : bool
        Count the distinct ``keys`` (patient ids; not row ids) in ``distinct_keys``.
    """
    from fairaudit.metrics.poisson import bucket_of

    labels = np.asarray(labels).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64).reshape(labels.shape[0], len(attributes))
    n, k = codes.shape
    cut_points = np.unique(np.asarray(cut_points, dtype=np.float64))
    dims = tuple(max(len(nm), 1) for nm in names)
    combo = np.ravel_multi_index(codes.T, dims) if k else np.zeros(n, np.int64)
    uniq, fine = np.unique(combo, return_inverse=True)
    fine = fine.ravel().astype(np.int64)
    fine_codes = (np.stack(np.unravel_index(uniq, dims), axis=1) if k else np.zeros((uniq.size, 0), np.int64))
    edges = fine_edges(cut_points, levels)
    n_cells = edges.shape[0] - 1
    cell = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, n_cells - 1)
    key = (fine * 2 + labels) * n_cells + cell
    ukey, (count,), smin, smax = _reduce_keys(key, [np.ones(n, np.int64)], scores, scores)
    del key
    coarse = coarse_edges(cut_points)
    n_coarse = coarse.shape[0] - 1
    cbin = _coarse_map(edges, coarse)[cell]
    del cell
    h1, l1 = _limbs(scores)
    h2, l2 = _limbs(scores * scores)
    ckey, (s1, s2), _, _ = _reduce_keys((fine * 2 + labels) * n_coarse + cbin,
                                        [np.stack([h1, l1], axis=1), np.stack([h2, l2], axis=1)])
    del h1, l1, h2, l2
    bkey = bcount = np.zeros(0, np.int64)
    if n_buckets > 0:
        if keys is None:
            raise ValueError("keys are needed for the Poisson bucket table (n_buckets > 0)")
        bucket = bucket_of(np.asarray(keys, dtype=np.uint64), seed, n_buckets)
        bk = ((bucket * uniq.size + fine) * 2 + labels) * n_coarse + cbin
        bkey, (bcount,), _, _ = _reduce_keys(bk, [np.ones(n, np.int64)])
    distinct = None
    if count_keys:
        if keys is None:
            raise ValueError("keys are needed to count them (count_keys)")
        distinct = key_count(np.asarray(keys, dtype=np.uint64))
    return AuditStats(
        attributes=tuple(attributes), names=tuple(tuple(x) for x in names), numeric=tuple(numeric),
        fine_codes=fine_codes.astype(np.int64), cut_points=cut_points, levels=int(levels),
        key=ukey, count=count, smin=smin, smax=smax, ckey=ckey, s1=s1, s2=s2, seed=int(seed),
        n_buckets=int(n_buckets), bkey=bkey, bcount=bcount, n_rows=int(n), distinct_keys=distinct,
    )


def _check_compatible(a: AuditStats, b: AuditStats) -> None:
    same = (a.attributes == b.attributes and a.levels == b.levels and a.seed == b.seed
            and a.n_buckets == b.n_buckets and np.array_equal(a.cut_points, b.cut_points)
            and (a.distinct_keys is None) == (b.distinct_keys is None))
    if not same:
        raise ValueError("statistics of different audits (attributes, cut points, score levels, "
                         "seed, buckets or key counting differ) cannot be merged")


def _union_names(a: AuditStats, b: AuditStats) -> tuple[tuple[tuple[str, ...], ...], list[np.ndarray]]:
    """Merged names per attribute (a's first) and, per attribute, b's code -> merged code."""
    names, maps = [], []
    for na, nb in zip(a.names, b.names, strict=True):
        index = {x: i for i, x in enumerate(na)}
        merged = list(na) + [x for x in nb if x not in index]
        index = {x: i for i, x in enumerate(merged)}
        names.append(tuple(merged))
        maps.append(np.array([index[x] for x in nb], dtype=np.int64))
    return tuple(names), maps


def _rekey(s: AuditStats, fine_map: np.ndarray, n_fine: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fine, coarse and bucket keys of ``s`` with its fine groups renumbered by ``fine_map``."""
    n_cells, n_coarse = s.n_cells, s.n_coarse
    key = fine_map[s.key // (2 * n_cells)] * (2 * n_cells) + s.key % (2 * n_cells)
    ckey = fine_map[s.ckey // (2 * n_coarse)] * (2 * n_coarse) + s.ckey % (2 * n_coarse)
    per_bucket = s.n_fine * 2 * n_coarse
    bucket, within = s.bkey // per_bucket, s.bkey % per_bucket
    bkey = (bucket * n_fine + fine_map[within // (2 * n_coarse)]) * (2 * n_coarse) + within % (2 * n_coarse)
    return key, ckey, bkey


def merge(a: AuditStats, b: AuditStats) -> AuditStats:
    """The statistics of the rows of ``a`` and ``b`` together (exact; order-free in value)."""
    _check_compatible(a, b)
    names, maps = _union_names(a, b)
    k = len(a.attributes)
    b_codes = (np.stack([maps[j][b.fine_codes[:, j]] for j in range(k)], axis=1)
               if k else b.fine_codes)
    dims = tuple(max(len(nm), 1) for nm in names)
    all_codes = np.concatenate([a.fine_codes, b_codes]).reshape(-1, k)
    combo = np.ravel_multi_index(all_codes.T, dims) if k else np.zeros(all_codes.shape[0], np.int64)
    uniq, inv = np.unique(combo, return_inverse=True)
    inv = inv.ravel().astype(np.int64)
    fine_codes = (np.stack(np.unravel_index(uniq, dims), axis=1) if k
                  else np.zeros((uniq.size, 0), np.int64))
    ka, cka, bka = _rekey(a, inv[:a.n_fine], uniq.size)
    kb, ckb, bkb = _rekey(b, inv[a.n_fine:], uniq.size)
    key, (count,), smin, smax = _reduce_keys(
        np.concatenate([ka, kb]), [np.concatenate([a.count, b.count])],
        np.concatenate([a.smin, b.smin]), np.concatenate([a.smax, b.smax]))
    ckey, (s1, s2), _, _ = _reduce_keys(np.concatenate([cka, ckb]), [np.concatenate([a.s1, b.s1]),
                                                                      np.concatenate([a.s2, b.s2])])
    bkey, (bcount,), _, _ = _reduce_keys(np.concatenate([bka, bkb]), [np.concatenate([a.bcount, b.bcount])])
    return AuditStats(
        attributes=a.attributes, names=names,
        numeric=tuple(x and y for x, y in zip(a.numeric, b.numeric, strict=True)),
        fine_codes=fine_codes.astype(np.int64), cut_points=a.cut_points, levels=a.levels,
        key=key, count=count, smin=smin, smax=smax, ckey=ckey, s1=s1, s2=s2, seed=a.seed,
        n_buckets=a.n_buckets, bkey=bkey, bcount=bcount, n_rows=a.n_rows + b.n_rows,
        distinct_keys=(None if a.distinct_keys is None or b.distinct_keys is None
                       else merge_counts(a.distinct_keys, b.distinct_keys)),
    )


def merge_all(parts: list[AuditStats]) -> AuditStats:
    """Merge a list pairwise, as a balanced tree."""
    if not parts:
        raise ValueError("no statistics to merge")
    while len(parts) > 1:
        parts = [merge(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


def _name_key(names: tuple[str, ...], numeric: bool, i: int) -> tuple:
    return _sort_key(names[i], numeric)


def _sort_key(name: str, numeric: bool) -> tuple:
    if name == MISSING:
        return (2, 0.0, "")
    if numeric:
        try:
            return (0, float(name), "")
        except ValueError:
            pass
    return (1, 0.0, name)


def canonical(stats: AuditStats, missing_name=lambda names: "unknown") -> AuditStats:
    """The same statistics with groups in their final order and missing values named.

    Groups sort numerically for numeric columns, as text otherwise, missing last (the order of
    :func:`fairaudit.data.dataset.encode_groups`); fine groups sort by their codes. The result
    does not depend on how the rows were partitioned. ``missing_name(names)`` names the
    missing group of an attribute from its other names.
    """
    k = len(stats.attributes)
    orders: list[list[int]] = [
        sorted(range(len(nm)), key=functools.partial(_name_key, nm, num))
        for nm, num in zip(stats.names, stats.numeric, strict=True)
    ]
    names, maps = [], []
    for nm, order in zip(stats.names, orders, strict=True):
        present = [nm[i] for i in order]
        others = tuple(x for x in present if x != MISSING)
        names.append(tuple(missing_name(others) if x == MISSING else x for x in present))
        rank = np.empty(len(order), np.int64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
        maps.append(rank)
    codes = (np.stack([maps[j][stats.fine_codes[:, j]] for j in range(k)], axis=1)
             if k else stats.fine_codes)
    dims = tuple(max(len(nm), 1) for nm in names)
    combo = np.ravel_multi_index(codes.T, dims) if k else np.zeros(codes.shape[0], np.int64)
    by_combo = np.argsort(combo, kind="stable")
    fine_map = np.empty(by_combo.size, np.int64)
    fine_map[by_combo] = np.arange(by_combo.size)
    key, ckey, bkey = _rekey(stats, fine_map, by_combo.size)
    o, co, bo = (np.argsort(k, kind="stable") for k in (key, ckey, bkey))
    return AuditStats(
        attributes=stats.attributes, names=tuple(names), numeric=stats.numeric,
        fine_codes=codes[by_combo], cut_points=stats.cut_points, levels=stats.levels,
        key=key[o], count=stats.count[o], smin=stats.smin[o], smax=stats.smax[o], ckey=ckey[co],
        s1=stats.s1[co], s2=stats.s2[co], seed=stats.seed, n_buckets=stats.n_buckets, bkey=bkey[bo],
        bcount=stats.bcount[bo], n_rows=stats.n_rows, distinct_keys=stats.distinct_keys,
    )


def to_cells(stats: AuditStats, fine_thresholds: np.ndarray) -> CellTable:
    """The coarse :class:`CellTable` of (canonical) statistics, for the common finaliser.

    ``fine_thresholds`` (F,) is each fine group's decision threshold (a cut point).
    """
    coarse = coarse_edges(stats.cut_points)
    fedges = fine_edges(stats.cut_points, stats.levels)
    n_cells, n_coarse, n_fine = fedges.shape[0] - 1, coarse.shape[0] - 1, stats.n_fine
    cmap = _coarse_map(fedges, coarse)
    fy, cell = stats.key // n_cells, stats.key % n_cells
    ukey, (count,), _, _ = _reduce_keys(fy * n_coarse + cmap[cell], [stats.count])
    size = n_fine * 2 * n_coarse

    def dense(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(size)
        out[keys] = values
        return out.reshape(n_fine, 2, n_coarse)

    ece_edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    return CellTable(
        edges=coarse,
        count=dense(ukey, count.astype(np.float64)),
        ssum=dense(stats.ckey, _limb_value(stats.s1)),
        ssq=dense(stats.ckey, _limb_value(stats.s2)),
        above=coarse[None, :-1] >= np.asarray(fine_thresholds, dtype=np.float64)[:, None],
        ece_bin=np.clip(np.searchsorted(ece_edges, coarse[:-1], side="right") - 1, 0, ECE_BINS - 1),
        fine_codes=stats.fine_codes,
        row_fine=np.zeros(0, np.int64),
        row_bin=np.zeros(0, np.int64),
    )


def auc_from_stats(stats: AuditStats, member: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """AUC of every group (``member[f]`` is fine group ``f``'s group) and its error bound.

    Pairs in one fine cell are ordered by the classes' score ranges when these do not overlap
    (all positives above all negatives: wins; below: losses; one common value: ties), and count
    1/2 otherwise. The bound is ``sum pos x neg / (2 P N)`` over the cells of the last kind.
    """
    n_cells = stats.n_cells
    fy, cell = stats.key // n_cells, stats.key % n_cells
    g, label = member[fy // 2], fy % 2
    gk = g * n_cells + cell
    u, inv = np.unique(gk, return_inverse=True)
    inv = inv.ravel()
    cnt = stats.count.astype(np.float64)
    neg = np.bincount(inv, weights=cnt * (label == 0), minlength=u.size)
    pos = np.bincount(inv, weights=cnt * (label == 1), minlength=u.size)
    # Score range of each class in each (group, cell): cells where every positive is above (or
    # below) every negative are ordered exactly; only overlapping ranges count 1/2 on trust.
    rng = {}
    for y in (0, 1):
        lo, hi = np.full(u.size, np.inf), np.full(u.size, -np.inf)
        m = label == y
        np.minimum.at(lo, inv[m], stats.smin[m])
        np.maximum.at(hi, inv[m], stats.smax[m])
        rng[y] = (lo, hi)
    above = rng[1][0] > rng[0][1]  # every positive above every negative
    below_all = rng[1][1] < rng[0][0]
    tie = (rng[1][0] == rng[1][1]) & (rng[0][0] == rng[0][1]) & (rng[1][0] == rng[0][0])
    within = np.where(above, 1.0, np.where(below_all, 0.0, 0.5))
    gu = u // n_cells
    cum = np.cumsum(neg) - neg
    start = np.searchsorted(gu, gu, side="left")
    below = cum - cum[start]
    wins = np.bincount(gu, weights=pos * (below + within * neg), minlength=n_groups)
    loose = np.bincount(gu, weights=np.where(above | below_all | tie, 0.0, pos * neg), minlength=n_groups)
    p = np.bincount(gu, weights=pos, minlength=n_groups)
    q = np.bincount(gu, weights=neg, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.where(p * q > 0, wins / (p * q), np.nan)
        bound = np.where(p * q > 0, loose / (2.0 * p * q), np.nan)
    return auc, bound


def bucket_table(stats: AuditStats):
    """The (buckets x F*2*B) sparse count table of the Poisson bootstrap."""
    from scipy import sparse

    per_bucket = stats.n_fine * 2 * stats.n_coarse
    return sparse.csr_matrix(
        (stats.bcount.astype(np.float64), (stats.bkey // per_bucket, stats.bkey % per_bucket)),
        shape=(stats.n_buckets, per_bucket))
