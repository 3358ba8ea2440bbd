"""Paired changes between conditions (models, variants) scored on the same rows.

One engine answers "is the candidate at least as good as the reference, for every group?": the
deployed model against a candidate (``fairaudit compare``), a baseline against its mitigation
variants (``fairaudit mitigate``), a model against itself under a perturbation (stress tests).

Pairing
    Every bootstrap replicate resamples the rows once (whole patients when ``clusters`` is
    given) and evaluates *every* condition on that same resample, so what the conditions share
    (which patients happen to be in the test set) cancels out of their difference. The
    interval of a change is the percentile interval of the replicate differences. Resampling
    each condition separately would give far wider intervals (tests/metrics/test_paired.py
    measures it).

Vectorised
    A replicate is a weight vector over rows (a multinomial draw of rows, or of patients spread
    to their rows). A chunk of replicates is a dense (r, n) weight matrix; group sums are one
    sparse product with the row-by-group membership matrix of all partitions at once, and the
    AUCs of all groups of all partitions come from one sort per condition (rows ordered by
    group, then score; tie runs count 1/2) and segmented sums. Point estimates are the same code
    with unit weights, so they are exact (Mann-Whitney AUC with mid-ranks).

Intervals and tests
    - ``ci``: paired percentile bootstrap interval of the change (one group alone);
    - ``simultaneous_ci``: family-wise over the sufficient groups of one attribute:
      ``change +- c * se`` with ``se`` the bootstrap SD of the change and ``c`` the max-t
      critical value (:func:`fairaudit.metrics.simultaneous.max_t_critical`, never below the
      Sidak-Gaussian value), widened to contain ``ci``; zero width where the change is the
      same in every replicate (identical decisions on every resampled row);
    - ``p_value``: for the AUC without clusters, the paired DeLong test of two correlated ROC
      curves (DeLong, DeLong & Clarke-Pearson 1988, in the structural-component form of Sun &
      Xu 2014); otherwise the centred bootstrap p-value
      ``(1 + #{|D* - D| >= |D|}) / (1 + R)``.

Sufficiency
    A group with fewer than ``min_group_size`` rows, or fewer than ``min_group_events``
    positives or negatives, is ``sufficient=False`` (the audit's rule, ``AuditConfig``); it
    keeps its values and marginal interval but gets no simultaneous interval, and criteria are
    taken over the sufficient groups only (``complete=False`` lists the others). Callers must
    never read an insufficient group as "no harm".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fairaudit.errors import ConfigError
from fairaudit.metrics.bootstrap import percentile_ci
from fairaudit.metrics.criteria import CRITERIA, criterion_values
from fairaudit.metrics.delong import delong_paired, placements
from fairaudit.metrics.simultaneous import max_t_critical, standard_errors
from fairaudit.metrics.weighted import resample_weights
from fairaudit.naming import attribute_label, group_label
from fairaudit.result_paired import CriterionChange, MetricChange, PairedResult

PAIRED_METRICS: tuple[str, ...] = (
    "tpr", "fpr", "ppv", "npv", "accuracy", "balanced_accuracy", "selection_rate", "auc",
    "brier", "ece",
)
"""Metrics whose change is computed (all lie in [0, 1])."""

PAIRED_CRITERIA: tuple[str, ...] = (
    "demographic_parity_difference", "equal_opportunity_difference",
    "equalized_odds_difference", "auc_difference",
)
"""Criteria whose change is computed by default (any of ``metrics.criteria.CRITERIA`` works)."""

ECE_BINS = 10
TIE_TOL = 1e-12


@dataclass(frozen=True)
class _Layout:
    """All partitions' groups as columns 0..K-1 of one membership matrix."""

    attributes: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    offsets: tuple[int, ...]  # first column of each partition
    col: np.ndarray  # (P, n): global column of every row in every partition
    member: object  # scipy csr (n, K)

    @property
    def k(self) -> int:
        return self.offsets[-1] + len(self.labels[-1])

    def columns(self, p: int) -> np.ndarray:
        return np.arange(self.offsets[p], self.offsets[p] + len(self.labels[p]))


def _ordered(values: np.ndarray) -> list[str]:
    return sorted(set(values.tolist()), key=lambda s: (s == "unknown", s))


