"""The paired engine: exact point changes, paired intervals, DeLong, sufficiency, clusters."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.errors import ConfigError
from fairaudit.metrics.delong import delong_paired, placements
from fairaudit.metrics.paired import paired_changes
from fairaudit.result_paired import PairedResult


def _data(n=1200, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["A", "B", "C"], n)
    a = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    b = np.clip(a + rng.normal(0, noise, n), 0, 1)
    return y, a, b, {"sex": sex, "race": race}


def _run(y, a, b, groups, **kw):
    kw.setdefault("n_bootstrap", 200)
    return paired_changes(y, {"A": a, "B": b}, {"A": 0.5, "B": 0.5}, groups, reference="A", **kw)


# ---------------------------------------------------------------------------------------------
# Independent reference implementations (written from the formulas, loops and pair matrices)
# ---------------------------------------------------------------------------------------------


def _delong_reference(y, s1, s2):
    """DeLong et al. (1988) for two correlated ROC curves, in Sun & Xu's (2014) notation:
    psi(X, Y) = 1 if X > Y, 1/2 if X == Y, 0 otherwise; V10 and V01 the structural
    components; S10, S01 their 2x2 sample covariance matrices; Var(A2 - A1) = c' (S10/m +
    S01/n) c with c = (-1, 1)."""
    x_idx, y_idx = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = x_idx.size, y_idx.size
    v10 = np.zeros((2, m))
    v01 = np.zeros((2, n))
    aucs = []
    for r, s in enumerate((s1, s2)):
        psi = np.zeros((m, n))
        for i, xi in enumerate(s[x_idx]):
            for j, yj in enumerate(s[y_idx]):
                psi[i, j] = 1.0 if xi > yj else (0.5 if xi == yj else 0.0)
        aucs.append(psi.mean())
        v10[r] = psi.mean(axis=1)
        v01[r] = psi.mean(axis=0)
    s10 = np.cov(v10)
    s01 = np.cov(v01)
    c = np.array([-1.0, 1.0])
    var = c @ (s10 / m + s01 / n) @ c
    from scipy.stats import norm

    delta = aucs[1] - aucs[0]
    with np.errstate(invalid="ignore", divide="ignore"):  # identical curves: 0 / 0
        z = delta / np.sqrt(var)
    return delta, np.sqrt(var), 2 * norm.sf(abs(z)), aucs


def test_delong_matches_an_independent_implementation_with_ties():
    rng = np.random.default_rng(3)
    n = 90
    y = rng.integers(0, 2, n)
    s1 = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), 1)  # many ties
    s2 = np.round(np.clip(s1 + rng.normal(0, 0.15, n), 0, 1), 2)
    delta, se, p = delong_paired(y, s1, s2)
    ref_delta, ref_se, ref_p, aucs = _delong_reference(y, s1, s2)
    assert delta[0] == pytest.approx(ref_delta, abs=1e-12)
    assert se[0] == pytest.approx(ref_se, rel=1e-10)
    assert p[0] == pytest.approx(ref_p, rel=1e-9)
    # Placements average to the AUC (Mann-Whitney with ties 1/2).
    v = placements(y, s1, np.zeros(n, np.int64), 1)
    assert v[y == 1].mean() == pytest.approx(aucs[0], abs=1e-12)
    assert v[y == 0].mean() == pytest.approx(aucs[0], abs=1e-12)


def test_delong_per_group_equals_delong_on_each_group_alone():
    rng = np.random.default_rng(4)
    n = 150
    y = rng.integers(0, 2, n)
    gid = rng.integers(0, 3, n)
    s1 = rng.random(n) * 0.6 + 0.4 * y
    s2 = np.clip(s1 + rng.normal(0, 0.2, n), 0, 1)
    delta, se, p = delong_paired(y, s1, s2, gid, 3)
    for g in range(3):
        rows = gid == g
        ref = _delong_reference(y[rows], s1[rows], s2[rows])
        assert (delta[g], se[g], p[g]) == pytest.approx(ref[:3], rel=1e-9)


def test_engine_auc_p_values_are_delong_and_point_values_exact():
    y, a, b, groups = _data(n=400, seed=5, noise=0.1)
    r = _run(y, a, b, groups, n_bootstrap=0)
    for g in ("F", "M"):
        rows = groups["sex"] == g
        ref_delta, _, ref_p, aucs = _delong_reference(y[rows], a[rows], b[rows])
        ch = r.change("B", "sex", g, "auc")
        assert ch.p_method == "DeLong"
        assert ch.reference_value == pytest.approx(aucs[0], abs=1e-12)
        assert ch.change == pytest.approx(ref_delta, abs=1e-12)
        assert ch.p_value == pytest.approx(ref_p, rel=1e-9)
        assert ch.ci is None  # no replicates asked for


def test_point_values_match_direct_formulas():
    y, a, b, groups = _data(n=500, seed=6)
    thr_b = np.where(groups["sex"] == "F", 0.45, 0.55)  # per-row thresholds
    r = paired_changes(y, {"A": a, "B": b}, {"A": 0.5, "B": thr_b}, groups, reference="A",
                       n_bootstrap=0)
    for g in ("A", "B", "C"):
        rows = groups["race"] == g
        yy, s, d = y[rows], b[rows], b[rows] >= thr_b[rows]
        expect = {
            "tpr": d[yy == 1].mean(), "fpr": d[yy == 0].mean(), "ppv": yy[d].mean(),
            "npv": 1 - yy[~d].mean(), "accuracy": (d == yy).mean(),
            "balanced_accuracy": (d[yy == 1].mean() + 1 - d[yy == 0].mean()) / 2,
            "selection_rate": d.mean(), "brier": ((s - yy) ** 2).mean(),
        }
        bins = np.clip(np.floor(s * 10).astype(int), 0, 9)
        expect["ece"] = sum(abs(yy[bins == k].sum() - s[bins == k].sum()) for k in range(10)) / yy.size
        for m, v in expect.items():
            assert r.change("B", "race", g, m).value == pytest.approx(v, abs=1e-12), m


# ---------------------------------------------------------------------------------------------
# Pairing, intervals, sufficiency
# ---------------------------------------------------------------------------------------------


def test_identical_conditions_give_zero_change_and_zero_width_intervals():
    y, a, _, groups = _data(n=600, seed=1)
    r = _run(y, a, a.copy(), groups)
    for c in r.changes:
        if c.change is None:
            continue
        assert c.change == 0.0
        assert c.ci == (0.0, 0.0), (c.attribute, c.group, c.metric)
        if c.sufficient and c.attribute != "overall":
            assert c.simultaneous_ci == (0.0, 0.0)
        assert c.p_value == 1.0
    for c in r.criterion_changes:
        assert c.change == 0.0 and c.ci == (0.0, 0.0)


def test_paired_intervals_are_narrower_than_unpaired_on_correlated_predictions():
    """Seeded simulation: the candidate's scores are the deployed model's plus small noise.
    The unpaired interval resamples each model's test rows independently."""
    y, a, b, groups = _data(n=800, seed=2, noise=0.03)
    r = _run(y, a, b, groups, n_bootstrap=400)
    rng = np.random.default_rng(11)
    n = y.size
    ratios = []
    for g in ("F", "M"):
        rows = np.flatnonzero(groups["sex"] == g)
        diffs = []
        for _ in range(400):
            ia, ib = rng.choice(rows, rows.size), rng.choice(rows, rows.size)
            ta = (a[ia] >= 0.5)[y[ia] == 1].mean()
            tb = (b[ib] >= 0.5)[y[ib] == 1].mean()
            diffs.append(tb - ta)
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        ci = r.change("B", "sex", g, "tpr").ci
        ratios.append((ci[1] - ci[0]) / (hi - lo))
    assert n == 800
    assert max(ratios) < 0.5, ratios


