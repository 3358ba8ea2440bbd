"""The audit's finaliser computes every partition at once: the same numbers, to the last bit, as
the partition-by-partition computation it replaced (written out here as the reference), at a
cost that does not grow with the number of partitions."""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np
import pytest

from fairaudit.metrics import engine
from fairaudit.metrics.bootstrap import RowBootstrap, percentile_ci
from fairaudit.metrics.cells import build_cells, make_partitions, overall_partition
from fairaudit.metrics.simultaneous import (
    Scale,
    box,
    critical_values,
    max_t_critical,
    max_t_statistics,
    range_interval,
    scales,
    sd_intervals,
    ser_interval,
    sidak_alpha,
)
from fairaudit.result import METRIC_NAMES

LEVEL = 0.95
ALPHA = (1.0 - LEVEL) / 2.0  # as the engine computes it (not the literal 0.025)


# -- the per-call computations the stacked ones replaced (verbatim arithmetic) -------------

def _ref_forward(scale, x: np.ndarray) -> np.ndarray:
    if scale.n is None:
        return x
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (x * scale.n + scale.shift) / (scale.n + 2 * scale.shift)
    return np.arcsin(np.sqrt(np.clip(p, 0.0, 1.0)))


def _ref_se(reps: np.ndarray, floor: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(reps)
    k = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, reps, 0.0).sum(axis=0) / k
        var = (np.where(ok, reps - mean, 0.0) ** 2).sum(axis=0) / (k - 1)
    sd = np.sqrt(np.where(k > 1, var, np.nan))
    return np.fmax(sd, np.nan_to_num(floor, nan=0.0))


def _ref_max_t(point: np.ndarray, reps: np.ndarray, se: np.ndarray, level: float) -> float:
    if point.size == 0 or reps.shape[0] == 0:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(reps - point[None, :]) / se[None, :]
    m = np.where(np.isfinite(t), t, -np.inf).max(axis=1)
    m = m[np.isfinite(m)]
    if m.size == 0:
        return float("nan")
    ndtri = NormalDist().inv_cdf  # the engine's inverse normal (test_simultaneous checks it)
    return max(float(np.quantile(m, level)), ndtri(1.0 - (1.0 - level ** (1.0 / point.size)) / 2.0))


