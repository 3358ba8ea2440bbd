"""Per-group metrics from cell statistics, vectorised over any leading (replicate) axes.

Every function takes arrays whose last axes are (G, 2, B) or (G, 2, 2) and returns (..., G).
Undefined values (a zero denominator) are NaN here and become ``null`` with a reason in the
result; they are never 0.
"""

from __future__ import annotations

import numpy as np

from fairaudit.metrics import kernels
from fairaudit.metrics.cells import ECE_BINS, CellTable, Partition
from fairaudit.result import METRICS

# Why a metric can be undefined, by metric (from the one table, fairaudit.result.METRICS).
UNDEFINED_REASON: dict[str, str] = {name: info.undefined for name, info in METRICS.items()}

# Every confusion rate as (numerator cells, denominator cells) of the confusion matrix: the
# rate's computation here and, through its denominator, its binomial scale in
# metrics/simultaneous.py. A new rate is one entry (plus its row in fairaudit.result.METRICS).
RATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "prevalence": (("tp", "fn"), ("tp", "fn", "tn", "fp")),
    "tpr": (("tp",), ("tp", "fn")),
    "fpr": (("fp",), ("tn", "fp")),
    "tnr": (("tn",), ("tn", "fp")),
    "fnr": (("fn",), ("tp", "fn")),
    "ppv": (("tp",), ("tp", "fp")),
    "npv": (("tn",), ("tn", "fn")),
    "selection_rate": (("tp", "fp"), ("tp", "fn", "tn", "fp")),
    "accuracy": (("tp", "tn"), ("tp", "fn", "tn", "fp")),
}
# Where each cell sits in a confusion array (..., 2, 2) [label, decision].
CONFUSION_CELLS: dict[str, tuple[int, int]] = {"tn": (0, 0), "fp": (0, 1), "fn": (1, 0), "tp": (1, 1)}