def test_candidate_lowering_one_groups_sensitivity_is_detected_for_that_group_only():
    y, a, _, groups = _data(n=3000, seed=7)
    b = a.copy()
    hit = (groups["sex"] == "F") & (y == 1) & (a >= 0.5)
    b[hit & (np.random.default_rng(0).random(y.size) < 0.3)] = 0.2
    r = _run(y, a, b, groups, n_bootstrap=300)
    f, m = r.change("B", "sex", "F", "tpr"), r.change("B", "sex", "M", "tpr")
    assert f.simultaneous_ci[1] < 0 and f.ci[1] < 0 and f.p_value < 0.01
    assert m.change == 0.0 and m.simultaneous_ci == (0.0, 0.0)
    eo = r.criterion_change("B", "sex", "equal_opportunity_difference")
    assert eo.change > 0


def test_simultaneous_intervals_contain_the_marginal_ones_and_are_wider_somewhere():
    y, a, b, groups = _data(n=1500, seed=8, noise=0.1)
    r = _run(y, a, b, groups, n_bootstrap=300)
    wider = 0
    for c in r.changes:
        if c.attribute == "sex & race" and c.sufficient and c.ci is not None:
            assert c.simultaneous_ci[0] <= c.ci[0] + 1e-12 and c.simultaneous_ci[1] >= c.ci[1] - 1e-12
            wider += (c.simultaneous_ci[1] - c.simultaneous_ci[0]) > (c.ci[1] - c.ci[0]) + 1e-9
    assert wider > 0


def test_insufficient_group_is_flagged_and_left_out_of_criteria():
    y, a, b, groups = _data(n=600, seed=9)
    race = groups["race"].astype(object)
    race[:12] = "tiny"
    r = _run(y, a, b, {"race": race}, n_bootstrap=100)
    tiny = r.change("B", "race", "tiny", "tpr")
    assert not tiny.sufficient and "minimum group size 30" in tiny.reason
    assert tiny.simultaneous_ci is None
    dp = r.criterion_change("B", "race", "demographic_parity_difference")
    assert not dp.complete and dp.excluded_groups == ("tiny",)
    assert r.groups["race"] == ("A", "B", "C", "tiny")


