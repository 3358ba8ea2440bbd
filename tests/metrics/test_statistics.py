"""Bootstrap intervals, small groups, permutation p-values and q-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairaudit
from fairaudit.metrics import AuditConfig, compute_audit
from fairaudit.metrics.bootstrap import ReplicateStreams, RowBootstrap, replicate_chunks
from fairaudit.metrics.cells import build_cells, overall_partition
from fairaudit.metrics.rates import group_metrics
from fairaudit.metrics.significance import benjamini_hochberg
from tests.conftest import make_predictions


def _simulate(rng: np.random.Generator, n_pos: int, tpr: float, n_neg: int = 300, fpr: float = 0.1):
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    hit = np.r_[rng.random(n_pos) < tpr, rng.random(n_neg) < fpr]
    score = np.where(hit, rng.uniform(0.5, 1.0, y.size), rng.uniform(0.0, 0.5, y.size))
    return y, score


def test_tpr_intervals_cover_the_true_value_about_95_percent():
    rng = np.random.default_rng(2024)
    true_tpr, sims, covered = 0.8, 300, 0
    cfg = AuditConfig(n_bootstrap=300, n_permutations=0, intersections=False, seed=1)
    for i in range(sims):
        y, score = _simulate(rng, 150, true_tpr)
        codes = np.zeros((y.size, 1), np.int32)
        parts = compute_audit(y, score, codes, (("all",),), ("g",),
                              AuditConfig(**{**cfg.__dict__, "seed": i}))
        lo, hi = parts.groups[0].metrics["tpr"].ci
        covered += lo <= true_tpr <= hi
    coverage = covered / sims
    # Binomial SD of the coverage estimate is about 0.013 at 95 %.
    assert 0.91 <= coverage <= 0.985, coverage


def test_median_of_replicates_is_close_to_the_point_estimate():
    df = make_predictions(5, n=3000)
    y, s = df.y.to_numpy(), df.score.to_numpy()
    cells = build_cells(y, s, np.zeros((len(df), 1), np.int32), 0.5)
    part = overall_partition(cells.n_fine)
    point = group_metrics(cells.count, cells.ssum, cells.ssq, cells, part)
    reps = [group_metrics(c, a, b, cells, part)
            for c, a, b in replicate_chunks(RowBootstrap(cells), cells, 400, ReplicateStreams(0))]
    for key in ("tpr", "fpr", "ppv", "accuracy", "brier", "ece", "auc"):
        med = np.median(np.concatenate([r[key][:, 0] for r in reps]))
        assert med == pytest.approx(point[key][0], abs=0.01), key


def test_auc_intervals_are_centred_on_the_exact_auc():
    df = make_predictions(6, n=3000)
    res = fairaudit.audit(df, label="y", sensitive="race", threshold=0.5, n_bootstrap=300,
                          n_permutations=0)
    for g in res.groups_of("race"):
        auc = g.metrics["auc"]
        assert auc.ci[0] <= auc.value <= auc.ci[1]


def test_small_group_without_positives_in_replicates_does_not_crash_or_read_as_zero():
    rng = np.random.default_rng(3)
    big_y, big_s = _simulate(rng, 400, 0.8, 600)
    small_y = np.r_[np.ones(2, int), np.zeros(20, int)]
    small_s = rng.random(22)
    df = pd.DataFrame({"y": np.r_[big_y, small_y], "score": np.r_[big_s, small_s],
                       "g": ["big"] * big_y.size + ["small"] * 22})
    res = fairaudit.audit(df, label="y", sensitive="g", threshold=0.5, n_bootstrap=500,
                          n_permutations=100, min_group_events=0, min_group_size=0)
    tpr = res.group("g", "small").metrics["tpr"]
    # With 2 positives, about 1 replicate in 8 has none: the interval is omitted, not faked.
    assert tpr.ci is None and "undefined in" in tpr.reason
    crit = res.criterion("g", "equal_opportunity_difference")
    assert crit.ci is None or crit.ci[0] > 0 or crit.ci[1] > 0
    default = fairaudit.audit(df, label="y", sensitive="g", threshold=0.5, n_bootstrap=200, n_permutations=0)
    assert default.group("g", "small").status == "insufficient"
    assert default.criterion("g", "equal_opportunity_difference").status == "insufficient"
    assert default.criterion("g", "equal_opportunity_difference").value is None


def test_cluster_bootstrap_is_wider_when_studies_of_a_patient_are_correlated():
    rng = np.random.default_rng(8)
    patients, per = 300, 5
    pid = np.repeat(np.arange(patients), per)
    y = np.ones(patients * per, int)
    # A patient is either reliably detected or reliably missed: strong within-patient correlation.
    detect = np.repeat(rng.random(patients) < 0.7, per)
    score = np.where(detect, 0.8, 0.2) + rng.uniform(-0.05, 0.05, y.size)
    neg = rng.random(patients * per) * 0.4
    df = pd.DataFrame({
        "y": np.r_[y, np.zeros_like(y)], "score": np.r_[score, neg],
        "pid": np.r_[pid, pid + patients], "sex": rng.choice(["F", "M"], 2 * y.size),
    })
    row = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=400, n_permutations=0)
    clu = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=400,
                          n_permutations=0, cluster="pid")
    w_row = np.diff(row.overall.metrics["tpr"].ci)[0]
    w_clu = np.diff(clu.overall.metrics["tpr"].ci)[0]
    assert w_clu > 1.6 * w_row  # design effect sqrt(1 + (5 - 1) * 1) ~ 2.2
    assert clu.run.bootstrap_unit == "patient (pid)"
    assert clu.dataset.n_clusters == 2 * patients


def test_duplicating_every_row_narrows_intervals():
    df = make_predictions(9, n=2000)
    one = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=300, n_permutations=0)
    two = fairaudit.audit(pd.concat([df, df]), label="y", sensitive="sex", threshold=0.5,
                          n_bootstrap=300, n_permutations=0)
    for key in ("tpr", "fpr", "auc", "accuracy"):
        w1 = np.diff(one.overall.metrics[key].ci)[0]
        w2 = np.diff(two.overall.metrics[key].ci)[0]
        assert w2 < 0.85 * w1, key
        assert two.overall.metrics[key].value == pytest.approx(one.overall.metrics[key].value, abs=1e-12)
    c1 = one.criterion("sex", "equalized_odds_difference").ci
    c2 = two.criterion("sex", "equalized_odds_difference").ci
    assert c2[1] - c2[0] < c1[1] - c1[0]


def _numbers(result, rename: dict[str, str] | None = None) -> dict:
    rename = rename or {}
    out = {}
    for g in result.groups:
        name = " & ".join(rename.get(x, x) for x in g.group.split(" & "))
        for k, e in g.metrics.items():
            out[(g.attribute, name, k)] = (e.value, e.ci)
    for c in result.criteria:
        out[(c.attribute, c.name)] = (c.value, c.ci, c.p_value, c.q_value)
    return out


def _close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        fa = np.array([np.nan if v is None else v for v in _flat(a[k])], dtype=float)
        fb = np.array([np.nan if v is None else v for v in _flat(b[k])], dtype=float)
        np.testing.assert_allclose(fa, fb, atol=1e-9, equal_nan=True, err_msg=str(k))


def _flat(t):
    for v in t:
        if isinstance(v, tuple):
            yield from v
        elif v is None:
            yield None
        else:
            yield v


frames = st.integers(0, 10_000).map(lambda seed: make_predictions(seed, n=400, tied=seed % 2 == 0))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames, st.integers(0, 1000))
def test_row_order_does_not_change_any_number(df, perm_seed):
    kw = dict(label="y", sensitive=["sex", "race"], threshold=0.5, n_bootstrap=100, n_permutations=100)
    a = fairaudit.audit(df, **kw)
    shuffled = df.sample(frac=1.0, random_state=perm_seed).reset_index(drop=True)
    b = fairaudit.audit(shuffled, **kw)
    _close(_numbers(a), _numbers(b))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_renaming_groups_does_not_change_any_number(df):
    mapping = {"White": "grp-z", "Black": "grp-a", "Asian": "grp-m", "Mixed": "grp-b", "F": "w", "M": "a"}
    kw = dict(label="y", sensitive=["sex", "race"], threshold=0.5, n_bootstrap=100, n_permutations=100)
    a = fairaudit.audit(df, **kw)
    renamed = df.assign(sex=df.sex.map(mapping), race=df.race.map(mapping))
    b = fairaudit.audit(renamed, **kw)
    _close(_numbers(a, mapping), _numbers(b))


def test_permutation_p_values_are_calibrated_under_the_null_and_small_under_disparity():
    rng = np.random.default_rng(12)
    small = 0
    for i in range(60):
        y, s = _simulate(rng, 200, 0.8, 400)
        df = pd.DataFrame({"y": y, "score": s, "g": rng.choice(["a", "b", "c"], y.size)})
        r = fairaudit.audit(df, label="y", sensitive="g", threshold=0.5, n_bootstrap=0,
                            n_permutations=200, seed=i)
        small += r.criterion("g", "equal_opportunity_difference").p_value < 0.05
    assert small <= 9  # about 3 expected out of 60
    y1, s1 = _simulate(rng, 300, 0.9, 300)
    y2, s2 = _simulate(rng, 300, 0.6, 300)
    df = pd.DataFrame({"y": np.r_[y1, y2], "score": np.r_[s1, s2], "g": ["a"] * 600 + ["b"] * 600})
    r = fairaudit.audit(df, label="y", sensitive="g", threshold=0.5, n_bootstrap=200, n_permutations=500)
    assert r.criterion("g", "equal_opportunity_difference").p_value < 0.01
    assert r.criterion("g", "equalized_odds_difference").q_value < 0.05


def test_benjamini_hochberg_matches_scipy():
    from scipy.stats import false_discovery_control

    p = np.random.default_rng(0).random(40) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p), atol=1e-12)
    assert benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005])).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_q_values_cover_every_criterion_with_a_p_value():
    res = fairaudit.audit(make_predictions(4), label="y", sensitive=["sex", "race"], threshold=0.5,
                          n_bootstrap=100, n_permutations=100)
    with_p = [c for c in res.criteria if c.p_value is not None]
    assert with_p and all(c.q_value is not None and c.q_value >= c.p_value for c in with_p)
    assert {c.attribute for c in with_p} >= {"sex", "race"}


def test_bootstrap_zero_gives_no_intervals():
    res = fairaudit.audit(make_predictions(1), label="y", sensitive="sex", threshold=0.5,
                          n_bootstrap=0, n_permutations=0)
    assert all(e.ci is None for g in res.groups for e in g.metrics.values())
    assert all(c.ci is None and c.p_value is None for c in res.criteria)


def test_confidence_level_changes_interval_width():
    df = make_predictions(2)
    r90 = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=300,
                          n_permutations=0, confidence_level=0.8)
    r99 = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=300,
                          n_permutations=0, confidence_level=0.99)
    w = lambda r: np.diff(r.overall.metrics["tpr"].ci)[0]  # noqa: E731
    assert w(r99) > w(r90)