def cell_sum(conf: np.ndarray | dict[str, np.ndarray], cells: tuple[str, ...]) -> np.ndarray:
    """The sum of the named confusion cells (``"tp"``, ``"fp"``, ...) of ``conf``: an array
    (..., 2, 2) [label, decision], or the four cells' arrays by name."""
    def cell(name: str) -> np.ndarray:
        return conf[name] if isinstance(conf, dict) else conf[(..., *CONFUSION_CELLS[name])]

    total = cell(cells[0])
    for name in cells[1:]:
        total = total + cell(name)
    return total


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` where ``b > 0``, NaN elsewhere (one division pass, no temporaries)."""
    out = np.full(np.broadcast_shapes(np.shape(a), np.shape(b)), np.nan)
    np.divide(a, b, out=out, where=np.greater(b, 0))
    return out


def fine_confusion(count: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Confusion counts per fine group: (..., F, 2, B) -> (..., F, 2, 2) as [label, decision]."""
    pred_pos = np.einsum("...fyb,fb->...fy", count, above.astype(count.dtype))
    total = count.sum(axis=-1)
    return np.stack([total - pred_pos, pred_pos], axis=-1)


class GroupSum:
    """The (G, F) 0/1 matrix that sums fine groups into groups, as index arrays.

    Layers of rows: in the layer at row ``offset``, fine group ``f`` is summed into row
    ``offset + member[f]`` (nowhere where ``member[f]`` is -1). A partition is a layer of its
    own (every fine group in one of its groups), and a stack of partitions is their layers one
    after another. A product sums each group's fine groups one after another in fine-group
    order, the order of SciPy's CSR product (so the same bits), in a compiled loop
    (:func:`fairaudit.metrics.kernels.group_sums`) without importing SciPy.
    """

    def __init__(self, layers: list[tuple[int, np.ndarray]], shape: tuple[int, int]) -> None:
        self.layers = [(int(a), np.ascontiguousarray(m, dtype=np.int64)) for a, m in layers]
        self.shape = (int(shape[0]), int(shape[1]))

    @classmethod
    def from_matrix(cls, matrix) -> GroupSum:
        """From a dense or SciPy (G, F) 0/1 matrix: layer k holds each fine group's k-th group
        (for stacked partitions, partition k)."""
        dense = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
        if dense.ndim != 2 or not np.isin(dense, (0, 1)).all():
            raise ValueError("a group matrix is a (groups, fine groups) matrix of 0 and 1")
        fine, group = np.nonzero(dense.T)  # by fine group, then group
        k = np.arange(fine.size) - np.searchsorted(fine, fine)  # the k-th group of its fine group
        layers = []
        for i in range(int(k.max()) + 1 if k.size else 0):
            member = np.full(dense.shape[1], -1, dtype=np.int64)
            member[fine[k == i]] = group[k == i]
            layers.append((0, member))
        return cls(layers, dense.shape)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """(G, ...) sums of the rows of ``x`` (F, ...), in float64."""
        x = np.asarray(x)
        flat = np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float64)
        if flat.shape[0] != self.shape[1]:
            raise ValueError(f"{flat.shape[0]} rows to sum over {self.shape[1]} fine groups")
        out = np.zeros((self.shape[0], flat.shape[1]))
        for a, member in self.layers:
            kernels.group_sums(flat, member, out[a:])
        return out.reshape((self.shape[0],) + x.shape[1:])

    def within(self, w: np.ndarray) -> np.ndarray:
        """``sum over f, h in g of w[f, h]`` for every group g, from an (F, F) array."""
        rows = self @ w  # (G, F): sum over f in g of w[f, h]
        out = np.zeros(self.shape[0])
        for a, member in self.layers:
            f = np.flatnonzero(member >= 0)
            np.add.at(out, a + member[f], rows[a + member[f], f])
        return out

    def toarray(self) -> np.ndarray:
        """The dense (G, F) matrix."""
        out = np.zeros(self.shape)
        for a, member in self.layers:
            f = np.flatnonzero(member >= 0)
            out[a + member[f], f] = 1.0
        return out


def group_matrix(groups: Partition | np.ndarray | list[Partition] | GroupSum) -> GroupSum:
    """The :class:`GroupSum` (G, F) summing fine groups into groups.

    ``groups`` is a :class:`Partition`, a list of partitions (stacked: one product serves every
    attribute and intersection), a dense or SciPy (G, F) 0/1 matrix, or a :class:`GroupSum`
    (returned as it is). The cost of a sum is proportional to the fine groups, not to
    groups x fine groups.
    """
    if isinstance(groups, GroupSum):
        return groups
    if isinstance(groups, Partition):
        groups = [groups]
    if isinstance(groups, list):
        n_fine = groups[0].member.shape[0] if groups else 0
        offsets = np.cumsum([0] + [p.n_groups for p in groups]).tolist()
        return GroupSum([(a, p.member) for a, p in zip(offsets[:-1], groups, strict=True)],
                        (offsets[-1], n_fine))
    return GroupSum.from_matrix(groups)


def aggregate(x: np.ndarray, groups, fine_axis: int) -> np.ndarray:
    """Sum a fine-group array into groups along ``fine_axis``.

    ``groups`` is anything :func:`group_matrix` takes, or the :class:`GroupSum` it returns.
    """
    m = group_matrix(groups)
    moved = np.moveaxis(x, fine_axis, 0)
    out = m @ moved
    return np.moveaxis(out, 0, fine_axis)


def confusion_metrics(conf: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rates from confusion counts (..., G, 2, 2) [label, decision], or the four cells' arrays
    by name (``"tn"``, ``"fp"``, ``"fn"``, ``"tp"``): every :data:`RATES` entry, then balanced
    accuracy (the mean of TPR and TNR)."""
    sums: dict[frozenset[str], np.ndarray] = {}  # each sum of cells once (tp + fn serves three rates)

    def total(cells: tuple[str, ...]) -> np.ndarray:
        key = frozenset(cells)
        if key not in sums:
            sums[key] = cell_sum(conf, cells)
        return sums[key]

    out = {name: _div(total(num), total(den)) for name, (num, den) in RATES.items()}
    out["balanced_accuracy"] = (out["tpr"] + out["tnr"]) / 2.0
    return out


def binned_auc(count: np.ndarray) -> np.ndarray:
    """AUC from score histograms (..., G, 2, B); pairs in the same bin count 1/2."""
    neg, pos = count[..., 0, :], count[..., 1, :]
    neg_below = np.cumsum(neg, axis=-1) - neg
    wins = (pos * (neg_below + 0.5 * neg)).sum(axis=-1)
    return _div(wins, pos.sum(axis=-1) * neg.sum(axis=-1))


def calibration_sums(
    count: np.ndarray, ssum: np.ndarray, ssq: np.ndarray, ece_bin: np.ndarray
) -> np.ndarray:
    """The sums Brier and ECE need, per group: (..., G, 2 + 2 x ECE_BINS).

    Columns: squared scores, scores of positives, then per ECE bin the positives and the
    summed scores. Sums add over groups, so fine groups are reduced to these few numbers
    *before* they are summed into attributes and intersections.
    """
    onehot = np.zeros((ece_bin.shape[0], ECE_BINS))
    onehot[np.arange(ece_bin.shape[0]), ece_bin] = 1.0
    return np.concatenate([
        ssq.sum(axis=(-2, -1))[..., None],
        ssum[..., 1, :].sum(axis=-1)[..., None],
        count[..., 1, :] @ onehot,
        ssum.sum(axis=-2) @ onehot,
    ], axis=-1)


def calibration_metrics(sums: np.ndarray, n: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
    """Brier score and ECE (equal-width bins) from :func:`calibration_sums`, exact at the
    point estimate. ECE = sum over bins of |positives - summed scores| / n."""
    brier = _div(sums[..., 0] - 2.0 * sums[..., 1] + pos, n)
    obs, pred = sums[..., 2:2 + ECE_BINS], sums[..., 2 + ECE_BINS:]
    return {"brier": brier, "ece": _div(np.abs(obs - pred).sum(axis=-1), n)}


def group_metrics(
    count: np.ndarray, ssum: np.ndarray, ssq: np.ndarray, cells: CellTable,
    part: Partition | np.ndarray | GroupSum,
) -> dict[str, np.ndarray]:
    """All metrics of every group of ``part`` (anything :func:`group_matrix` takes) from
    fine-cell arrays (..., F, 2, B)."""
    fine_axis = count.ndim - 3
    m = group_matrix(part)
    conf = aggregate(fine_confusion(count, cells.above), m, fine_axis)
    out = confusion_metrics(conf)
    out["auc"] = binned_auc(aggregate(count, m, fine_axis))
    out["_n"] = conf.sum(axis=(-2, -1))
    out["_pos"] = conf[..., 1, :].sum(axis=-1)
    out["_neg"] = conf[..., 0, :].sum(axis=-1)
    sums = aggregate(calibration_sums(count, ssum, ssq, cells.ece_bin), m, fine_axis)
    out.update(calibration_metrics(sums, out["_n"], out["_pos"]))
    return out


def exact_auc(labels: np.ndarray, scores: np.ndarray, gid: np.ndarray, n_groups: int,
              order: np.ndarray | None = None) -> np.ndarray:
    """Exact per-group AUC (Mann-Whitney with mid-ranks for ties), one sort for all groups.

    Parameters
    ----------
    order : ndarray, optional
        ``np.argsort(scores, kind="stable")``, computed once and shared across partitions.
    """
    n = labels.shape[0]
    if n == 0:
        return np.full(n_groups, np.nan)
    if order is None:
        order = np.argsort(scores, kind="stable")
    g_sorted = gid[order]
    # A stable sort by group keeps score order inside each group; int16 keys use radix sort.
    key = g_sorted.astype(np.int16) if n_groups < 2**15 else g_sorted
    idx = order[np.argsort(key, kind="stable")]
    g, s, y = gid[idx], scores[idx], labels[idx].astype(np.float64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    block = np.cumsum(new) - 1
    group_start = np.searchsorted(g, np.arange(n_groups), side="left")
    mid = (starts + ends - 1) / 2.0 + 1.0  # 1-based mid-rank in the whole array
    rank = mid[block] - group_start[g]
    r_pos = np.bincount(g, weights=rank * y, minlength=n_groups)
    pos = np.bincount(g, weights=y, minlength=n_groups)
    neg = np.bincount(g, minlength=n_groups) - pos
    return _div(r_pos - pos * (pos + 1) / 2.0, pos * neg)


def _tie_wins(y: np.ndarray, f: np.ndarray, s: np.ndarray, n_fine: int) -> np.ndarray | None:
    """Half-wins of the tied (positive, negative) pairs, by fine groups ``[f1, f2]``; None when
    no score repeats.

    ``y``, ``f``, ``s`` are labels, fine groups and scores in score order. Reorders ``y`` and
    ``f`` in place so that positives come first inside each run of tied scores (a stable
    reorder of those rows only), which :func:`pairwise_wins` needs.
    """
    eq = s[1:] == s[:-1]
    if not eq.any():
        return None
    new = np.empty(s.shape[0], dtype=bool)
    new[0] = True
    np.logical_not(eq, out=new[1:])
    block = np.cumsum(new) - 1
    tied = np.flatnonzero(np.bincount(block)[block] > 1)
    sub = tied[np.lexsort((~y[tied], block[tied]))]
    y[tied], f[tied] = y[sub], f[sub]
    runs, t_run = np.unique(block[tied], return_inverse=True)
    yt, ft = y[tied], f[tied]
    from scipy import sparse

    def per_run(mask: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix((np.ones(int(mask.sum())), (t_run[mask], ft[mask])),
                                 shape=(runs.size, n_fine))

    return 0.5 * (per_run(yt).T @ per_run(~yt)).toarray()


def pairwise_wins(
    labels: np.ndarray, scores: np.ndarray, fine: np.ndarray, n_fine: int,
    order: np.ndarray, max_cells: int = 1 << 16,
) -> np.ndarray:
    """Cross-group Mann-Whitney counts ``W[f1, f2]``, exact with ties counted 1/2.

    ``W[f1, f2]`` is the number of (positive in fine group ``f1``, negative in ``f2``) pairs
    where the positive scores higher, plus half the tied pairs. The AUC of any union of fine
    groups ``S`` is then ``sum W[S, S] / (P_S N_S)``: one pass serves every attribute and
    intersection.

    Rows are put in score order with positives first inside each run of tied scores. A
    negative then lies strictly below exactly the positives that come after it, so a
    histogram of negatives by "positives before me" and a cumulative sum give every
    positive's count of lower negatives per fine group. Tied pairs add 1/2 each, from per-run
    counts. Cost O(n + positives x fine groups), in chunks of ``max_cells`` (fine group,
    positive) cells small enough to stay in the CPU cache (one 64 MB table for a 1M-row
    audit cost three times as much in page faults and cache misses).

    The compiled kernel (``kernels.pairwise_wins``) visits the rows in score order once,
    adding each positive's count of lower negatives per group directly; both give the same
    counts (whole and half numbers, exact in float64).
    """
    from fairaudit.metrics import kernels

    n = labels.shape[0]
    if kernels.available():  # one pass over the rows, without the GIL
        return kernels.pairwise_wins(order, scores, labels, fine, n_fine)
    wins = np.zeros((n_fine, n_fine))
    if n == 0:
        return wins
    # Narrow types before the gathers in score order: random reads from small arrays.
    y = labels.astype(bool)[order]
    f = fine.astype(np.int16 if n_fine < 2**15 else np.int64)[order]
    tie = _tie_wins(y, f, scores[order], n_fine)
    if tie is not None:
        wins += tie
    pos_at = np.flatnonzero(y)
    n_pos = pos_at.size
    if n_pos == 0 or n_pos == n:
        return wins
    f_pos = f[pos_at]
    neg = ~y
    f_neg = f[neg].astype(np.int64)
    seg = np.cumsum(y)[neg]  # positives before each negative; it lies below ranks >= seg
    chunk = max(1, max_cells // n_fine)
    carry = np.zeros((n_fine, 1), dtype=np.int64)
    wins_t = np.zeros((n_fine, n_fine), dtype=np.int64)  # [f2, f1]; exact integers
    for r0 in range(0, n_pos, chunk):
        r1 = min(n_pos, r0 + chunk)
        width = r1 - r0
        lo, hi = np.searchsorted(seg, [r0, r1], side="left")
        hist = np.bincount(f_neg[lo:hi] * width + (seg[lo:hi] - r0), minlength=n_fine * width)
        below = np.cumsum(hist.reshape(n_fine, width), axis=1)
        below += carry
        carry = below[:, -1:].copy()
        # Sum the columns of each positive's fine group: a segmented sum over the positives
        # sorted by group (O(F x width); a dense one-hot product would be O(F^2 x width)).
        by_group = np.argsort(f_pos[r0:r1], kind="stable")
        groups = f_pos[r0:r1][by_group]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        wins_t[:, groups[starts]] += np.add.reduceat(below[:, by_group], starts, axis=1)
    return wins + wins_t.T


def auc_from_wins(wins: np.ndarray, groups, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Exact AUC of every group (``groups`` as :func:`group_matrix` takes) from
    :func:`pairwise_wins` (see there)."""
    return _div(group_matrix(groups).within(wins), pos * neg)