def _ref_sd_interval(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    g = lo.size
    if g < 2:
        return float("nan"), float("nan")
    a, b = float(lo.min()), float(hi.max())
    for _ in range(60):
        m = 0.5 * (a + b)
        if np.clip(m, lo, hi).mean() > m:
            a = m
        else:
            b = m
    low_sd = float(np.clip(0.5 * (a + b), lo, hi).std(ddof=1))
    order = np.argsort(0.5 * (lo + hi))
    lo_s, hi_s = lo[order], hi[order]
    s1 = np.concatenate([[0.0], np.cumsum(lo_s)]) + np.concatenate([np.cumsum(hi_s[::-1])[::-1], [0.0]])
    s2 = np.concatenate([[0.0], np.cumsum(lo_s**2)]) + np.concatenate(
        [np.cumsum((hi_s**2)[::-1])[::-1], [0.0]])
    var = np.maximum(s2 - s1 * s1 / g, 0.0) / (g - 1)
    return low_sd, float(np.sqrt(var.max()))


def _ref_boxes(est, pname: str, ok: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Max-t boxes of one partition, its own scales, SEs and critical values."""
    point, reps = est.point[pname], est.reps[pname]
    scale = scales(point, est.conf[pname])
    pt = {k: _ref_forward(scale[k], point[k]) for k in METRIC_NAMES}
    rt = {k: _ref_forward(scale[k], reps[k]) for k in METRIC_NAMES}
    se = {k: _ref_se(rt[k], scale[k].floor) for k in METRIC_NAMES}
    out = {}
    for keys in [*((k,) for k in METRIC_NAMES), ("tpr", "fpr")]:
        with np.errstate(invalid="ignore"):
            fams = [np.flatnonzero(ok & np.isfinite(pt[k]) & np.isfinite(se[k]) & (se[k] > 0)) for k in keys]
        c = _ref_max_t(np.concatenate([pt[k][f] for k, f in zip(keys, fams, strict=True)]),
                       np.concatenate([rt[k][:, f] for k, f in zip(keys, fams, strict=True)], axis=1),
                       np.concatenate([se[k][f] for k, f in zip(keys, fams, strict=True)]), LEVEL)
        alpha = sidak_alpha(sum(f.size for f in fams), LEVEL)
        for k, f in zip(keys, fams, strict=True):
            nan = np.full(ok.shape, np.nan)
            lo, hi = box(point[k], se[k], c, scale[k], alpha) if np.isfinite(c) else (nan, nan)
            out[k if len(keys) == 1 else f"tpr|fpr:{k}"] = (lo, hi, f)
    return out


# -- a many-group audit ------------------------------------------------------------------

def _many_group_audit(n: int = 2500, seed: int = 5):
    """Four attributes (one of a single value) with skewed group sizes: intersections, groups too
    small to judge, rates undefined in some replicates, families of one group."""
    rng = np.random.default_rng(seed)
    sizes = (1, 37, 3, 2)
    codes = np.stack([rng.choice(k, n, p=(w := rng.pareto(1.0, k) + 0.05) / w.sum()) for k in sizes], axis=1)
    labels = (rng.random(n) < 0.2 + 0.1 * (codes[:, 2] == 1)).astype(np.int64)
    scores = np.round(1 / (1 + np.exp(-(rng.standard_normal(n) + 1.4 * labels - 0.6))), 2)
    names = tuple(tuple(f"{a}{i}" for i in range(k)) for a, k in zip("oswx", sizes, strict=True))
    config = engine.AuditConfig(n_bootstrap=300, n_permutations=0, min_group_size=25, min_group_events=3)
    cells = build_cells(labels, scores, codes, config.threshold)
    parts = make_partitions(cells, ("one", "site", "ward", "sex"), names)
    est = engine.estimate_cells(cells, [overall_partition(cells.n_fine), *parts], config,
                                lambda stack, stacked: stacked["auc"], RowBootstrap(cells), None, None)
    return est, parts, engine.finish_audit(est, cells, parts, config), config


def _sufficient(m: dict[str, np.ndarray], config) -> np.ndarray:
    return ((m["_n"] >= config.min_group_size) & (m["_pos"] >= config.min_group_events)
            & (m["_neg"] >= config.min_group_events))


@pytest.fixture(scope="module")
def audit():
    return _many_group_audit()


def test_group_intervals_equal_the_partition_by_partition_ones(audit) -> None:
    est, parts, result, config = audit
    by = {(g.attribute, g.group): g for g in result.groups}
    checked = 0
    for p in parts:
        boxes = _ref_boxes(est, p.name, _sufficient(est.point[p.name], config))
        for key in METRIC_NAMES:
            reps = est.reps[p.name][key]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                lo_d, hi_d = np.nanquantile(reps, [ALPHA, 1.0 - ALPHA], axis=0)
            undefined = np.isnan(reps).mean(axis=0) > 0.1
            lo_s, hi_s, _fam = boxes[key]
            for gi, g in enumerate(p.groups):
                e = by[p.name, g].metrics[key]
                if e.value is None:
                    continue
                want = None if undefined[gi] else (float(lo_d[gi]), float(hi_d[gi]))
                assert e.ci == want, (p.name, g, key)
                sim = (float(lo_s[gi]), float(hi_s[gi])) if np.isfinite([lo_s[gi], hi_s[gi]]).all() else None
                # Shown whenever it exists, also when the percentile interval is omitted.
                assert e.simultaneous_ci == sim, (p.name, g, key)
                checked += e.simultaneous_ci is not None
    assert checked > 1000  # the comparison ran over many intervals, not a few


def test_summaries_and_criteria_equal_the_partition_by_partition_ones(audit) -> None:
    est, parts, result, config = audit
    summaries = {(s.attribute, s.metric): s for s in result.summaries}
    criteria = {(c.attribute, c.name): c for c in result.criteria}
    n_sd = n_eo = 0
    for p in parts:
        m = est.point[p.name]
        ok = _sufficient(m, config)
        boxes = _ref_boxes(est, p.name, ok)
        for metric in ("auc", "tpr", "fpr", "brier"):
            s = summaries[p.name, metric]
            kidx = np.flatnonzero(ok & np.isfinite(m[metric]))
            lo, hi, fam = boxes[metric]
            if kidx.size >= 2 and np.isin(kidx, fam).all():
                assert s.sd_ci == _ref_sd_interval(lo[kidx], hi[kidx])
                ser = ser_interval(lo[kidx], hi[kidx], metric in ("auc", "tpr"))
                assert s.ser_ci == (ser if s.ser is not None else None)
                n_sd += 1
        eo = criteria[p.name, "equalized_odds_difference"]
        if eo.status == "ok":
            terms = [range_interval(boxes[f"tpr|fpr:{r}"][0], boxes[f"tpr|fpr:{r}"][1]) for r in ("tpr", "fpr")]
            assert eo.ci == (max(t[0] for t in terms), max(t[1] for t in terms))
            n_eo += 1
    assert n_sd >= 8 and n_eo >= 2


def test_the_finaliser_works_once_per_metric_whatever_the_partitions(monkeypatch) -> None:
    """Display intervals and max-t statistics: one call per metric for all partitions (before:
    one per metric and partition, 31 x 13 with five attributes)."""
    calls = {"percentile_ci": 0, "max_t_statistics": 0}

    def spy(name, fn):
        def wrapped(*a, **kw):
            calls[name] += 1
            return fn(*a, **kw)
        return wrapped

    monkeypatch.setattr(engine, "percentile_ci", spy("percentile_ci", percentile_ci))
    monkeypatch.setattr(engine, "max_t_statistics", spy("max_t_statistics", max_t_statistics))
    est, parts, _result, _config = _many_group_audit(n=800, seed=2)
    assert len(parts) == 15
    assert calls == {"percentile_ci": len(METRIC_NAMES), "max_t_statistics": len(METRIC_NAMES)}


# -- the stacked building blocks against their per-call references ----------------------

def test_max_t_statistics_in_blocks_equal_family_by_family() -> None:
    """Blocks of three columns cut families, pack small ones together and keep one-group
    families alone: every SE and critical value has the per-family bits."""
    rng = np.random.default_rng(0)
    widths = np.array([1, 2, 5, 1, 7, 3, 1, 1, 4])
    starts = np.cumsum(np.r_[0, widths[:-1]])
    s, r = int(widths.sum()), 400
    n = rng.integers(5, 60, s).astype(float)
    point = rng.binomial(n.astype(int), 0.3) / n
    reps = rng.binomial(n.astype(int), point, (r, s)) / n
    reps[rng.random((r, s)) < 0.02] = np.nan
    eligible = rng.random(s) < 0.85
    scale = Scale(n, np.zeros(s), binomial=True)  # a proportion of n; no floor hides an SE
    for block in (3 * r, 4 * r, 1 << 18):
        stats = max_t_statistics(point, reps, scale, eligible, starts, block=block)
        c = critical_values(stats.maxima, stats.sizes, LEVEL)
        for i, (a, w) in enumerate(zip(starts, widths, strict=True)):
            sl, sub = slice(a, a + w), Scale(n[a:a + w], scale.floor[a:a + w], binomial=True)
            rt = _ref_forward(sub, reps[:, sl])
            se = _ref_se(rt, sub.floor)
            np.testing.assert_array_equal(stats.se[sl], se)
            pt = _ref_forward(sub, point[sl])
            fam = eligible[sl] & np.isfinite(pt) & (se > 0)
            assert stats.sizes[i] == fam.sum()
            want = _ref_max_t(pt[fam], rt[:, fam], se[fam], LEVEL)
            assert (c[i] == want) or (np.isnan(c[i]) and np.isnan(want))


def test_max_t_critical_equals_the_quantile_of_the_finite_maxima() -> None:
    rng = np.random.default_rng(1)
    for k in (1, 2, 9, 60):
        reps = rng.standard_normal((500, k))
        reps[rng.random(reps.shape) < 0.05] = np.nan
        se = np.abs(rng.standard_normal(k))
        se[rng.random(k) < 0.2] = 0.0  # infinite deviations are left out
        point = rng.standard_normal(k) * 0.1
        assert max_t_critical(point, reps, se, 0.9) == _ref_max_t(point, reps, se, 0.9)


def test_sd_intervals_equal_one_box_at_a_time() -> None:
    rng = np.random.default_rng(2)
    boxes = []
    for g in (1, 2, 2, 3, 8, 9, 17, 17, 130):
        lo = rng.random(g) * 0.6
        lo = np.round(lo, 1) if g % 2 else lo  # ties in the midpoints
        boxes.append((lo, lo + np.round(rng.random(g) * 0.4, 1)))
    got = sd_intervals(boxes)
    for (lo, hi), sd in zip(boxes, got, strict=True):
        np.testing.assert_array_equal(sd, _ref_sd_interval(lo, hi))
