"""Undefined rates are null with a reason, and criteria that need them are insufficient."""

from __future__ import annotations

import numpy as np
import pandas as pd

import fairaudit


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    df = pd.DataFrame({
        "y": rng.integers(0, 2, n),
        "score": rng.random(n),
        "race": rng.choice(["A", "B"], n),
    })
    # Group C: 40 rows, no positives at all.
    c = pd.DataFrame({"y": 0, "score": rng.random(40), "race": "C"})
    # Group D: a single row.
    d = pd.DataFrame({"y": [1], "score": [0.9], "race": ["D"]})
    return pd.concat([df, c, d], ignore_index=True)


def test_group_without_positives_has_null_tpr_and_insufficient_criteria():
    res = fairaudit.audit(_frame(), label="y", sensitive="race", threshold=0.5,
                          n_bootstrap=100, n_permutations=100, min_group_size=0, min_group_events=0)
    c = res.group("race", "C")
    assert c.n_pos == 0
    for m in ("tpr", "fnr"):
        assert c.metrics[m].value is None
        assert c.metrics[m].ci is None
        assert "no positives" in c.metrics[m].reason
    assert c.metrics["auc"].value is None
    assert c.metrics["fpr"].value is not None  # FPR is defined without positives
    for name in ("equal_opportunity_difference", "equal_opportunity_ratio",
                 "equalized_odds_difference", "equalized_odds_ratio", "auc_difference"):
        crit = res.criterion("race", name)
        assert crit.status == "insufficient", name
        assert crit.value is None and crit.ci is None
        assert "'C'" in crit.reason or "'D'" in crit.reason
    # Demographic parity needs no positives: it stays defined.
    assert res.criterion("race", "demographic_parity_difference").status == "ok"


def test_default_rules_mark_small_groups_insufficient_and_list_them():
    res = fairaudit.audit(_frame(), label="y", sensitive="race", threshold=0.5,
                          n_bootstrap=100, n_permutations=100)
    assert res.group("race", "C").status == "insufficient"
    assert any("positives" in r for r in res.group("race", "C").reasons)
    d = res.group("race", "D")
    assert d.status == "insufficient" and d.n == 1
    assert any("n=1" in r for r in d.reasons)
    for crit in (c for c in res.criteria if c.attribute == "race"):
        assert crit.status == "insufficient"
        assert crit.value is None  # never a number that could read as a pass
        assert {e.group for e in crit.excluded_groups} == {"C", "D"}
        # The value over the sufficient groups alone is still given, labelled as such.
        assert crit.sufficient_groups_only is not None
    # Summaries are over sufficient groups only.
    assert res.summary("race", "auc").n_groups == 2


def test_single_row_group_metrics():
    res = fairaudit.audit(_frame(), label="y", sensitive="race", threshold=0.5,
                          n_bootstrap=0, n_permutations=0, min_group_size=0, min_group_events=0)
    d = res.group("race", "D").metrics
    assert d["tpr"].value == 1.0 and d["selection_rate"].value == 1.0
    assert d["fpr"].value is None and "no negatives" in d["fpr"].reason
    assert d["auc"].value is None and "one class" in d["auc"].reason


def test_all_one_class_labels_give_null_auc_with_reason():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": np.ones(200, int), "score": rng.random(200), "sex": rng.choice(["F", "M"], 200)})
    res = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=100, n_permutations=0)
    auc = res.overall.metrics["auc"]
    assert auc.value is None and "one class" in auc.reason
    assert res.overall.metrics["balanced_accuracy"].value is None
    assert res.overall.metrics["tpr"].value is not None
    assert res.criterion("sex", "auc_difference").status == "insufficient"
    assert res.criterion("sex", "equalized_odds_difference").status == "insufficient"


def test_only_one_group_is_insufficient():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.integers(0, 2, 100), "score": rng.random(100), "sex": "F"})
    res = fairaudit.audit(df, label="y", sensitive="sex", threshold=0.5, n_bootstrap=0, n_permutations=0)
    crit = res.criterion("sex", "demographic_parity_difference")
    assert crit.status == "insufficient" and "only one group" in crit.reason


def test_missing_demographics_form_an_explicit_unknown_group():
    rng = np.random.default_rng(0)
    n = 300
    race = rng.choice(["A", "B"], n).astype(object)
    race[:25] = None
    race[25:30] = ""
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "score": rng.random(n), "race": race})
    res = fairaudit.audit(df, label="y", sensitive="race", threshold=0.5, n_bootstrap=0, n_permutations=0)
    unknown = res.group("race", "unknown")
    assert unknown.n == 30
    assert sum(g.n for g in res.groups_of("race")) == n  # nothing dropped
    assert res.dataset.unknown_counts["race"] == 30
    assert any("unknown" in w for w in res.warnings)


def test_a_demographic_column_with_no_values_is_all_unknown():
    # An all-missing object column (e.g. from Parquet) once hit a read-only pandas view.
    df = _frame()
    df["site"] = pd.Series([None] * len(df), dtype=object)
    result = fairaudit.audit(df, label="y", score="score", sensitive=["race", "site"], threshold=0.5,
                             n_bootstrap=0, n_permutations=0)
    site = [g for g in result.groups if g.attribute == "site"]
    assert [g.group for g in site] == ["unknown"] and site[0].n == len(df)
    assert result.dataset.unknown_counts["site"] == len(df)
