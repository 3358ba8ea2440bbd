"""Simultaneous (family-wise) intervals over groups, and criterion intervals built from them.

Why: a criterion such as the demographic-parity difference is a max - min over G group rates.
The plug-in max - min is biased upward when groups are small and many, and a percentile
bootstrap of a maximum is not consistent: with hundreds of groups its interval can exclude the
estimate itself and miss the true value every time. Following Cherian & Candès ("Statistical
inference for fairness auditing"), we instead bound every group's rate at once:

1. Each metric is put on a variance-stabilising scale (:class:`Scale`: arcsine for rates and
   AUCs), and each group g gets a standard error ``se_g`` there: the bootstrap standard
   deviation, floored by the analytic one (so a group whose rate is 0 or 1 in every replicate
   still gets a width).
2. The bootstrap distribution of the maximum studentised deviation
   ``T* = max_g |theta*_g - theta_g| / se_g`` over the family's groups; its ``level``
   quantile ``c`` (never below the Sidak-Gaussian value for that many groups) is the
   critical value (max-t), so that
   ``theta_g in [theta_g - c se_g, theta_g + c se_g]`` for all g at once with probability
   ``level`` (asymptotically).
   Where the metric is a proportion, the interval is widened to the exact (Clopper-Pearson)
   bounds at the Sidak level of the family: the arcsine approximation fails where an estimate
   is 0 or 1 (found by comparing with the reference implementation: docs/statistics.md).
3. Any criterion that is a function of the group rates lies, with at least that probability,
   between its smallest and largest value over the box of intervals; for a range, a ratio
   and the equalised-odds maximum these bounds have closed forms (``range_interval``,
   ``ratio_interval``), and for the SD the extremes over the box are found exactly
   (``sd_interval``).

The intervals always contain the point estimate (it lies in the box). They are conservative
with two groups (the box bounds each group, not the difference), and keep their coverage with
hundreds (measured: ``benchmarks/validity.py``, ``docs/statistics.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics import kernels
from fairaudit.metrics.bootstrap import nan_quantiles
from fairaudit.metrics.rates import RATES, cell_sum

INTERVAL_METHOD = (
    "per-group metrics: percentile bootstrap (display) and max-t simultaneous intervals over the "
    "sufficient groups of each attribute (rules); criteria and SD/SER: the extremes of the "
    "criterion over the simultaneous intervals (Cherian & Candes 2024)"
)



class Scale:
    """A variance-stabilising scale for one metric of G groups.

    Max-t needs deviations whose spread does not depend on the value: a TPR of 0.97 from 30
    positives has a small bootstrap SE, and studentising by it makes a symmetric interval
    far too short on the side of 0.5. On the Anscombe arcsine scale
    ``asin(sqrt((p n + 3/8) / (n + 3/4)))`` a proportion has SD close to ``1 / (2 sqrt(n))``
    whatever its value; AUCs are put on the arcsine scale too (with Hanley-McNeil for the
    floor), which steadies their SE near 1 in the same way. Brier and ECE stay as they are.
    ``floor`` is the analytic SE on the scale: the bootstrap SD is never taken below it.
    """

    def __init__(self, n: np.ndarray | None, floor: np.ndarray, shift: float = 3.0 / 8.0,
                 binomial: bool = False,
                 counts: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.n = None if n is None else np.asarray(n, dtype=np.float64)
        self.floor = floor
        self.shift = shift
        self.binomial = binomial  # a proportion of n: exact bounds exist
        self.counts = counts  # an AUC: (positives, negatives) of each group, for score bounds

    def exact(self, point: np.ndarray, alpha: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bounds at two-sided level ``1 - alpha`` that do not rest on the scale's normal
        approximation (NaN where there are none): Clopper-Pearson for a proportion, the
        score-type interval of :func:`auc_score_bounds` for an AUC.

        The arcsine scale is an approximation that fails where the estimate is 0 or 1 (a TPR
        of 1.000 from 60 positives gets a lower bound of 0.94 on it, while a true 0.93 gives
        60 of 60 hits 1.3 % of the time), and, for an AUC, where one or two positives put the
        estimate far from the truth (its standard error, taken at the estimate, is then far
        too small); these bounds at the Sidak level of the family are a floor for the width.
        """
        if self.counts is not None:
            return auc_score_bounds(point, self.counts[0], self.counts[1], alpha)
        if not self.binomial or self.n is None:
            nan = np.full(np.shape(point), np.nan)
            return nan, nan
        n = self.n
        x = np.rint(np.asarray(point, dtype=np.float64) * n)
        with np.errstate(invalid="ignore", divide="ignore"):
            lo = np.where(x > 0, kernels.beta_quantile(x, n - x + 1, alpha / 2), 0.0)
            hi = np.where(x < n, kernels.beta_quantile(x + 1, n - x, 1 - alpha / 2), 1.0)
        return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)

    def columns(self, a: int, b: int) -> Scale:
        """The scale of groups ``a`` to ``b - 1`` alone."""
        return Scale(None if self.n is None else self.n[a:b], self.floor[a:b], self.shift,
                     self.binomial, None if self.counts is None else
                     (self.counts[0][a:b], self.counts[1][a:b]))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.n is None:
            return x
        with np.errstate(invalid="ignore", divide="ignore"):
            p = x * self.n  # one new array, then every step in place
            p += self.shift
            p /= self.n + 2 * self.shift
            np.clip(p, 0.0, 1.0, out=p)
            np.sqrt(p, out=p)
            return np.arcsin(p, out=p)

    def inverse(self, t: np.ndarray) -> np.ndarray:
        if self.n is None:
            return np.clip(t, 0.0, 1.0)
        t = np.clip(t, 0.0, np.pi / 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = (np.sin(t) ** 2 * (self.n + 2 * self.shift) - self.shift) / self.n
        return np.clip(x, 0.0, 1.0)


def _proportion(n: np.ndarray) -> Scale:
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        floor = np.where(n > 0, 0.5 / np.sqrt(n + 0.5), np.nan)
    return Scale(np.where(n > 0, n, np.nan), floor, binomial=True)


def auc_se(auc: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray) -> np.ndarray:
    """Hanley-McNeil SE of an AUC."""
    p = np.asarray(n_pos, dtype=np.float64)
    n = np.asarray(n_neg, dtype=np.float64)
    a = np.asarray(auc, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q1 = a / (2.0 - a)
        q2 = 2.0 * a * a / (1.0 + a)
        var = (a * (1 - a) + (p - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (p * n)
    return np.where(p * n > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)


def newcombe_variance(theta: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray) -> np.ndarray:
    """Variance of an AUC estimate when the AUC is ``theta``: Hanley-McNeil's with both sample
    sizes replaced by their mean N* = (m + n) / 2 (Newcombe 2006, "Confidence intervals for an
    effect size measure based on the Mann-Whitney statistic. Part 2", Stat Med 25:559-573):
    theta (1 - theta) [1 + (N* - 1) ((1 - theta) / (2 - theta) + theta / (1 + theta))] / (m n)."""
    m = np.asarray(n_pos, dtype=np.float64)
    n = np.asarray(n_neg, dtype=np.float64)
    t = np.asarray(theta, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return t * (1.0 - t) * (1.0 + ((m + n) / 2.0 - 1.0) * ((1.0 - t) / (2.0 - t) + t / (1.0 + t))) / (m * n)


def auc_score_bounds(point: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray,
                     alpha: float | np.ndarray, steps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Score-type bounds of an AUC at two-sided level ``1 - alpha``: the AUCs theta with
    ``(estimate - theta)^2 <= z^2 V(theta)``, V being :func:`newcombe_variance` and z the
    normal quantile (Newcombe 2006's score interval; like Wilson's for a proportion, the
    variance is taken at the hypothesised AUC, not at the estimate). Each end is found by
    bisection between the estimate (inside) and 0 or 1; NaN where a group lacks positives or
    negatives or the estimate is undefined."""
    from statistics import NormalDist

    est = np.asarray(point, dtype=np.float64)
    m = np.asarray(n_pos, dtype=np.float64)
    n = np.asarray(n_neg, dtype=np.float64)
    a = np.broadcast_to(np.asarray(alpha, dtype=np.float64), est.shape)
    ndtri = NormalDist().inv_cdf
    z = np.full(est.shape, np.nan)
    for value in np.unique(a[np.isfinite(a) & (a > 0) & (a < 1)]).tolist():
        z[a == value] = ndtri(1.0 - value / 2.0)
    ok = np.isfinite(est) & np.isfinite(z) & (m > 0) & (n > 0)
    e = np.where(ok, np.clip(est, 0.0, 1.0), 0.5)
    z2 = np.where(ok, z * z, 1.0)
    mm, nn = np.where(ok, m, 1.0), np.where(ok, n, 1.0)

    def inside(theta: np.ndarray) -> np.ndarray:
        return (e - theta) ** 2 <= z2 * newcombe_variance(theta, mm, nn)

    out = []
    for end in (0.0, 1.0):
        far = np.full(e.shape, end)
        at_end = inside(far)
        near = e.copy()  # inside: (e - e)^2 = 0
        for _ in range(steps):
            mid = 0.5 * (far + near)
            keep = inside(mid)
            near = np.where(keep, mid, near)
            far = np.where(keep, far, mid)
        out.append(np.where(ok, np.where(at_end, end, near), np.nan))
    return out[0], out[1]


def scales(metrics: Mapping[str, np.ndarray], conf: np.ndarray) -> dict[str, Scale]:
    """The scale of every metric of G groups, from their confusion counts (G, 2, 2)
    [label, decision] and point metrics."""
    pos, neg = cell_sum(conf, ("tp", "fn")), cell_sum(conf, ("tn", "fp"))
    with np.errstate(divide="ignore", invalid="ignore"):
        n_bal = np.where((pos > 0) & (neg > 0), 4.0 / (1.0 / pos + 1.0 / neg), 0.0)
    # A confusion rate is a proportion of its denominator's count (rates.RATES).
    out = {name: _proportion(cell_sum(conf, den)) for name, (_num, den) in RATES.items()}
    out["balanced_accuracy"] = _proportion(n_bal)
    # AUC: arcsine scale with half a pair of shrinkage; floor from Hanley-McNeil there.
    pairs = pos * neg
    with np.errstate(divide="ignore", invalid="ignore"):
        a_t = (np.asarray(metrics["auc"], dtype=np.float64) * pairs + 0.5) / (pairs + 1.0)
        auc_floor = auc_se(a_t, pos, neg) / (2.0 * np.sqrt(a_t * (1.0 - a_t)))
    out["auc"] = Scale(np.where(pairs > 0, pairs, np.nan), auc_floor, shift=0.5,
                       counts=(np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)))
    zero = np.zeros(conf.shape[0])
    out["brier"] = Scale(None, zero)
    out["ece"] = Scale(None, zero)
    return out


def max_t_critical(
    point: np.ndarray, reps: np.ndarray, se: np.ndarray, level: float
) -> float:
    """The ``level`` quantile of max_g |reps - point| / se over the family's groups.

    ``point`` (K,), ``reps`` (R, K), ``se`` (K,) for the K members of one family (the groups of
    one attribute; for equalised odds, its TPRs and FPRs together). Undefined replicates are
    left out of the maximum; a replicate with no defined member does not count.
    """
    if point.size == 0 or reps.shape[0] == 0:
        return float("nan")
    maxima = family_maxima(point, reps, se, np.ones(point.size, dtype=bool), np.array([0]))
    return float(critical_values(maxima, np.array([point.size]), level)[0])


def family_maxima(point: np.ndarray, reps: np.ndarray, se: np.ndarray, members: np.ndarray,
                  starts: np.ndarray) -> np.ndarray:
    """Largest studentised deviation ``|reps - point| / se`` of every family, per replicate.

    The S columns (``point``, ``se``, ``members`` of shape (S,), ``reps`` (R, S)) hold families
    of consecutive columns, the i-th starting at column ``starts[i]`` (increasing, from 0);
    only the columns where ``members`` is true count. Returns (R, F): NaN where a replicate has
    no member with a defined (finite) deviation.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = reps - point[None, :]
        np.abs(t, out=t)
        t /= np.where(members, se, np.nan)[None, :]
    top = np.fmax.reduceat(t, starts, axis=1)
    if np.isinf(top).any():  # an infinite deviation counts as undefined (rare: check first)
        t[np.isinf(t)] = np.nan
        top = np.fmax.reduceat(t, starts, axis=1)
    return top


def critical_values(maxima: np.ndarray, sizes: np.ndarray, level: float) -> np.ndarray:
    """The max-t critical value of each family from its maxima (R, F) (:func:`family_maxima`):
    the ``level`` quantile of the defined maxima, never below the Sidak-Gaussian value for the
    family's ``sizes`` members; NaN for a family with no member or no defined maximum."""
    from statistics import NormalDist

    ndtri = NormalDist().inv_cdf  # Wichura's AS241 (stdlib): SciPy's special functions cost an import
    (q,) = nan_quantiles(maxima, (level,))
    out = np.full(q.shape, np.nan)
    for i, (k, qi) in enumerate(zip(np.asarray(sizes).tolist(), q.tolist(), strict=True)):
        if k > 0 and np.isfinite(qi):
            # Never below the Sidak-Gaussian value for k independent groups (groups share no
            # rows): with few small groups the bootstrap of a discrete rate is lumpy and its
            # quantile of the maximum runs low (measured with 2 groups of 30 positives: joint
            # coverage below 95 %).
            out[i] = max(qi, float(ndtri(1.0 - (1.0 - level ** (1.0 / k)) / 2.0)))
    return out


def sidak_alpha(size: int, level: float) -> float:
    """Per-member error of a family of ``size`` independent members at joint ``level``."""
    return 1.0 - level ** (1.0 / max(size, 1))


def standard_errors(reps: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Bootstrap SD over axis 0 (NaN replicates left out), floored by ``floor``.

    Columns without an undefined replicate (the usual case) take a shorter route with the same
    arithmetic.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        total = reps.sum(axis=0)
        if np.isfinite(total).all() and reps.shape[0] > 0:
            k = reps.shape[0]
            d = reps - total / k
            np.square(d, out=d)
            var = d.sum(axis=0) / (k - 1) if k > 1 else np.full(total.shape, np.nan)
        else:
            ok = ~np.isnan(reps)
            k = ok.sum(axis=0)
            mean = np.where(ok, reps, 0.0).sum(axis=0) / k
            var = (np.where(ok, reps - mean, 0.0) ** 2).sum(axis=0) / (k - 1)
            var = np.where(k > 1, var, np.nan)
    return np.fmax(np.sqrt(var), np.nan_to_num(floor, nan=0.0))


def box(point: np.ndarray, se_t: np.ndarray, c: float | np.ndarray, scale: Scale,
        alpha: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intervals ``point -+ c se`` on the metric's scale, mapped back to [0, 1], widened to
    the exact binomial bounds at two-sided error ``alpha`` (:func:`sidak_alpha` of the family)
    where the metric is a proportion, and to the score bounds where it is an AUC
    (:meth:`Scale.exact`). ``c`` and ``alpha`` may differ by group (a family per
    partition). They contain ``point`` exactly (the round trip through the scale cannot push
    it out by a rounding)."""
    pt = scale.forward(point)
    lo, hi = scale.inverse(pt - c * se_t), scale.inverse(pt + c * se_t)
    e_lo, e_hi = scale.exact(point, alpha)
    return np.fmin(np.fmin(lo, e_lo), point), np.fmax(np.fmax(hi, e_hi), point)


@dataclass(frozen=True)
class Box:
    """Simultaneous intervals of one metric over all groups of a partition (NaN: none)."""

    lo: np.ndarray
    hi: np.ndarray
    family: np.ndarray  # indices of the groups the critical value was computed over


@dataclass(frozen=True)
class MaxT:
    """The max-t statistics of one metric over families of consecutive groups.

    Attributes
    ----------
    se : ndarray (S,)
        Standard error of every group on the metric's scale.
    members : ndarray of bool (S,)
        Groups that belong to their family: eligible, with a finite estimate and a positive SE.
    maxima : ndarray (R, F)
        Largest studentised deviation of each family per replicate (:func:`family_maxima`).
    sizes : ndarray of int (F,)
        Members of each family.
    """

    se: np.ndarray
    members: np.ndarray
    maxima: np.ndarray
    sizes: np.ndarray


def max_t_statistics(point: np.ndarray, reps: np.ndarray, scale: Scale, eligible: np.ndarray,
                     starts: np.ndarray, block: int = 1 << 18) -> MaxT:
    """Standard errors and family maxima of one metric for S groups in F families at once.

    ``point`` (S,) and ``reps`` (R, S) hold every group of every family (family i: the
    consecutive groups from ``starts[i]``, each family at least one group); ``eligible`` (S,)
    marks the groups allowed in their family (sufficient ones). The columns are worked through
    in blocks of about ``block`` values (R x columns: a block's arrays stay in cache through
    every step; measured best from 128 to 512 columns of 1,000 replicates). A
    family of one group is a block of its own, and no other block is one column wide: numpy
    sums one column pairwise but a wider block row by row, so each SE has the same bits as
    when computed family by family.
    """
    n_fam = starts.size
    widths = np.diff(np.append(starts, point.size))
    fam = np.repeat(np.arange(n_fam), widths)
    pt = scale.forward(point)
    se = np.empty(point.size)
    members = np.zeros(point.size, dtype=bool)
    maxima = np.full((reps.shape[0], n_fam), np.nan)
    for a, b in _blocks(starts, widths, max(2, block // max(reps.shape[0], 1))):
        sub = scale.columns(a, b)
        rt = sub.forward(reps[:, a:b])
        se[a:b] = standard_errors(rt, sub.floor)
        with np.errstate(invalid="ignore"):
            members[a:b] = eligible[a:b] & np.isfinite(pt[a:b]) & np.isfinite(se[a:b]) & (se[a:b] > 0)
        local = np.unique(np.append(starts[(starts > a) & (starts < b)] - a, 0))
        ids = fam[a + local]
        maxima[:, ids] = np.fmax(maxima[:, ids], family_maxima(pt[a:b], rt, se[a:b], members[a:b], local))
    return MaxT(se, members, maxima, np.add.reduceat(members.astype(np.int64), starts))


def _blocks(starts: np.ndarray, widths: np.ndarray, block: int) -> list[tuple[int, int]]:
    """Column ranges of about ``block`` columns: whole families packed together, a family of
    one column alone, a wide family cut into pieces of at least two columns."""
    out: list[tuple[int, int]] = []
    for a, w in zip(starts.tolist(), widths.tolist(), strict=True):
        if w == 1:
            out.append((a, a + 1))
            continue
        if out and out[-1][1] == a and out[-1][1] - out[-1][0] > 1 and out[-1][1] - out[-1][0] + w <= block:
            out[-1] = (out[-1][0], a + w)
            continue
        cuts = list(range(a, a + w, block)) + [a + w]
        if len(cuts) > 2 and cuts[-1] - cuts[-2] < 2:
            del cuts[-2]  # no piece of one column
        out.extend(zip(cuts[:-1], cuts[1:], strict=True))
    return out


def range_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Bounds of max - min over the box: [max(0, max L - min U), max U - min L]."""
    return max(0.0, float(lo.max() - hi.min())), float(hi.max() - lo.min())


def ratio_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float] | None:
    """Bounds of min / max over the box: [min L / max U, min U / max L] (capped at 1).

    None when the largest rate may be 0 (the ratio is then unbounded below by nothing
    useful and undefined at 0).
    """
    top = float(hi.max())
    if top <= 0.0:
        return None
    with np.errstate(over="ignore"):
        upper = 1.0 if lo.max() <= 0.0 else min(1.0, float(hi.min() / lo.max()))
    return float(lo.min() / top), upper


def sd_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Smallest and largest sample SD (ddof = 1) of values constrained to the box.

    Smallest: the minimiser pulls every value to a common level m clipped to its interval,
    where m is the mean of the clipped values (bisection on that fixed point, which is
    unique because mean(clip(m)) - m is strictly decreasing). Largest: a convex function
    over a box peaks at a vertex, and at the optimum each value sits at the end farther from
    the mean; sorting the intervals by their midpoints, the optimal vertex takes the lower
    end for the first k and the upper end for the rest, for one of the G + 1 values of k.
    """
    return sd_intervals([(lo, hi)])[0]


def sd_intervals(boxes: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[float, float]]:
    """:func:`sd_interval` of many boxes at once (NaN for a box of fewer than two values).

    Boxes of the same number of values are stacked and solved together (each row reduced as
    a box alone would be, so with the same bits): one bisection for all the metrics and
    partitions of an audit instead of one each.
    """
    out: list[tuple[float, float]] = [(float("nan"), float("nan"))] * len(boxes)
    by_size: dict[int, list[int]] = {}
    for i, (lo, _hi) in enumerate(boxes):
        if lo.size >= 2:
            by_size.setdefault(lo.size, []).append(i)
    for idx in by_size.values():
        lo = np.stack([boxes[i][0] for i in idx])
        hi = np.stack([boxes[i][1] for i in idx])
        for i, low, high in zip(idx, *_sd_rows(lo, hi), strict=True):
            out[i] = (low, high)
    return out


def _sd_rows(lo: np.ndarray, hi: np.ndarray) -> tuple[list[float], list[float]]:
    """Smallest and largest SD over each row's box, rows of (B, G) with G >= 2."""
    g = lo.shape[1]
    a, b = lo.min(axis=1), hi.max(axis=1)
    for _ in range(60):
        m = 0.5 * (a + b)
        up = np.clip(m[:, None], lo, hi).mean(axis=1) > m
        a, b = np.where(up, m, a), np.where(up, b, m)
    low_sd = np.clip((0.5 * (a + b))[:, None], lo, hi).std(axis=1, ddof=1)

    order = np.argsort(0.5 * (lo + hi), axis=1)
    lo_s, hi_s = np.take_along_axis(lo, order, axis=1), np.take_along_axis(hi, order, axis=1)
    # Vertex k: lower ends for the first k groups (by midpoint), upper ends for the rest.
    zero = np.zeros((lo.shape[0], 1))

    def vertex_sums(first: np.ndarray, rest: np.ndarray) -> np.ndarray:
        return (np.concatenate([zero, np.cumsum(first, axis=1)], axis=1)
                + np.concatenate([np.cumsum(rest[:, ::-1], axis=1)[:, ::-1], zero], axis=1))

    s1, s2 = vertex_sums(lo_s, hi_s), vertex_sums(lo_s**2, hi_s**2)
    var = np.maximum(s2 - s1 * s1 / g, 0.0) / (g - 1)
    return low_sd.tolist(), np.sqrt(var.max(axis=1)).tolist()


def ser_interval(lo: np.ndarray, hi: np.ndarray, higher_is_better: bool) -> tuple[float, float] | None:
    """Bounds of the skewed error ratio max(err) / min(err) over the box; None when the
    smallest error may be 0 (unbounded)."""
    e_lo, e_hi = (1.0 - hi, 1.0 - lo) if higher_is_better else (lo, hi)
    if e_lo.min() <= 0.0:
        return None
    return max(1.0, float(e_lo.max() / e_hi.min())), float(e_hi.max() / e_lo.min())
