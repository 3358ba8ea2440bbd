"""Speed of the metric engine against fairlearn and aif360, measured in one run.

1,000,000 predictions with sex (2) x race (5) x age band (4) = 40 intersectional groups.

(a) fairlearn MetricFrame: selection rate, TPR, FPR and accuracy by the three features
(b) fairaudit point estimates: every metric of every group of every attribute and intersection
    (3 attributes + 4 intersections), every criterion and summary, no intervals
(c) fairaudit with 1000-replicate bootstrap intervals for all of it (and 1000-permutation
    p-values with q-values)
(d) aif360 ClassificationMetric for race alone: each race group against the rest (TPR, FPR,
    selection rate, accuracy, equal opportunity / average odds / statistical parity differences)
(e) Kamiran-Calders weights over sex x race x age: aif360's Reweighing (sklearn API) against
    fairaudit.mitigation.reweighting_weights

Prints each time (best of --repeat runs), the peak memory traced in a separate run of each, and
the ratios. Targets on the 2-core development machine: a/b >= 50, a/c >= 1, d/b >= 1 (aif360
covers one attribute, fairaudit all of them), peak memory of (c) < 2 GB.

Usage: python benchmarks/bench_metrics.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["White", "Black", "Asian", "Mixed", "Other"], n, p=[0.8, 0.06, 0.07, 0.03, 0.04])
    age = rng.choice(["18-39", "40-59", "60-79", "80+"], n, p=[0.3, 0.35, 0.3, 0.05])
    y = (rng.random(n) < 0.2).astype(np.int8)
    score = 1.0 / (1.0 + np.exp(-(rng.normal(0.0, 1.0, n) + 2.2 * y - 1.5)))
    return pd.DataFrame({"y": y, "score": score, "sex": sex, "race": race, "age": age})


def timed(fn, repeat: int):
    """Best wall time of ``repeat`` runs, then one more run under tracemalloc for peak memory.

    Timing and memory are separate runs: tracemalloc slows allocation-heavy code (pandas)
    several-fold and would bias the ratios.
    """
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of K runs for each timing")
    args = parser.parse_args()

    warnings.simplefilter("ignore")
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    from fairaudit.api import audit_dataset
    from fairaudit.data import from_frame

    df = make_data(args.rows)
    y_pred = (df.score.to_numpy() >= 0.5).astype(np.int8)
    sf = df[["sex", "race", "age"]]

    def fairlearn_run():
        mf = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                     "fpr": false_positive_rate, "accuracy": accuracy_score},
            y_true=df.y, y_pred=y_pred, sensitive_features=sf,
        )
        return mf.by_group

    ds = from_frame(df, label="y", sensitive=["sex", "race", "age"], score="score")

    def fairaudit_point():
        return audit_dataset(ds, threshold=0.5, n_bootstrap=0, n_permutations=0)

    def fairaudit_ci():
        return audit_dataset(ds, threshold=0.5, n_bootstrap=1000, n_permutations=1000)

    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric
    from aif360.sklearn.preprocessing import Reweighing

    from fairaudit.mitigation import reweighting_weights

    race_codes, race_names = pd.factorize(df.race, sort=True)

    def aif360_run():
        frame = pd.DataFrame({"y": df.y.astype(float), "race": race_codes.astype(float)})
        truth = BinaryLabelDataset(df=frame, label_names=["y"], protected_attribute_names=["race"])
        pred = truth.copy(deepcopy=True)
        pred.labels = y_pred.astype(float).reshape(-1, 1)
        out = {}
        for g, name in enumerate(race_names):
            cm = ClassificationMetric(
                truth, pred, unprivileged_groups=[{"race": g}],
                privileged_groups=[{"race": c} for c in range(len(race_names)) if c != g],
            )
            out[name] = (cm.true_positive_rate(privileged=False), cm.false_positive_rate(privileged=False),
                         cm.selection_rate(privileged=False), cm.accuracy(privileged=False),
                         cm.equal_opportunity_difference(), cm.average_odds_difference(),
                         cm.statistical_parity_difference())
        return out

    attrs = ["sex", "race", "age"]

    def aif360_reweighing():
        X = df.set_index(attrs, drop=False)
        return np.asarray(Reweighing(prot_attr=attrs).fit_transform(X, df.y.set_axis(X.index))[1])

    def fairaudit_reweighting():
        return reweighting_weights(df.y.to_numpy(), df[attrs])

    ta, ma, by_group = timed(fairlearn_run, args.repeat)
    td, md, aif = timed(aif360_run, args.repeat)
    te, me, w_aif = timed(aif360_reweighing, args.repeat)
    tf, mf, w_ours = timed(fairaudit_reweighting, args.repeat)
    tb, mb, point = timed(fairaudit_point, args.repeat)
    tc, mc, full = timed(fairaudit_ci, max(1, args.repeat - 1))

    # The two agree on what both compute.
    g = full.group("sex & race & age", "F & Black & 40-59").metrics["tpr"].value
    assert abs(by_group.loc[("F", "Black", "40-59"), "tpr"] - g) < 1e-12
    assert abs(aif["Black"][0] - full.group("race", "Black").metrics["tpr"].value) < 1e-12
    assert np.allclose(w_aif, w_ours, rtol=0, atol=1e-12)

    n_groups = len(point.groups)
    print(f"rows: {args.rows:,}; fine groups: {len(by_group)}; audited groups (all attributes and intersections): {n_groups}")
    print(f"(a) fairlearn MetricFrame, 4 metrics by sex x race x age : {ta:8.3f} s   peak {ma / 2**20:8.1f} MiB")
    print(f"(b) fairaudit point estimates, all metrics and criteria  : {tb:8.3f} s   peak {mb / 2**20:8.1f} MiB")
    print(f"(c) fairaudit + 1000 bootstrap CIs + 1000 permutations   : {tc:8.3f} s   peak {mc / 2**20:8.1f} MiB")
    print(f"(d) aif360 ClassificationMetric, race groups vs rest     : {td:8.3f} s   peak {md / 2**20:8.1f} MiB")
    print(f"(e) aif360 Reweighing, sex x race x age weights          : {te:8.3f} s   peak {me / 2**20:8.1f} MiB")
    print(f"(f) fairaudit reweighting_weights, the same weights      : {tf:8.3f} s   peak {mf / 2**20:8.1f} MiB")
    print(f"a/b = {ta / tb:6.1f}   (target >= 50)")
    print(f"a/c = {ta / tc:6.2f}   (target >= 1)")
    print(f"d/b = {td / tb:6.1f}   (target >= 1)")
    print(f"e/f = {te / tf:6.1f}")
    print(f"peak memory of (c) = {mc / 2**30:.2f} GiB (target < 2)")


if __name__ == "__main__":
    main()
