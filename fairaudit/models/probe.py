"""Attribute-leakage probes: does a frozen latent encode a sensitive attribute?

A logistic regression (scikit-learn, standardised features) predicts the attribute from the
latent vectors with a patient-level split (stratified grouped k-fold: no patient is in both a
training and a test fold). Its AUC (macro one-vs-rest with more than two groups) is computed
within each test fold and averaged over the folds, with a patient-bootstrap interval; pooling
the folds' predictions instead would bias a null probe below 0.5, because each fold's intercept
learns the class mix of the other folds. The AUC says how well the latent *encodes* the attribute; it says
nothing about whether the model *uses* it. A control probe fits the same pipeline to the
attribute shuffled across patients: its interval should cover 0.5.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from fairaudit.metrics.weighted import weighted_auc

MIN_GROUP_ROWS = 10
"""Groups with fewer rows are left out of a probe (too few to fit or score)."""


@dataclass(frozen=True)
class ProbeScore:
    """Out-of-fold AUC of one probe with its percentile interval."""

    auc: float | None
    ci: tuple[float, float] | None
    groups: tuple[str, ...]
    n: int


def _oof_proba(x: np.ndarray, y: np.ndarray, patients: np.ndarray, folds: int,
               seed: int, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold class probabilities (n, k) and the test fold of each row."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k = int(y.max()) + 1
    out = np.zeros((y.size, k))
    fold = np.zeros(y.size, dtype=np.int64)
    split = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for f, (train, test) in enumerate(split.split(x, y, patients)):
        fold[test] = f
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=c))
        model.fit(x[train], y[train])
        out[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
    return out, fold


def _macro_auc(proba: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    k = proba.shape[1]
    if k == 2:
        return weighted_auc(proba[:, 1], y == 1, weights)
    with warnings.catch_warnings():  # a resample may lack a class: its AUC is NaN, skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean([weighted_auc(proba[:, j], y == j, weights) for j in range(k)], axis=0)


def _fold_auc(proba: np.ndarray, y: np.ndarray, fold: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over test folds of the within-fold macro AUC, for each row of ``weights``."""
    per_fold = [_macro_auc(proba[fold == f], y[fold == f], weights[:, fold == f])
                for f in np.unique(fold)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(per_fold, axis=0)


def _fit_score(x: np.ndarray, labels: np.ndarray, patients: np.ndarray, weights: np.ndarray,
               folds: int, seed: int, c: float) -> tuple[float | None, np.ndarray, tuple[str, ...], int]:
    """Point AUC, its bootstrap replicates, the groups kept and the rows used."""
    names, counts = np.unique(labels, return_counts=True)
    kept = names[counts >= MIN_GROUP_ROWS]
    rows = np.isin(labels, kept)
    if kept.size < 2:
        return None, np.empty(0), tuple(map(str, kept)), int(rows.sum())
    y = np.searchsorted(kept, labels[rows])
    n_folds = int(min(folds, np.unique(patients[rows]).size))
    proba, fold = _oof_proba(x[rows], y, patients[rows], n_folds, seed, c)
    point = float(_fold_auc(proba, y, fold, np.ones((1, y.size)))[0])
    reps = _fold_auc(proba, y, fold, weights[:, rows])
    return point, reps[np.isfinite(reps)], tuple(map(str, kept)), int(rows.sum())


def _interval(reps: np.ndarray, level: float) -> tuple[float, float] | None:
    alpha = (1 - level) / 2
    return (float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha))) if reps.size else None


def probe_auc(x: np.ndarray, labels: np.ndarray, patients: np.ndarray, weights: np.ndarray, *,
              folds: int = 5, seed: int = 0, level: float = 0.95, c: float = 1.0) -> ProbeScore:
    """Probe AUC of ``labels`` from ``x`` (within-fold, averaged over folds) with an interval.

    Parameters
    ----------
    x : ndarray (n, d)
    labels : ndarray of str (n,)
        Group of each row; groups with fewer than :data:`MIN_GROUP_ROWS` rows are dropped.
    patients : ndarray (n,)
        Patient of each row (folds and resampling are by patient).
    weights : ndarray (B, n)
        Row multiplicities of B patient-bootstrap resamples (the out-of-fold predictions are
        resampled; the probe is not refitted).
    folds, seed : int
        Stratified grouped k-fold split.
    c : float
        Inverse L2 regularisation strength of the logistic regression.
    """
    point, reps, groups, n = _fit_score(x, labels, patients, weights, folds, seed, c)
    return ProbeScore(point, _interval(reps, level) if point is not None else None, groups, n)


def control_probe(x: np.ndarray, labels: np.ndarray, patients: np.ndarray, weights: np.ndarray, *,
                  shuffles: int = 5, folds: int = 5, seed: int = 0, level: float = 0.95,
                  c: float = 1.0) -> ProbeScore:
    """The same probe on ``labels`` shuffled across patients, ``shuffles`` times.

    The AUC is the mean over the shuffles; the interval pools the bootstrap replicates of every
    shuffle, so it holds the refitting variation as well as the resampling (one shuffle's
    interval alone ignores that the probe itself was fitted to noise).
    """
    points, pooled = [], []
    groups: tuple[str, ...] = ()
    n = 0
    for k in range(shuffles):
        target = shuffled_by_patient(labels, patients, seed + 1 + k)
        point, reps, groups, n = _fit_score(x, target, patients, weights, folds, seed, c)
        if point is not None:
            points.append(point)
            pooled.append(reps)
    if not points:
        return ProbeScore(None, None, groups, n)
    return ProbeScore(float(np.mean(points)), _interval(np.concatenate(pooled), level), groups, n)


def shuffled_by_patient(labels: np.ndarray, patients: np.ndarray, seed: int) -> np.ndarray:
    """``labels`` permuted across patients (each patient's studies get another patient's
    label), the control probe's target."""
    ids, first, inverse = np.unique(patients, return_index=True, return_inverse=True)
    per_patient = labels[first]
    perm = np.random.default_rng(seed).permutation(ids.size)
    return per_patient[perm][inverse.ravel()]