def _layout(groups: Mapping[str, np.ndarray], n: int, intersections: bool) -> _Layout:
    from scipy import sparse

    names = list(groups)
    values = {a: np.asarray(groups[a]).astype(str) for a in names}
    parts: list[tuple[str, np.ndarray]] = [("overall", np.full(n, "overall"))]
    sizes = [1] + (list(range(2, len(names) + 1)) if intersections else [])
    for r in sizes:
        for combo in itertools.combinations(names, r):
            if r == 1:
                parts.append((combo[0], values[combo[0]]))
                continue
            stacked = np.stack([values[a] for a in combo], axis=1)
            uniq, inv = np.unique(stacked, axis=0, return_inverse=True)
            lab = np.asarray([group_label(u) for u in uniq.tolist()], dtype=object)
            parts.append((attribute_label(combo), lab[np.asarray(inv).ravel()].astype(str)))
    labels, offsets, cols = [], [], []
    start = 0
    for _, row_labels in parts:
        uniq, inv = np.unique(row_labels, return_inverse=True)
        order = _ordered(uniq)
        index = {g: i for i, g in enumerate(order)}
        rank = np.array([index[g] for g in uniq.tolist()], dtype=np.int64)
        cols.append(start + rank[np.asarray(inv).ravel()] if n else np.zeros(0, np.int64))
        labels.append(tuple(order))
        offsets.append(start)
        start += len(order)
    col = np.stack(cols) if cols else np.zeros((0, n), np.int64)
    member = sparse.csr_matrix(
        (np.ones(col.size), (np.tile(np.arange(n), col.shape[0]), col.ravel())), shape=(n, start)
    )
    return _Layout(tuple(p for p, _ in parts), tuple(labels), tuple(offsets), col, member)


@dataclass(frozen=True)
class _Condition:
    """Per-condition arrays that do not change between replicates."""

    scores: np.ndarray
    decision: np.ndarray  # float 0/1
    ece_member: object  # scipy csr (n, K * ECE_BINS)
    rows: np.ndarray  # (V,) row of every virtual row, sorted by (group column, score)
    group: np.ndarray  # (V,) group column of every sorted virtual row
    group_first: np.ndarray  # (K,) first sorted virtual row of every group
    run_first: np.ndarray | None  # (V,) first sorted row of each row's tie run (None: no ties)
    run_last: np.ndarray | None  # (V,) last sorted row of each row's tie run


def _condition(scores: np.ndarray, threshold: np.ndarray, lay: _Layout) -> _Condition:
    from scipy import sparse

    n = scores.size
    p = lay.col.shape[0]
    ece_bin = np.clip(np.searchsorted(np.linspace(0, 1, ECE_BINS + 1), scores, side="right") - 1,
                      0, ECE_BINS - 1)
    ece_cols = (lay.col * ECE_BINS + ece_bin[None, :]).ravel()
    ece_member = sparse.csr_matrix(
        (np.ones(ece_cols.size), (np.tile(np.arange(n), p), ece_cols)), shape=(n, lay.k * ECE_BINS)
    )
    vcol = lay.col.ravel()
    vscore = np.tile(scores, p)
    order = np.lexsort((vscore, vcol))
    s, g = vscore[order], vcol[order]
    new_run = np.r_[True, (s[1:] != s[:-1]) | (g[1:] != g[:-1])]
    first = last = None
    if not new_run.all():  # ties: every row needs its run's ends
        starts = np.flatnonzero(new_run)
        run_of = np.cumsum(new_run) - 1
        first = starts[run_of]
        last = np.r_[starts[1:] - 1, s.size - 1][run_of]
    return _Condition(
        scores=scores, decision=(scores >= threshold).astype(np.float64), ece_member=ece_member,
        rows=order % n, group=g, group_first=np.searchsorted(g, np.arange(lay.k)),
        run_first=first, run_last=last,
    )


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _sums(w: np.ndarray, member) -> np.ndarray:
    """Group sums (r, K) of row weights (r, n)."""
    return np.asarray((member.T @ w.T).T)


