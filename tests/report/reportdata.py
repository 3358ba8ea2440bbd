"""A seeded synthetic AuditResult for the report tests (no dependency on the metrics engine).

Metrics, bootstrap intervals, criteria, summaries and curves are computed here from a simulated
cohort with plain numpy, so every number in a rendered report is consistent with the others.
``names`` lets a test rename groups (e.g. to ``<script>`` payloads) to check escaping.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fairaudit.metrics.rates import RATES
from fairaudit.result import (
    AuditResult,
    Criterion,
    DatasetInfo,
    Estimate,
    ExcludedGroup,
    FlaggedValue,
    GroupCurves,
    GroupResult,
    OverallResult,
    RunInfo,
    Summary,
    ThresholdInfo,
)

THRESHOLD = 0.5
MIN_N, MIN_EVENTS = 30, 10
ATTRIBUTES = ("sex", "race")
INTERSECTION = "sex & race"
SUMMARY_METRICS = ("auc", "tpr", "accuracy")


def _cohort(seed: int, names: Mapping[str, str]):
    rng = np.random.default_rng(seed)
    n = 1400
    sex = rng.choice(["F", "M"], size=n, p=[0.52, 0.48])
    race = rng.choice(["White", "Black", "Asian", "unknown", "Pacific Islander"], size=n,
                      p=[0.55, 0.22, 0.15, 0.06, 0.02])
    y = (rng.random(n) < np.where(race == "Black", 0.35, 0.28)).astype(int)
    # The model separates worse for Black patients and for women (a visible gap to audit).
    sep = 2.2 - 0.7 * (race == "Black") - 0.3 * (sex == "F")
    logit = -1.0 + sep * (y - 0.3) + rng.normal(0, 1, n)
    s = 1 / (1 + np.exp(-logit))
    ren = np.vectorize(lambda v: names.get(v, v))
    return y, s, {"sex": ren(sex), "race": ren(race)}, rng


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    cum = np.cumsum(counts)
    avg = cum - (counts - 1) / 2
    ranks[order] = avg[inv]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    p = s >= THRESHOLD
    tp = int(np.sum(p & (y == 1)))
    fp = int(np.sum(p & (y == 0)))
    tn = int(np.sum(~p & (y == 0)))
    fn = int(np.sum(~p & (y == 1)))
    n, pos, neg = len(y), tp + fn, fp + tn

    def div(a, b):
        return a / b if b else None

    tpr, fpr = div(tp, pos), div(fp, neg)
    bins = np.minimum((s * 10).astype(int), 9)
    ece = None
    if n:
        ece = float(sum(np.sum(bins == b) / n * abs(y[bins == b].mean() - s[bins == b].mean())
                        for b in range(10) if np.any(bins == b)))
    out = {
        "prevalence": div(pos, n), "tpr": tpr, "fpr": fpr, "tnr": div(tn, neg), "fnr": div(fn, pos),
        "ppv": div(tp, tp + fp), "npv": div(tn, tn + fn), "selection_rate": div(tp + fp, n),
        "accuracy": div(tp + tn, n),
        "balanced_accuracy": None if tpr is None or fpr is None else (tpr + 1 - fpr) / 2,
        "auc": _auc(y, s), "brier": float(np.mean((s - y) ** 2)) if n else None, "ece": ece,
    }
    # A confusion rate added to the table later (fairaudit.metrics.rates.RATES) without a
    # formula written out above: computed from its definition there.
    cells = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    for name, (num, den) in RATES.items():
        out.setdefault(name, div(sum(cells[c] for c in num), sum(cells[c] for c in den)))
    return out


def _criteria(rates: Mapping[str, Mapping[str, float | None]]) -> dict[str, float | None]:
    def spread(metric):
        vals = [r[metric] for r in rates.values()]
        if len(vals) < 2 or any(v is None for v in vals):
            return None, None
        hi, lo = max(vals), min(vals)
        return hi - lo, (lo / hi if hi > 0 else None)

    dp, eo, fp_, auc = spread("selection_rate"), spread("tpr"), spread("fpr"), spread("auc")
    eod = None if eo[0] is None or fp_[0] is None else max(eo[0], fp_[0])
    eor = None if eo[1] is None or fp_[1] is None else min(eo[1], fp_[1])
    return {
        "demographic_parity_difference": dp[0], "demographic_parity_ratio": dp[1],
        "equal_opportunity_difference": eo[0], "equal_opportunity_ratio": eo[1],
        "equalized_odds_difference": eod, "equalized_odds_ratio": eor, "auc_difference": auc[0],
    }


def _ci(samples: list[float | None], level: float) -> tuple[float, float] | None:
    vals = np.array([v for v in samples if v is not None], dtype=float)
    if len(vals) < max(10, len(samples) // 2):
        return None
    a = (1 - level) / 2
    return (float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a)))


def _curves(attribute: str, group: str, y: np.ndarray, s: np.ndarray) -> GroupCurves:
    order = np.argsort(-s, kind="mergesort")
    ys = y[order]
    tps, fps = np.cumsum(ys), np.cumsum(1 - ys)
    pos, neg = max(int(ys.sum()), 1), max(int(len(ys) - ys.sum()), 1)
    idx = np.unique(np.linspace(0, len(ys) - 1, min(len(ys), 60)).astype(int))
    roc_fpr = (0.0, *(fps[idx] / neg).round(4).tolist(), 1.0)
    roc_tpr = (0.0, *(tps[idx] / pos).round(4).tolist(), 1.0)
    bins = np.minimum((s * 10).astype(int), 9)
    rel_s, rel_o, rel_c = [], [], []
    for b in range(10):
        m = bins == b
        rel_c.append(int(m.sum()))
        rel_s.append(round(float(s[m].mean()), 4) if m.any() else None)
        rel_o.append(round(float(y[m].mean()), 4) if m.any() else None)
    thr = np.round(np.linspace(0, 1, 51), 2)
    t_tpr = tuple(round(float(np.mean(s[y == 1] >= t)), 4) if (y == 1).any() else None for t in thr)
    t_fpr = tuple(round(float(np.mean(s[y == 0] >= t)), 4) if (y == 0).any() else None for t in thr)
    return GroupCurves(attribute, group, roc_fpr, roc_tpr, tuple(rel_s), tuple(rel_o), tuple(rel_c),
                       tuple(float(t) for t in thr), t_tpr, t_fpr)


def make_result(seed: int = 7, n_bootstrap: int = 40, names: Mapping[str, str] | None = None,
                level: float = 0.95) -> AuditResult:
    names = dict(names or {})
    y, s, cols, rng = _cohort(seed, names)
    cols[INTERSECTION] = np.char.add(np.char.add(cols["sex"].astype(str), " & "), cols["race"].astype(str))
    attrs = (*ATTRIBUTES, INTERSECTION)
    groups_of = {a: sorted(set(cols[a].tolist())) for a in attrs}
    n = len(y)
    replicates = [rng.integers(0, n, n) for _ in range(n_bootstrap)]

    def point_and_reps(mask_fn):
        point = mask_fn(np.arange(n))
        reps = [mask_fn(r) for r in replicates]
        return point, reps

    def group_metrics(rows):
        out = {}
        for a in attrs:
            col = cols[a][rows]
            for g in groups_of[a]:
                m = col == g
                out[(a, g)] = _metrics(y[rows][m], s[rows][m])
        out[("", "")] = _metrics(y[rows], s[rows])
        return out

    point, reps = point_and_reps(group_metrics)

    def est(key, metric):
        v = point[key][metric]
        reason = None if v is not None else "denominator is zero"
        return Estimate(v, _ci([r[key][metric] for r in reps], level) if v is not None else None, reason)

    groups, curves = [], []
    status = {}
    for a in attrs:
        for g in groups_of[a]:
            m = cols[a] == g
            npos = int(y[m].sum())
            nn = int(m.sum())
            reasons = []
            if nn < MIN_N:
                reasons.append(f"n < {MIN_N}")
            if npos < MIN_EVENTS or nn - npos < MIN_EVENTS:
                reasons.append(f"fewer than {MIN_EVENTS} positives or negatives")
            status[(a, g)] = "insufficient" if reasons else "ok"
            missing = {"image": int(np.sum(m & (s > 0.93))), "notes": int(np.sum(m & (s < 0.05)))}
            groups.append(GroupResult(a, g, nn, npos, nn - npos, status[(a, g)],
                                      {k: est((a, g), k) for k in point[(a, g)]}, tuple(reasons),
                                      missing))
            curves.append(_curves(a, g, y[m], s[m]))

    criteria, summaries, pvals = [], [], []
    for a in attrs:
        ok = [g for g in groups_of[a] if status[(a, g)] == "ok"]
        bad = [g for g in groups_of[a] if status[(a, g)] != "ok"]
        crit_pt = _criteria({g: point[(a, g)] for g in ok})
        crit_reps = [_criteria({g: r[(a, g)] for g in ok}) for r in reps]
        for name, v in crit_pt.items():
            ci = _ci([c[name] for c in crit_reps], level) if v is not None else None
            p = None
            if v is not None and name.endswith("difference"):
                reps_v = np.array([c[name] for c in crit_reps if c[name] is not None])
                p = float(min(1.0, (1 + np.sum(reps_v - v >= v)) / (1 + len(reps_v))))
            sgo = Estimate(v, ci)
            excluded = tuple(ExcludedGroup(g, "; ".join(next(x.reasons for x in groups
                                                             if x.attribute == a and x.group == g)))
                             for g in bad)
            if bad:
                criteria.append(Criterion(a, name, None, None, "insufficient", p, None,
                                          "a group is too small to judge", (), excluded, sgo))
            else:
                criteria.append(Criterion(a, name, v, ci, "ok", p, None, None, (), (), sgo))
            pvals.append(p)
        for metric in SUMMARY_METRICS:
            vals = {g: point[(a, g)][metric] for g in ok if point[(a, g)][metric] is not None}
            if len(vals) < 2:
                continue
            arr = np.array(list(vals.values()))
            err = 1 - arr

            def sd_ser(d):
                v = np.array([x for x in d if x is not None])
                if len(v) < 2:
                    return None, None
                e = 1 - v
                return float(np.std(v, ddof=1)), (float(e.max() / e.min()) if e.min() > 0 else None)

            rep_stats = [sd_ser([r[(a, g)][metric] for g in ok]) for r in reps]
            # Insufficient groups stay out of the spread but are listed with their values, worst first.
            flagged = sorted(
                (FlaggedValue(g, point[(a, g)][metric], "; ".join(
                    next(x.reasons for x in groups if x.attribute == a and x.group == g)))
                 for g in bad if point[(a, g)][metric] is not None),
                key=lambda f: f.value,
            )
            summaries.append(Summary(
                a, metric, float(arr.min()), float(arr.max()), float(arr.mean()),
                float(np.std(arr, ddof=1)), float(err.max() / err.min()),
                min(vals, key=vals.get), max(vals, key=vals.get), len(vals),
                _ci([t[0] for t in rep_stats], level), _ci([t[1] for t in rep_stats], level), True,
                tuple(flagged)))

    # Benjamini-Hochberg q-values over the criteria that have p-values.
    idx = [i for i, p in enumerate(pvals) if p is not None]
    order = sorted(idx, key=lambda i: pvals[i])
    q = {}
    running = 1.0
    for rank in range(len(order), 0, -1):
        i = order[rank - 1]
        running = min(running, pvals[i] * len(order) / rank)
        q[i] = running
    criteria = [Criterion(**{**c.__dict__, "q_value": q.get(i)}) for i, c in enumerate(criteria)]

    unknown = int(np.sum(cols["race"] == names.get("unknown", "unknown")))
    return AuditResult(
        run=RunInfo(
            created="2025-01-01T00:00:00+00:00", seed=seed, n_bootstrap=n_bootstrap,
            confidence_level=level, data_sha256="ab" * 32, model_sha256="cd" * 32,
            tool_version="0.1.0",
            command="fairaudit audit --predictions preds.csv --label y --score s --sensitive sex,race",
            p_value_method="bootstrap", package_versions={"numpy": np.__version__},
        ),
        dataset=DatasetInfo(n, n, 0, "y", ATTRIBUTES, (INTERSECTION,), "preds.csv",
                            {"race": unknown, "sex": 0}, None, "s"),
        threshold=ThresholdInfo(THRESHOLD, "given"),
        overall=OverallResult(n, int(y.sum()), int(n - y.sum()),
                              {k: est(("", ""), k) for k in point[("", "")]}),
        groups=tuple(groups), criteria=tuple(criteria), summaries=tuple(summaries),
        curves=tuple(curves),
        warnings=("race has an 'unknown' group of patients with no recorded race.",),
    )