def test_patient_bootstrap_of_duplicated_rows_equals_row_bootstrap_of_the_originals():
    """Each patient contributes two identical rows: resampling patients is then exactly
    resampling the original rows (same multinomial draw), so every interval agrees."""
    y, a, b, groups = _data(n=300, seed=10)
    rows = _run(y, a, b, groups, n_bootstrap=100, seed=4)
    dup = {k: np.concatenate([v, v]) for k, v in groups.items()}
    pat = paired_changes(
        np.concatenate([y, y]), {"A": np.concatenate([a, a]), "B": np.concatenate([b, b])},
        {"A": 0.5, "B": 0.5}, dup, reference="A", n_bootstrap=100, seed=4,
        clusters=np.concatenate([np.arange(300), np.arange(300)]), min_group_size=60,
        min_group_events=20,
    )
    assert pat.unit == "patient" and pat.n_units == 300
    for c in rows.changes:
        d = pat.change(c.condition, c.attribute, c.group, c.metric)
        assert d.change == pytest.approx(c.change, abs=1e-12, nan_ok=True) if c.change is not None else d.change is None
        if c.ci is not None:
            assert d.ci == pytest.approx(c.ci, abs=1e-12)
        if c.metric == "auc":
            assert d.p_method == "paired bootstrap"  # DeLong assumes independent rows


def test_deterministic_per_seed_and_round_trips_through_dict():
    y, a, b, groups = _data(n=300, seed=12)
    r1 = _run(y, a, b, groups, n_bootstrap=50, seed=3)
    r2 = _run(y, a, b, groups, n_bootstrap=50, seed=3)
    r3 = _run(y, a, b, groups, n_bootstrap=50, seed=4)
    assert r1 == r2
    assert r1.change("B", "sex", "F", "tpr").ci != r3.change("B", "sex", "F", "tpr").ci
    assert PairedResult.from_dict(r1.to_dict()) == r1


def test_progress_callback_reports_every_chunk():
    y, a, b, groups = _data(n=200, seed=13)
    seen = []
    _run(y, a, b, groups, n_bootstrap=70, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (70, 70) and all(t == 70 for _, t in seen)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": "Z"}, "reference 'Z'"),
        ({"labels": np.array([0, 2, 1])}, "labels must be 0 or 1"),
        ({"scores": {"A": np.array([0.1, 0.2, 1.5]), "B": np.zeros(3)}}, "scores['A']"),
        ({"scores": {"A": np.zeros(3), "B": np.zeros(4)}}, "scores['B'] has shape"),
        ({"thresholds": {"A": 0.5}}, "thresholds has no entry for condition 'B'"),
        ({"groups": {"sex": np.array(["F"])}}, "groups['sex']"),
        ({"metrics": ("tpr", "sensitivity")}, "unknown metric(s) sensitivity"),
        ({"confidence_level": 1.5}, "confidence_level"),
    ],
)
def test_bad_inputs_name_the_parameter(kwargs, message):
    base = {"labels": np.array([0, 1, 1]), "scores": {"A": np.zeros(3), "B": np.ones(3)},
            "thresholds": {"A": 0.5, "B": 0.5}, "groups": {}, "reference": "A"}
    base.update(kwargs)
    with pytest.raises(ConfigError, match=None) as err:
        paired_changes(base.pop("labels"), base.pop("scores"), base.pop("thresholds"),
                       base.pop("groups"), **base)
    assert message in str(err.value)


def test_engine_auc_with_ties_and_its_replicates_match_the_pairwise_definition():
    """Point AUCs with tied scores equal the pairwise (Mann-Whitney) definition, and a replicate
    equals the AUC of the rows repeated by their bootstrap multiplicities."""
    from fairaudit.metrics import paired as engine

    rng = np.random.default_rng(14)
    n = 300
    y = rng.integers(0, 2, n)
    grp = rng.choice(["a", "b"], n)
    s = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), 1)
    r = paired_changes(y, {"A": s, "B": s[::-1].copy()}, {"A": 0.5, "B": 0.5}, {"g": grp},
                       reference="A", n_bootstrap=0)
    for g in ("a", "b"):
        rows = grp == g
        assert r.change("B", "g", g, "auc").reference_value == pytest.approx(
            _delong_reference(y[rows], s[rows], s[rows])[3][0], abs=1e-12)
    lay = engine._layout({"g": grp}, n, True)
    cond = engine._condition(s, np.full(n, 0.5), lay)
    w = np.random.default_rng(1).multinomial(n, np.full(n, 1 / n), size=3).astype(float)
    got = engine._weighted_auc(np.ascontiguousarray(w.T), y.astype(float), cond)
    for k in range(3):
        rep = np.repeat(np.arange(n), w[k].astype(int))
        col = lay.columns(1)[0]  # group "a"
        rows = rep[grp[rep] == "a"]
        assert got[k, col] == pytest.approx(_delong_reference(y[rows], s[rows], s[rows])[3][0], abs=1e-12)