def _weighted_auc(wt: np.ndarray, y: np.ndarray, cond: _Condition) -> np.ndarray:
    """AUC of every group (r, K) from transposed row weights ``wt`` (n, r); ties count 1/2.

    Virtual rows (one per row and partition) sorted by group, then score: the weighted
    negatives below a positive are a cumulative sum (a tie run counts half its negatives), and
    a group's wins are one segmented sum less its start offset times its positives. Weights
    are whole numbers, so every sum is a multiple of 1/2 and exact in float64. Everything runs
    along axis 0 over contiguous rows of ``r`` replicates.
    """
    gf = cond.group_first
    posv = wt[cond.rows]  # (V, r)
    negv = posv * (1.0 - y[cond.rows])[:, None]
    posv -= negv
    cum = np.cumsum(negv, axis=0)
    base = cum[gf] - negv[gf]  # negatives of all earlier groups, per group
    if cond.run_first is None:
        cum -= 0.5 * negv  # below a row: the earlier negatives, ties (itself) half
        below = cum
    else:
        below = 0.5 * ((cum - negv)[cond.run_first] + cum[cond.run_last])
    pos = np.add.reduceat(posv, gf, axis=0)
    neg = np.add.reduceat(negv, gf, axis=0)
    posv *= below
    wins = np.add.reduceat(posv, gf, axis=0) - base * pos
    return _div(wins, pos * neg).T


