"""The exact search behind :class:`~fairaudit.mitigation.thresholds.GroupThresholdOptimizer`.

Each group's candidate thresholds and their true/false-positive counts form a :class:`Curve`.
:func:`solve` finds, for a tolerance, the thresholds maximising the weighted performance under
the fairness constraints (enumerating rate bands, with a range-maximum query per group; see the
estimator's module docstring). :func:`randomized_optimum` is the performance of the exact
randomised solution (the groups' ROC convex hulls, as fairlearn), and :func:`auto_tolerance`
the smallest tolerance at which the deterministic thresholds reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    """Candidate thresholds of one group, in decreasing order (TPR, FPR non-decreasing)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: int
    n_neg: int

    @property
    def tpr(self) -> np.ndarray:
        return self.tp / self.n_pos if self.n_pos else np.zeros_like(self.tp, dtype=np.float64)

    @property
    def fpr(self) -> np.ndarray:
        return self.fp / self.n_neg if self.n_neg else np.zeros_like(self.fp, dtype=np.float64)


def candidate_thresholds(scores: np.ndarray, max_candidates: int | None) -> np.ndarray:
    """Decreasing thresholds: above every score, half-way between distinct scores, below all."""
    u = np.unique(scores)
    top = (u[-1] + 1.0) / 2.0 if u[-1] < 1.0 else 1.0
    bottom = u[0] / 2.0
    cuts = np.concatenate([[bottom], (u[:-1] + u[1:]) / 2.0, [top]])
    if max_candidates is not None and cuts.shape[0] > max_candidates:
        # Evenly spaced in rank: keeps the ends, thins the dense middle.
        keep = np.unique(np.round(np.linspace(0, cuts.shape[0] - 1, max_candidates)).astype(np.int64))
        cuts = cuts[keep]
    return np.unique(cuts)[::-1]


