"""Validation scores of the multimodal model: AUC, selection scores, the decision threshold.

:func:`roc_auc` is the Mann-Whitney AUC; :func:`overall_auc` and :func:`worst_group_auc` are
selection scores for :func:`fairaudit.models.training.fit_classifier`; :func:`youden_threshold`
chooses the decision threshold and :func:`validation_summary` applies it to a trained model and
summarises the validation split.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import InputError
from fairaudit.metrics import weighted

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.models.multimodal import MultimodalPredictor

SelectionScore = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], float]
THRESHOLD_RULE = "Youden J (max sensitivity + specificity - 1) on the validation split"


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted 1/2; NaN when a class is absent.

    The one AUC of the package (:func:`fairaudit.metrics.weighted.auc`).
    """
    return weighted.auc(scores, labels)


def overall_auc(scores: np.ndarray, labels: np.ndarray, group_ids: np.ndarray | None = None) -> float:
    """Validation AUC over all rows (the default selection score)."""
    return roc_auc(scores, labels)


def worst_group_auc(scores: np.ndarray, labels: np.ndarray, group_ids: np.ndarray | None = None) -> float:
    """The lowest AUC over groups that have both classes (overall AUC if no groups are given)."""
    if group_ids is None:
        return roc_auc(scores, labels)
    aucs = [roc_auc(scores[group_ids == g], labels[group_ids == g]) for g in np.unique(group_ids)]
    finite = [a for a in aucs if math.isfinite(a)]
    return min(finite) if finite else float("nan")


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut maximising sensitivity + specificity - 1 (positive when ``score >= threshold``).

    The threshold is placed midway between the chosen score and the next lower distinct score;
    among equal J values the highest threshold wins.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise InputError("the validation split needs both positive and negative studies to choose a threshold.")
    cuts = np.unique(scores)[::-1]
    pos = np.sort(scores[labels])
    neg = np.sort(scores[~labels])
    tpr = 1.0 - np.searchsorted(pos, cuts, side="left") / pos.size
    fpr = 1.0 - np.searchsorted(neg, cuts, side="left") / neg.size
    best = int(np.argmax(tpr - fpr))
    lower = cuts[best + 1] if best + 1 < cuts.size else 0.0
    return float((cuts[best] + lower) / 2.0)



def validation_summary(predictor: MultimodalPredictor, val: AuditDataset) -> dict[str, Any]:
    """Choose the threshold on ``val`` (diffusion imputation) and summarise validation metrics."""
    scores = predictor.predict_proba(val, impute="diffusion")
    fallback = predictor.predict_proba(val, impute="fallback")
    labels = val.labels.astype(bool)
    threshold = youden_threshold(scores, labels)
    predictor.threshold = threshold
    predictor.threshold_rule = THRESHOLD_RULE
    pred = scores >= threshold
    per_group: dict[str, dict[str, float | None]] = {}
    for attr in val.attributes:
        names = val.group_labels(attr)
        per_group[attr] = {}
        for g in sorted(set(names)):
            m = names == g
            auc = roc_auc(scores[m], labels[m])
            per_group[attr][str(g)] = None if math.isnan(auc) else round(auc, 6)
    return {
        "n": int(val.n_rows),
        "auc": round(roc_auc(scores, labels), 6),
        "auc_fallback": round(roc_auc(fallback, labels), 6),
        "sensitivity": round(float(pred[labels].mean()), 6),
        "specificity": round(float((~pred[~labels]).mean()), 6),
        "threshold": threshold,
        "auc_by_group": per_group,
    }

