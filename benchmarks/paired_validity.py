"""Coverage of the paired change intervals (``fairaudit.metrics.paired``) by simulation.

A population where the true per-group sensitivity of a deployed model and of a correlated
candidate are known exactly: every patient has a latent severity; the deployed model's score is
severity plus noise, the candidate's the same plus a little noise of its own, and in group "G0"
the candidate misses a fixed share of the deployed model's true positives. The true TPRs and
their change are computed on a population of 2,000,000; each simulated test set draws ``rows``
patients from it.

Columns: ``cov_marginal`` share of test sets where a group's paired percentile interval of the
TPR change holds the true change (averaged over groups; nominal 95 %); ``cov_joint`` share where
EVERY group's simultaneous interval holds its true change (family-wise; nominal 95 %);
``width_paired`` / ``width_unpaired`` mean width of the paired interval and of the interval from
resampling the two models independently (the naive alternative).

Usage: python benchmarks/paired_validity.py [--datasets N] [--rows R] [--groups G] [--bootstrap B]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fairaudit.metrics.paired import paired_changes

THRESHOLD = 0.5


def population(n: int, groups: int, rng: np.random.Generator):
    g = rng.integers(0, groups, n)
    y = (rng.random(n) < 0.3).astype(np.int64)
    severity = np.where(y == 1, rng.normal(0.65, 0.15, n), rng.normal(0.35, 0.15, n))
    base = np.clip(severity + rng.normal(0, 0.08, n), 0, 1)
    cand = np.clip(base + rng.normal(0, 0.03, n), 0, 1)
    miss = (g == 0) & (y == 1) & (base >= THRESHOLD) & (rng.random(n) < 0.1)
    cand[miss] = 0.2
    return y, g.astype(str), base, cand


def true_changes(y, g, base, cand, groups: int) -> np.ndarray:
    out = np.empty(groups)
    for k in range(groups):
        pos = (g == str(k)) & (y == 1)
        out[k] = (cand[pos] >= THRESHOLD).mean() - (base[pos] >= THRESHOLD).mean()
    return out


def unpaired_width(y, g, base, cand, k: int, rng, reps: int, level: float) -> float:
    rows = np.flatnonzero((g == str(k)) & (y == 1))
    a, b = base[rows] >= THRESHOLD, cand[rows] >= THRESHOLD
    d = [b[rng.integers(0, rows.size, rows.size)].mean() - a[rng.integers(0, rows.size, rows.size)].mean()
         for _ in range(reps)]
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return float(hi - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--bootstrap", type=int, default=400)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    py, pg, pb, pc = population(2_000_000, args.groups, rng)
    truth = true_changes(py, pg, pb, pc, args.groups)
    marginal, joint, w_p, w_u = [], [], [], []
    start = time.perf_counter()
    for i in range(args.datasets):
        idx = rng.integers(0, py.size, args.rows)
        y, g, b, c = py[idx], pg[idx], pb[idx], pc[idx]
        r = paired_changes(y, {"base": b, "cand": c}, {"base": THRESHOLD, "cand": THRESHOLD},
                           {"g": g}, reference="base", n_bootstrap=args.bootstrap, seed=i,
                           metrics=("tpr",), criteria=(), intersections=False)
        hits, sim_all = [], True
        for k in range(args.groups):
            ch = r.change("cand", "g", str(k), "tpr")
            hits.append(ch.ci[0] <= truth[k] <= ch.ci[1])
            sim_all &= ch.simultaneous_ci[0] <= truth[k] <= ch.simultaneous_ci[1]
            w_p.append(ch.ci[1] - ch.ci[0])
        w_u.append(unpaired_width(y, g, b, c, 1, rng, args.bootstrap, 0.95))
        marginal.append(np.mean(hits))
        joint.append(sim_all)
    print(f"true TPR changes: {np.round(truth, 4).tolist()}")
    print(f"datasets={args.datasets} rows={args.rows} groups={args.groups} bootstrap={args.bootstrap} "
          f"({time.perf_counter() - start:.0f} s)")
    print(f"cov_marginal={np.mean(marginal):.3f} cov_joint={np.mean(joint):.3f} "
          f"width_paired={np.mean(w_p):.4f} width_unpaired(group 1)={np.mean(w_u):.4f}")


if __name__ == "__main__":
    main()