def _metrics(w: np.ndarray, y: np.ndarray, conds: Mapping[str, _Condition],
             lay: _Layout) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Every metric of every group (r, K) under every condition, and the shared counts."""
    wt = np.ascontiguousarray(w.T)
    wy = w * y
    n = _sums(w, lay.member)
    pos = _sums(wy, lay.member)
    neg = n - pos
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, c in conds.items():
        tp = _sums(wy * c.decision, lay.member)
        fp = _sums((w - wy) * c.decision, lay.member)
        tn, fn = neg - fp, pos - tp
        tpr, tnr = _div(tp, pos), _div(tn, neg)
        obs = _sums(wy, c.ece_member).reshape(w.shape[0], lay.k, ECE_BINS)
        pred = _sums(w * c.scores, c.ece_member).reshape(w.shape[0], lay.k, ECE_BINS)
        out[name] = {
            "tpr": tpr, "fpr": _div(fp, neg), "ppv": _div(tp, tp + fp), "npv": _div(tn, tn + fn),
            "accuracy": _div(tp + tn, n), "balanced_accuracy": (tpr + tnr) / 2.0,
            "selection_rate": _div(tp + fp, n),
            "auc": _weighted_auc(wt, y, c),
            "brier": _div(_sums(w * (c.scores - y) ** 2, lay.member), n),
            "ece": _div(np.abs(obs - pred).sum(axis=-1), n),
        }
    return out, {"n": n, "pos": pos, "neg": neg}


def _validate(labels, scores, thresholds, groups, clusters, reference, metrics, criteria,
              n_bootstrap, confidence_level) -> tuple[np.ndarray, dict, dict, np.ndarray | None]:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ConfigError(f"labels must be a non-empty 1-D array; got shape {y.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ConfigError("labels must be 0 or 1.")
    n = y.size
    if reference not in scores:
        raise ConfigError(f"reference {reference!r} is not among the conditions ({', '.join(scores)}).")
    if len(scores) < 2:
        raise ConfigError("scores needs the reference and at least one other condition.")
    s_out, t_out = {}, {}
    for name, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        if s.shape != (n,):
            raise ConfigError(f"scores[{name!r}] has shape {s.shape}; expected ({n},) like labels.")
        if not np.isfinite(s).all() or s.min() < 0.0 or s.max() > 1.0:
            raise ConfigError(f"scores[{name!r}] must be finite probabilities in [0, 1].")
        if name not in thresholds:
            raise ConfigError(f"thresholds has no entry for condition {name!r}.")
        t = np.broadcast_to(np.asarray(thresholds[name], dtype=np.float64), (n,)) \
            if np.ndim(thresholds[name]) in (0, 1) and np.size(thresholds[name]) in (1, n) else None
        if t is None or not np.isfinite(t).all():
            raise ConfigError(f"thresholds[{name!r}] must be one finite number or one per row ({n}).")
        s_out[name], t_out[name] = s, t
    for a, g in groups.items():
        if np.shape(g) != (n,):
            raise ConfigError(f"groups[{a!r}] has shape {np.shape(g)}; expected ({n},).")
    bad = [m for m in metrics if m not in PAIRED_METRICS]
    if bad:
        raise ConfigError(f"unknown metric(s) {', '.join(bad)}; known: {', '.join(PAIRED_METRICS)}.")
    bad = [c for c in criteria if c not in CRITERIA]
    if bad:
        raise ConfigError(f"unknown criterion(s) {', '.join(bad)}; known: {', '.join(CRITERIA)}.")
    if n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be >= 0; got {n_bootstrap}.")
    if not 0.0 < confidence_level < 1.0:
        raise ConfigError(f"confidence_level must lie in (0, 1); got {confidence_level}.")
    cl = None
    if clusters is not None:
        if np.shape(clusters) != (n,):
            raise ConfigError(f"clusters has shape {np.shape(clusters)}; expected ({n},).")
        cl = np.asarray(np.unique(np.asarray(clusters), return_inverse=True)[1]).ravel()
    return y.astype(np.float64), s_out, t_out, cl


def _replicates(y, conds, lay, clusters, n_bootstrap, seed, progress):
    """Bootstrap replicates: condition -> metric -> (R, K)."""
    rng = np.random.default_rng(seed)
    n = y.size
    chunk = int(max(1, min(64, 4_000_000 // max(n * lay.col.shape[0], 1))))
    parts: dict[str, dict[str, list[np.ndarray]]] = {c: {} for c in conds}
    done = 0
    while done < n_bootstrap:
        r = min(chunk, n_bootstrap - done)
        vals, _ = _metrics(resample_weights(n, clusters, r, rng), y, conds, lay)
        for c, per in vals.items():
            for m, v in per.items():
                parts[c].setdefault(m, []).append(v)
        done += r
        if progress is not None:
            progress(done, n_bootstrap)
    return {c: {m: np.concatenate(v) for m, v in per.items()} for c, per in parts.items()}


def _boot_p(d: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """Centred bootstrap p-values of changes ``d`` (K,) from replicates (R, K)."""
    ok = ~np.isnan(reps)
    far = (np.abs(reps - d[None, :]) >= np.abs(d)[None, :] - TIE_TOL) & ok
    k = ok.sum(axis=0)
    p = (1.0 + far.sum(axis=0)) / (1.0 + k)
    return np.where((k > 0) & np.isfinite(d), p, np.nan)


def _simultaneous(d: np.ndarray, reps: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
    """Max-t intervals of the changes of one family (K,), containing the marginal ones."""
    se = standard_errors(reps, np.zeros(d.size))
    c = max_t_critical(d, reps, se, level)
    c = 0.0 if not np.isfinite(c) else c
    s_lo = np.where(se > 0, d - c * se, d)
    s_hi = np.where(se > 0, d + c * se, d)
    s_lo = np.fmin(s_lo, np.where(np.isfinite(lo), lo, s_lo))
    s_hi = np.fmax(s_hi, np.where(np.isfinite(hi), hi, s_hi))
    return np.clip(s_lo, -1.0, 1.0), np.clip(s_hi, -1.0, 1.0)


def _f(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _iv(lo: float, hi: float) -> tuple[float, float] | None:
    return (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None


def _sufficiency(counts: Mapping[str, np.ndarray], min_size: int, min_events: int
                 ) -> tuple[np.ndarray, list[str | None]]:
    reasons: list[str | None] = []
    for n, pos, neg in zip(counts["n"][0].astype(int), counts["pos"][0].astype(int),
                           counts["neg"][0].astype(int), strict=True):
        why = []
        if n < min_size:
            why.append(f"n={n} < minimum group size {min_size}")
        if pos < min_events:
            why.append(f"{pos} positives < minimum {min_events}")
        if neg < min_events:
            why.append(f"{neg} negatives < minimum {min_events}")
        reasons.append("; ".join(why) or None)
    return np.array([r is None for r in reasons], dtype=bool), reasons


def paired_changes(
    labels: np.ndarray,
    scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float | np.ndarray],
    groups: Mapping[str, np.ndarray],
    *,
    reference: str,
    clusters: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence_level: float = 0.95,
    metrics: Sequence[str] = PAIRED_METRICS,
    criteria: Sequence[str] = PAIRED_CRITERIA,
    intersections: bool = True,
    simultaneous: bool = True,
    min_group_size: int = 30,
    min_group_events: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> PairedResult:
    """Per-group changes (condition - reference) of every metric and criterion, paired.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        True outcomes, 0 or 1.
    scores : mapping of str to ndarray of shape (n,)
        Predicted probabilities in [0, 1] of every condition on the *same* rows, keyed by
        condition name; must contain ``reference`` and at least one other condition.
    thresholds : mapping of str to float or ndarray of shape (n,)
        Decision threshold of every condition (``score >= threshold`` is positive): one number,
        or one per row (group-specific thresholds, expanded by the caller).
    groups : mapping of str to ndarray of shape (n,)
        Per-row group labels of every sensitive attribute (strings; the caller maps missing
        values to ``"unknown"``). May be empty (overall only).
    reference : str
        The condition every other one is compared with.
    clusters : ndarray of shape (n,), optional
        Patient (cluster) id of every row: whole patients are resampled, and the AUC p-value
        is the bootstrap one (DeLong assumes independent rows).
    n_bootstrap : int
        Paired replicates (0: point changes and DeLong p-values only, no intervals).
    seed : int
        Seed of the replicates; the result is a deterministic function of the inputs and seed.
    confidence_level : float
        Coverage of every interval (marginal and simultaneous).
    metrics : sequence of str
        Subset of :data:`PAIRED_METRICS` to report (all are computed; criteria need some).
    criteria : sequence of str
        Criteria of :data:`fairaudit.metrics.criteria.CRITERIA` whose change is reported per
        attribute (default :data:`PAIRED_CRITERIA`).
    intersections : bool
        Also every intersection of two or more attributes (``"sex & race"``).
    simultaneous : bool
        Compute the family-wise intervals (``MetricChange.simultaneous_ci``).
    min_group_size, min_group_events : int
        The audit's sufficiency rule (``AuditConfig``).
    progress : callable, optional
        Called as ``progress(done, n_bootstrap)`` after every chunk of replicates.

    Returns
    -------
    PairedResult
        ``changes``: one :class:`~fairaudit.result_paired.MetricChange` per (condition,
        attribute, group, metric), attributes in the order ``"overall"``, attributes,
        intersections; ``criterion_changes``: one
        :class:`~fairaudit.result_paired.CriterionChange` per (condition, attribute, criterion).

    Raises
    ------
    ConfigError
        Mismatched shapes, labels not 0/1, scores outside [0, 1], an unknown reference, metric
        or criterion (the message names the parameter).
    """
    y, s, t, cl = _validate(labels, scores, thresholds, groups, clusters, reference, metrics,
                            criteria, n_bootstrap, confidence_level)
    lay = _layout(groups, y.size, intersections)
    conds = {name: _condition(s[name], t[name], lay) for name in s}
    point, counts = _metrics(np.ones((1, y.size)), y, conds, lay)
    sufficient, reasons = _sufficiency(counts, min_group_size, min_group_events)
    reps = _replicates(y, conds, lay, cl, n_bootstrap, seed, progress) if n_bootstrap else None
    others = [c for c in s if c != reference]
    changes: list[MetricChange] = []
    crit: list[CriterionChange] = []
    for c in others:
        changes += _metric_changes(c, reference, y, s, point, reps, counts, sufficient, reasons,
                                   lay, metrics, cl is None, simultaneous, confidence_level)
        crit += _criterion_changes(c, reference, point, reps, sufficient, lay, criteria,
                                   confidence_level)
    unit = "row" if cl is None else "patient"
    return PairedResult(
        reference=reference, conditions=tuple(others), metrics=tuple(metrics),
        criteria=tuple(criteria), attributes=lay.attributes,
        groups=dict(zip(lay.attributes, lay.labels, strict=True)), changes=tuple(changes),
        criterion_changes=tuple(crit), n_bootstrap=int(n_bootstrap),
        confidence_level=float(confidence_level), seed=int(seed), unit=unit,
        n_units=int(y.size if cl is None else cl.max() + 1), min_group_size=int(min_group_size),
        min_group_events=int(min_group_events),
        method={
            "ci": f"paired percentile bootstrap over {unit}s (every condition on the same resample)",
            "simultaneous_ci": "max-t over the sufficient groups of each attribute (bootstrap SD "
                               "of the change, Sidak floor), containing the marginal interval",
            "p_value": ("AUC: paired DeLong test (DeLong 1988; Sun & Xu 2014); other metrics: "
                        if cl is None else "") + "centred paired bootstrap",
        },
    )


def _metric_changes(c, ref, y, s, point, reps, counts, sufficient, reasons, lay, metrics,
                    delong_ok, simultaneous, level) -> list[MetricChange]:
    out: list[MetricChange] = []
    k = lay.k
    for m in metrics:
        d = point[c][m][0] - point[ref][m][0]
        lo, hi = np.full(k, np.nan), np.full(k, np.nan)
        s_lo, s_hi = np.full(k, np.nan), np.full(k, np.nan)
        p = np.full(k, np.nan)
        method = "paired bootstrap"
        if reps is not None:
            diff = reps[c][m] - reps[ref][m]
            lo, hi, _ = percentile_ci(diff, level)
            p = _boot_p(d, diff)
            if simultaneous:
                for pi in range(1, len(lay.attributes)):
                    cols = lay.columns(pi)
                    cols = cols[sufficient[cols] & np.isfinite(d[cols])]
                    if cols.size:
                        s_lo[cols], s_hi[cols] = _simultaneous(d[cols], diff[:, cols], lo[cols],
                                                               hi[cols], level)
        if m == "auc" and delong_ok:
            method = "DeLong"
            p = np.full(k, np.nan)
            for pi in range(len(lay.attributes)):
                cols = lay.columns(pi)
                gid = lay.col[pi] - lay.offsets[pi]
                p[cols] = delong_paired(y, s[ref], s[c], gid, cols.size)[2]
        for pi, attr in enumerate(lay.attributes):
            for j, g in zip(lay.columns(pi), lay.labels[pi], strict=True):
                out.append(MetricChange(
                    condition=c, attribute=attr, group=g, metric=m,
                    reference_value=_f(point[ref][m][0, j]), value=_f(point[c][m][0, j]),
                    change=_f(d[j]), ci=_iv(lo[j], hi[j]), simultaneous_ci=_iv(s_lo[j], s_hi[j]),
                    p_value=_f(p[j]), p_method=method, n=int(counts["n"][0, j]),
                    n_pos=int(counts["pos"][0, j]), n_neg=int(counts["neg"][0, j]),
                    sufficient=bool(sufficient[j]), reason=reasons[j],
                ))
    return out


def _criterion_changes(c, ref, point, reps, sufficient, lay, criteria, level) -> list[CriterionChange]:
    out: list[CriterionChange] = []
    for pi in range(1, len(lay.attributes)):
        cols = lay.columns(pi)
        keep = cols[sufficient[cols]]
        excluded = tuple(g for j, g in zip(cols, lay.labels[pi], strict=True) if not sufficient[j])
        for name in criteria:
            rates = CRITERIA[name][0]
            if keep.size < 2:
                out.append(CriterionChange(c, lay.attributes[pi], name, None, None, None, None,
                                           None, complete=False, excluded_groups=excluded))
                continue
            v_ref, v_c = (float(criterion_values(name, {r: point[x][r][0, keep] for r in rates}))
                          for x in (ref, c))
            d = v_c - v_ref
            ci = p = None
            if reps is not None:
                r_ref, r_c = (criterion_values(name, {r: reps[x][r][:, keep] for r in rates})
                              for x in (ref, c))
                diff = (r_c - r_ref)[:, None]
                lo, hi, _ = percentile_ci(diff, level)
                ci = _iv(lo[0], hi[0])
                p = _f(_boot_p(np.array([d]), diff)[0])
            out.append(CriterionChange(
                condition=c, attribute=lay.attributes[pi], criterion=name,
                reference_value=_f(v_ref), value=_f(v_c), change=_f(d) if np.isfinite(d) else None,
                ci=ci, p_value=p, complete=not excluded, excluded_groups=excluded,
            ))
    return out


__all__ = [
    "PAIRED_CRITERIA",
    "PAIRED_METRICS",
    "delong_paired",
    "paired_changes",
    "placements",
]