def group_curve(scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> Curve:
    pos = np.sort(scores[labels == 1])
    neg = np.sort(scores[labels == 0])
    # Rows with score >= t: n - (rows with score < t).
    tp = pos.shape[0] - np.searchsorted(pos, thresholds, side="left")
    fp = neg.shape[0] - np.searchsorted(neg, thresholds, side="left")
    return Curve(thresholds, tp.astype(np.int64), fp.astype(np.int64), pos.shape[0], neg.shape[0])


class RangeMax:
    """Sparse table: maximum (first arg-max) of a fixed array over index ranges, vectorised."""

    def __init__(self, values: np.ndarray) -> None:
        n = values.shape[0]
        levels = max(1, int(np.floor(np.log2(n))) + 1)
        self.val = np.full((levels, n), -np.inf)
        self.arg = np.zeros((levels, n), dtype=np.int64)
        self.val[0] = values
        self.arg[0] = np.arange(n)
        for k in range(1, levels):
            half, width = 1 << (k - 1), n - (1 << k) + 1
            left_v, right_v = self.val[k - 1, :width], self.val[k - 1, half : half + width]
            take_right = right_v > left_v
            self.val[k, :width] = np.where(take_right, right_v, left_v)
            self.arg[k, :width] = np.where(
                take_right, self.arg[k - 1, half : half + width], self.arg[k - 1, :width]
            )

    def query(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Max and arg-max over ``[lo, hi]`` (inclusive) where ``lo <= hi``; -inf elsewhere."""
        ok = lo <= hi
        lo_c = np.where(ok, lo, 0)
        length = np.where(ok, hi - lo_c + 1, 1)
        k = np.log2(length).astype(np.int64)  # floor for positive integers
        b = lo_c + length - (1 << k)
        va, vb = self.val[k, lo_c], self.val[k, b]
        take_b = vb > va
        val = np.where(ok, np.where(take_b, vb, va), -np.inf)
        arg = np.where(take_b, self.arg[k, b], self.arg[k, lo_c])
        return val, arg


def upper_hull(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper convex hull of ROC points (with (0, 0) and (1, 1)), left to right."""
    pts = sorted(set(zip(np.r_[0.0, fpr, 1.0].tolist(), np.r_[0.0, tpr, 1.0].tolist(), strict=True)))
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # Drop the middle point unless it lies strictly above the chord (a right turn).
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    xs, ys = np.array([h[0] for h in hull]), np.array([h[1] for h in hull])
    return xs, ys


def randomized_optimum(
    curves: list[Curve], w_pos: float, w_neg: float, objective: str, floor: float | None
) -> float:
    """Best performance of randomised per-group thresholds meeting the constraint exactly.

    Randomising between two thresholds reaches any point under a group's ROC convex hull
    (Hardt et al. 2016; fairlearn's ``ThresholdOptimizer``). Performance is linear in the
    groups' (FPR, TPR), so the optimum is evaluated on a fine grid of the shared rate.
    """
    hulls = [upper_hull(c.fpr, c.tpr) for c in curves]
    pos = np.array([c.n_pos for c in curves], dtype=np.float64)
    neg = np.array([c.n_neg for c in curves], dtype=np.float64)
    if objective == "equalized_odds":
        # A shared (f, t) with t <= every group's hull at f; performance is linear in (f, t).
        f = np.unique(np.concatenate([np.linspace(0.0, 1.0, 2001)] + [h[0] for h in hulls]))
        # At a repeated FPR (the vertical start of a hull) the highest TPR counts.
        last = [np.r_[hx[1:] != hx[:-1], True] for hx, _ in hulls]
        t = np.min([np.interp(f, hx[k], hy[k]) for (hx, hy), k in zip(hulls, last, strict=True)], axis=0)
        if floor is not None:
            keep = t >= floor - 1e-12
            f, t = f[keep], t[keep]
        util = w_pos * pos.sum() * t + w_neg * neg.sum() * (1.0 - f)
        return float(util.max())
    # Equal opportunity: a shared t; each group at the smallest FPR reaching it on its hull.
    t = np.unique(np.concatenate([np.linspace(0.0, 1.0, 2001)] + [h[1] for h in hulls]))
    if floor is not None:
        t = t[t >= floor - 1e-12]
    total = w_pos * pos.sum() * t
    for (hx, hy), n_neg in zip(hulls, neg, strict=True):
        # The hull is increasing in t up to its first point with t = 1; invert that part.
        end = int(np.argmax(hy >= 1.0 - 1e-15))
        total = total + w_neg * n_neg * (1.0 - np.interp(t, hy[: end + 1], hx[: end + 1]))
    return float(total.max())


def utility_weights(labels: np.ndarray, performance: str) -> tuple[float, float]:
    """Utility per true positive and per true negative (performance = their weighted sum)."""
    n = labels.shape[0]
    if performance == "accuracy":
        return 1.0 / n, 1.0 / n
    n_pos = max(int(labels.sum()), 1)
    return 0.5 / n_pos, 0.5 / max(n - int(labels.sum()), 1)


def solve(
    curves: list[Curve], labels: np.ndarray, tol: float, *, objective: str, performance: str,
    sensitivity_floor: float | None,
) -> tuple[list[float], float]:
    """Best thresholds of the given groups under the constraints; (thresholds, utility)."""
    w_pos, w_neg = utility_weights(labels, performance)
    eps = 1e-12
    floor = None if sensitivity_floor is None else float(sensitivity_floor)
    use_tpr = objective in ("equal_opportunity", "equalized_odds")
    use_fpr = objective == "equalized_odds"

    utilities, rmqs, floor_lo = [], [], []
    for c in curves:
        u = w_pos * c.tp + w_neg * (c.n_neg - c.fp)
        utilities.append(u)
        rmqs.append(RangeMax(u))
        if floor is None:
            floor_lo.append(0)
        else:
            ok = np.flatnonzero(c.tpr >= floor - eps)
            # The lowest candidate predicts everybody positive (TPR 1), so ok is never empty.
            floor_lo.append(int(ok[0]) if ok.shape[0] else c.thresholds.shape[0] - 1)

    def bands(rate_of: str) -> np.ndarray:
        vals = np.concatenate([getattr(c, rate_of) for c in curves])
        return np.unique(vals)

    t_starts = bands("tpr") if use_tpr else np.zeros(1)
    f_starts = bands("fpr") if use_fpr else np.zeros(1)

    # Per group and band start, the contiguous run of feasible candidate indices.
    def run(c: Curve, rate: np.ndarray, starts: np.ndarray, active: bool) -> tuple[np.ndarray, np.ndarray]:
        m = c.thresholds.shape[0]
        if not active:
            return np.zeros(starts.shape, dtype=np.int64), np.full(starts.shape, m - 1, dtype=np.int64)
        lo = np.searchsorted(rate, starts - eps, side="left")
        hi = np.searchsorted(rate, starts + tol + eps, side="right") - 1
        return lo.astype(np.int64), hi.astype(np.int64)

    t_runs = [run(c, c.tpr, t_starts, use_tpr) for c in curves]
    f_runs = [run(c, c.fpr, f_starts, use_fpr) for c in curves]

    # Only band pairs (f0, t0) where every group can be feasible are worth evaluating: for
    # a TPR band, group g's run spans FPRs [fpr_g(lo), fpr_g(hi)], so f0 must lie in
    # [max_g fpr_g(lo) - tol, min_g fpr_g(hi)].
    n_t = t_starts.shape[0]
    if use_fpr:
        a = np.full(n_t, -np.inf)
        b = np.full(n_t, np.inf)
        ok = np.ones(n_t, dtype=bool)
        for gi, c in enumerate(curves):
            lo = np.maximum(t_runs[gi][0], floor_lo[gi])
            hi = t_runs[gi][1]
            ok &= lo <= hi
            fpr = c.fpr
            a = np.maximum(a, fpr[np.minimum(lo, fpr.shape[0] - 1)] - tol)
            b = np.minimum(b, fpr[np.clip(hi, 0, fpr.shape[0] - 1)])
        start = np.searchsorted(f_starts, a - eps, side="left")
        stop = np.searchsorted(f_starts, b + eps, side="right")
        count = np.where(ok, np.maximum(stop - start, 0), 0)
    else:
        start = np.zeros(n_t, dtype=np.int64)
        count = np.ones(n_t, dtype=np.int64)

    best_total, best_idx = -np.inf, None
    t_all = np.arange(n_t)
    budget = 2_000_000
    t0 = 0
    while t0 < n_t:
        # Take as many TPR bands as fit the budget of pairs (at least one).
        cum = np.cumsum(count[t0:])
        t1 = t0 + max(1, int(np.searchsorted(cum, budget, side="right")))
        cnt = count[t0:t1]
        total_pairs = int(cnt.sum())
        if total_pairs:
            t_idx = np.repeat(t_all[t0:t1], cnt)
            offsets = np.repeat(np.cumsum(cnt) - cnt, cnt)
            f_idx = np.repeat(start[t0:t1], cnt) + (np.arange(total_pairs) - offsets)
            total = np.zeros(total_pairs)
            args = []
            for gi in range(len(curves)):
                lo = np.maximum(
                    np.maximum(f_runs[gi][0][f_idx], t_runs[gi][0][t_idx]), floor_lo[gi]
                )
                hi = np.minimum(f_runs[gi][1][f_idx], t_runs[gi][1][t_idx])
                val, arg = rmqs[gi].query(lo, hi)
                total += val
                args.append(arg)
            k = int(np.argmax(total))
            if total[k] > best_total + 1e-15:
                best_total = float(total[k])
                best_idx = [int(x[k]) for x in args]
        t0 = t1
    assert best_idx is not None  # the all-negative / all-positive bands are always feasible
    return [float(c.thresholds[i]) for c, i in zip(curves, best_idx, strict=True)], best_total


def auto_tolerance(
    curves: list[Curve], labels: np.ndarray, *, objective: str, performance: str,
    sensitivity_floor: float | None,
) -> tuple[float, list[float], float]:
    """Smallest tolerance (to 0.001) whose deterministic optimum matches the randomised one.

    Returns the tolerance, the thresholds at it and the randomised optimum's performance.
    """
    w_pos, w_neg = utility_weights(labels, performance)
    target = randomized_optimum(
        curves, w_pos, w_neg, objective,
        None if sensitivity_floor is None else float(sensitivity_floor),
    )

    def _solve(tol: float) -> tuple[list[float], float]:
        return solve(curves, labels, tol, objective=objective, performance=performance,
                     sensitivity_floor=sensitivity_floor)
    lo, hi = 0.0, 1.0
    best = _solve(hi)
    if best[1] < target - 1e-12:  # cannot happen (see randomized_optimum); be safe
        return hi, best[0], target
    got = _solve(lo)
    if got[1] >= target - 1e-12:
        return lo, got[0], target
    # Performance is non-decreasing in the tolerance: bisect on a 0.001 grid.
    lo_i, hi_i = 0, 1000
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        got = _solve(mid / 1000.0)
        if got[1] >= target - 1e-12:
            hi_i, best = mid, got
        else:
            lo_i = mid
    return hi_i / 1000.0, best[0], target


__all__ = [
    "Curve",
    "RangeMax",
    "auto_tolerance",
    "candidate_thresholds",
    "group_curve",
    "randomized_optimum",
    "solve",
    "upper_hull",
    "utility_weights",
]
