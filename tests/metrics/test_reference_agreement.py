"""Every per-group metric and criterion agrees with fairlearn, aif360 and scikit-learn."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

import fairaudit
from tests.conftest import make_predictions

TOL = 1e-9


def _audit(df: pd.DataFrame, sensitive, threshold: float = 0.5):
    return fairaudit.audit(df, label="y", sensitive=sensitive, threshold=threshold,
                           n_bootstrap=0, n_permutations=0, min_group_size=0, min_group_events=0)


def _keys(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    parts = [df[c].astype(str) for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = out + " & " + p
    return out


CASES = [
    (0, ["sex"], 0.5),
    (1, ["race"], 0.4),
    (2, ["site"], 0.5),  # integer group column
    (3, ["age"], 0.6),  # categorical group column
    (4, ["sex", "race"], 0.5),
    (5, ["race", "site", "age"], 0.45),
]


@pytest.mark.parametrize(("seed", "cols", "thr"), CASES)
def test_group_metrics_agree_with_fairlearn_metricframe(seed, cols, thr):
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_score

    df = make_predictions(seed)
    result = _audit(df, cols, thr)
    y_pred = (df.score >= thr).astype(int)
    mf = MetricFrame(
        metrics={
            "tpr": true_positive_rate, "fpr": false_positive_rate, "tnr": true_negative_rate,
            "fnr": false_negative_rate, "selection_rate": selection_rate,
            "accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score,
            "ppv": lambda a, b: precision_score(a, b, zero_division=np.nan),
        },
        y_true=df.y, y_pred=y_pred, sensitive_features=df[cols],
    )
    attribute = " & ".join(cols)
    by_group = mf.by_group
    for key, row in by_group.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        name = " & ".join(str(k) for k in key)
        g = result.group(attribute, name)
        for metric in ("tpr", "fpr", "tnr", "fnr", "selection_rate", "accuracy", "balanced_accuracy", "ppv"):
            assert g.metrics[metric].value == pytest.approx(row[metric], abs=TOL), (name, metric)
    for metric in ("tpr", "fpr", "selection_rate", "accuracy"):
        assert result.overall.metrics[metric].value == pytest.approx(mf.overall[metric], abs=TOL)


@pytest.mark.parametrize(("seed", "cols", "thr"), CASES)
def test_six_criteria_agree_with_fairlearn(seed, cols, thr):
    from fairlearn import metrics as flm

    df = make_predictions(seed)
    result = _audit(df, cols, thr)
    y_pred = (df.score >= thr).astype(int)
    attribute = " & ".join(cols)
    sf = df[cols]
    for name in (
        "demographic_parity_difference", "demographic_parity_ratio",
        "equal_opportunity_difference", "equal_opportunity_ratio",
        "equalized_odds_difference", "equalized_odds_ratio",
    ):
        expected = getattr(flm, name)(df.y, y_pred, sensitive_features=sf)
        crit = result.criterion(attribute, name)
        assert crit.status == "ok"
        assert crit.value == pytest.approx(expected, abs=TOL), name


@pytest.mark.parametrize("seed", [0, 7])
def test_rates_agree_with_aif360_classification_metric(seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        from aif360.datasets import BinaryLabelDataset
        from aif360.metrics import ClassificationMetric
        logging.disable(logging.NOTSET)

    df = make_predictions(seed)
    thr = 0.5
    codes, names = pd.factorize(df.race, sort=True)
    base = pd.DataFrame({"y": df.y.astype(float), "race": codes.astype(float)})
    truth = BinaryLabelDataset(df=base, label_names=["y"], protected_attribute_names=["race"])
    pred_df = base.assign(y=(df.score >= thr).astype(float))
    pred = BinaryLabelDataset(df=pred_df, label_names=["y"], protected_attribute_names=["race"])
    result = _audit(df, ["race"], thr)
    for code, name in enumerate(names):
        cm = ClassificationMetric(truth, pred, unprivileged_groups=[{"race": (code + 1) % len(names)}],
                                  privileged_groups=[{"race": code}])
        g = result.group("race", name).metrics
        assert g["tpr"].value == pytest.approx(cm.true_positive_rate(privileged=True), abs=TOL)
        assert g["fpr"].value == pytest.approx(cm.false_positive_rate(privileged=True), abs=TOL)
        assert g["tnr"].value == pytest.approx(cm.true_negative_rate(privileged=True), abs=TOL)
        assert g["fnr"].value == pytest.approx(cm.false_negative_rate(privileged=True), abs=TOL)
        assert g["ppv"].value == pytest.approx(cm.positive_predictive_value(privileged=True), abs=TOL)
        assert g["npv"].value == pytest.approx(cm.negative_predictive_value(privileged=True), abs=TOL)
        assert g["selection_rate"].value == pytest.approx(cm.selection_rate(privileged=True), abs=TOL)
        assert g["accuracy"].value == pytest.approx(cm.accuracy(privileged=True), abs=TOL)
        assert g["prevalence"].value == pytest.approx(cm.base_rate(privileged=True), abs=TOL)


@pytest.mark.parametrize("tied", [False, True])
def test_auc_brier_ece_agree_with_sklearn_and_definition(tied):
    df = make_predictions(3, tied=tied)
    result = _audit(df, ["race"])
    edges = np.linspace(0, 1, 11)
    for name, sub in df.groupby("race"):
        g = result.group("race", name).metrics
        assert g["auc"].value == pytest.approx(roc_auc_score(sub.y, sub.score), abs=TOL)
        assert g["brier"].value == pytest.approx(brier_score_loss(sub.y, sub.score), abs=TOL)
        b = np.clip(np.searchsorted(edges, sub.score.to_numpy(), side="right") - 1, 0, 9)
        ece = sum(abs(sub.y.to_numpy()[b == k].sum() - sub.score.to_numpy()[b == k].sum())
                  for k in range(10)) / len(sub)
        assert g["ece"].value == pytest.approx(ece, abs=TOL)
    assert result.overall.metrics["auc"].value == pytest.approx(roc_auc_score(df.y, df.score), abs=TOL)
    assert result.criterion("race", "auc_difference").value == pytest.approx(
        np.ptp([roc_auc_score(s.y, s.score) for _, s in df.groupby("race")]), abs=TOL)


def test_summaries_sd_and_skewed_error_ratio():
    df = make_predictions(2)
    result = _audit(df, ["race"])
    aucs = np.array([roc_auc_score(s.y, s.score) for _, s in df.groupby("race")])
    s = result.summary("race", "auc")
    assert s.sd == pytest.approx(np.std(aucs, ddof=1), abs=TOL)
    assert s.ser == pytest.approx((1 - aucs).max() / (1 - aucs).min(), abs=TOL)
    assert s.min == pytest.approx(aucs.min(), abs=TOL)
    assert s.worst_group == sorted(df.race.unique())[int(np.argmin(aucs))]
    fnr = result.summary("race", "fnr")  # lower is better: error is the FNR itself
    vals = [g.metrics["fnr"].value for g in result.groups_of("race")]
    assert fnr.ser == pytest.approx(max(vals) / min(vals), abs=TOL)
    assert fnr.worst_group == result.groups_of("race")[int(np.argmax(vals))].group


def test_every_intersection_is_audited():
    df = make_predictions(1)
    result = _audit(df, ["sex", "race", "site"])
    assert result.dataset.intersections == ("sex & race", "sex & site", "race & site", "sex & race & site")
    sizes = df.groupby(["sex", "race"]).size()
    for (sx, rc), n in sizes.items():
        assert result.group("sex & race", f"{sx} & {rc}").n == n
