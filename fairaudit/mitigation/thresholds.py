"""Threshold adjustment (Hardt, Price & Srebro 2016) with deterministic per-group thresholds.

A model's scores are kept; only the decision threshold differs by group. Thresholds are fitted
on *validation* data (never on the test set) to

- ``equal_opportunity``: equalise TPR (sensitivity) across groups, to within ``tolerance``;
- ``equalized_odds``: equalise TPR and FPR across groups, each to within ``tolerance``;
- ``sensitivity_floor``: reach TPR >= ``sensitivity_floor`` in every group (a clinical
  constraint, e.g. sensitivity >= 0.90); ``sensitivity_floor`` can also be added to the other two.

Among all threshold choices meeting the constraints on validation data, the one maximising the
``performance`` objective (accuracy, or balanced accuracy) is returned. The search is exact over
the candidate thresholds: any assignment whose TPRs lie within ``tolerance`` of each other has
all of them in a band ``[t0, t0 + tolerance]`` whose lower end ``t0`` is one of the groups'
TPRs (the same for FPR). For a fixed band, each group's feasible thresholds form a contiguous
run (TPR and FPR are monotone in the threshold) and accuracy is a sum over groups, so every
group picks its best threshold inside its run independently (a range-maximum query). Enumerating
the bands therefore finds the optimum. Predicting everybody negative (or positive) always meets
the equality constraints, so a solution always exists; it may be a poor one, which
:attr:`GroupThresholdOptimizer.validation_` shows.

Deterministic thresholds cannot always equalise exactly: a group's rates move in steps of
1 / (its positives or negatives), and groups whose ROC curves differ share few (FPR, TPR) points.
fairlearn's ``ThresholdOptimizer`` randomises between two thresholds per group to equalise
exactly, in expectation. Clinical use prefers one explainable threshold per group, which is
what the saved file holds. The default ``tolerance="auto"`` picks the smallest validation gap at
which deterministic thresholds are at least as good, on the ``performance`` objective, as that
exact randomised solution (computed here from the groups' ROC convex hulls, as fairlearn does):
as fair as determinism allows without giving up accuracy relative to the randomised optimum.

The decision rule is ``score >= threshold`` (as in ``fairaudit audit``). Candidate thresholds
lie half-way between consecutive distinct validation scores of a group, and by default every
one of them is a candidate (the search is exact; sorting the scores makes it cheap: under a
second for 2,000 validation rows in six groups).

This module is the estimator; the saved file (:class:`GroupThresholds`) lives in
:mod:`fairaudit.group_thresholds` and the exact search in
:mod:`fairaudit.mitigation.thresholds_solver`. The file's names are re-exported here.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import ConfigError, InputError
from fairaudit.group_thresholds import (
    FILE_FORMAT,
    FILE_VERSION,
    GroupThresholds,
    fitted_rows_overlap,
)
from fairaudit.mitigation.reweighting import group_labels
from fairaudit.mitigation.thresholds_solver import (
    Curve,
    auto_tolerance,
    candidate_thresholds,
    group_curve,
    solve,
)
from fairaudit.naming import SEPARATOR, attribute_label, group_label, split_label

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

OBJECTIVES = ("equal_opportunity", "equalized_odds", "sensitivity_floor")
PERFORMANCE = ("accuracy", "balanced_accuracy")


class GroupThresholdOptimizer:
    """Fit deterministic per-group thresholds on validation scores (see the module docstring).

    Parameters
    ----------
    objective : {"equalized_odds", "equal_opportunity", "sensitivity_floor"}
        The fairness goal.
    tolerance : float or "auto", default "auto"
        Largest allowed difference, on validation data, between the groups' TPRs (and FPRs for
        equalised odds). ``"auto"``: the smallest difference (to 0.001) at which the
        deterministic thresholds reach the performance of the exact randomised solution (see
        the module docstring). Not used by ``sensitivity_floor`` alone.
    sensitivity_floor : float, optional
        Minimum TPR in every fitted group. Required for ``objective="sensitivity_floor"``
        (e.g. 0.90); optional extra constraint for the other objectives.
    performance : {"accuracy", "balanced_accuracy"}, default "accuracy"
        What is maximised among threshold choices that meet the constraints.
    min_positives, min_negatives : int, default 10
        A group with fewer validation positives (or, for equalised odds, negatives) is not fitted:
        its rates are too noisy to equalise. It gets the ``default`` threshold and is listed in
        ``validation_`` with ``fitted=False``.
    default_threshold : float, optional
        Threshold for unfitted and unseen groups. By default it is fitted the same way on all
        validation rows pooled (one group).
    max_candidates : int, optional
        ``None`` (default): every cut between distinct validation scores is a candidate, so the
        optimum is exact. An integer thins each group's cuts to that many, evenly spaced in
        rank (faster on very large validation sets, but the optimum found can be slightly
        worse); the file's provenance records which was used.

    Attributes
    ----------
    attribute_ : str
    thresholds_ : dict of str to float
        Fitted groups only.
    default_ : float
    validation_ : dict of str to dict
        Per group: n, n_pos, n_neg, threshold, tpr, fpr (on validation), fitted, reason.
    gap_ : dict
        Validation ``tpr_difference`` and ``fpr_difference`` over the fitted groups.
    gap_all_groups_ : dict
        The same over every group with the rate defined, unfitted (small) groups included at
        the default threshold: the gap a user of the file actually sees on validation.
    performance_ : float
        The maximised performance on validation (fitted groups at their thresholds, others at
        the default).
    """

    def __init__(
        self,
        objective: str = "equalized_odds",
        *,
        tolerance: float | str = "auto",
        sensitivity_floor: float | None = None,
        performance: str = "accuracy",
        min_positives: int = 10,
        min_negatives: int = 10,
        default_threshold: float | None = None,
        max_candidates: int | None = None,
    ) -> None:
        self.objective = objective
        self.tolerance = tolerance
        self.sensitivity_floor = sensitivity_floor
        self.performance = performance
        self.min_positives = min_positives
        self.min_negatives = min_negatives
        self.default_threshold = default_threshold
        self.max_candidates = max_candidates

    # -- validation of hyper-parameters (at fit, as scikit-learn does) ---------------------
    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"the 'objective' of GroupThresholdOptimizer must be one of {', '.join(OBJECTIVES)}; "
                f"got {self.objective!r} instead."
            )
        if self.performance not in PERFORMANCE:
            raise ConfigError(
                f"the 'performance' of GroupThresholdOptimizer must be one of {', '.join(PERFORMANCE)}; "
                f"got {self.performance!r} instead."
            )
        if self.tolerance != "auto" and not (
            isinstance(self.tolerance, int | float) and 0.0 <= float(self.tolerance) <= 1.0
        ):
            raise ConfigError(f"'tolerance' must be \"auto\" or a number in [0, 1]; got {self.tolerance!r} instead.")
        if self.objective == "sensitivity_floor" and self.sensitivity_floor is None:
            raise ConfigError(
                "objective 'sensitivity_floor' needs a floor, e.g. sensitivity_floor=0.90 "
                "(--sensitivity-floor 0.90)."
            )
        if self.sensitivity_floor is not None and not (0.0 < float(self.sensitivity_floor) <= 1.0):
            raise ConfigError(
                f"'sensitivity_floor' must be in (0, 1]; got {self.sensitivity_floor!r} instead."
            )
        if self.default_threshold is not None and not (0.0 <= float(self.default_threshold) <= 1.0):
            raise ConfigError(
                f"'default_threshold' must be in [0, 1]; got {self.default_threshold!r} instead."
            )
        if self.max_candidates is not None and int(self.max_candidates) < 2:
            raise ConfigError(f"'max_candidates' must be at least 2; got {self.max_candidates!r}.")
        if int(self.min_positives) < 1 or int(self.min_negatives) < 1:
            raise ConfigError("'min_positives' and 'min_negatives' must be at least 1.")

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, scores: Any, y: Any, *, sensitive_features: Any) -> GroupThresholdOptimizer:
        """Fit thresholds on validation scores, labels and groups. Returns self.

        ``sensitive_features`` takes one column per attribute (a Series, a DataFrame, or an
        array); several columns are fitted over their intersection.
        """
        self._check_params()
        groups, attribute = group_labels(sensitive_features)
        s, labels = _check_scores_labels(scores, y, groups.shape[0])
        uses_fpr = self.objective == "equalized_odds"

        names = sorted(set(groups.tolist()))
        fitted: list[str] = []
        reasons: dict[str, str] = {}
        for g in names:
            m = groups == g
            n_pos = int(labels[m].sum())
            n_neg = int(m.sum()) - n_pos
            if n_pos < int(self.min_positives):
                reasons[g] = f"{n_pos} validation positives (< {int(self.min_positives)})"
            elif uses_fpr and n_neg < int(self.min_negatives):
                reasons[g] = f"{n_neg} validation negatives (< {int(self.min_negatives)})"
            else:
                fitted.append(g)

        # The default threshold: given, or the same problem on the pooled rows.
        if self.default_threshold is not None:
            default = float(self.default_threshold)
        else:
            pooled = group_curve(s, labels, candidate_thresholds(s, self.max_candidates))
            default = float(self._solve([pooled], labels, 1.0)[0][0])

        curves = []
        for g in fitted:
            m = groups == g
            curves.append(group_curve(s[m], labels[m], candidate_thresholds(s[m], self.max_candidates)))
        self.randomized_reference_ = None
        if not curves:
            tolerance, chosen = None, []
        elif self.tolerance == "auto" and self.objective != "sensitivity_floor":
            tolerance, chosen, self.randomized_reference_ = auto_tolerance(
                curves, labels, objective=self.objective, performance=self.performance,
                sensitivity_floor=self.sensitivity_floor,
            )
        elif self.objective == "sensitivity_floor":
            tolerance, chosen = None, self._solve(curves, labels, 1.0)[0]
        else:
            tolerance = float(self.tolerance)
            chosen = self._solve(curves, labels, tolerance)[0]
        thresholds = {g: float(t) for g, t in zip(fitted, chosen, strict=True)}
        self.tolerance_ = tolerance

        # What the thresholds do on validation, per group (the provenance the file keeps).
        row_thr = np.asarray([thresholds.get(g, default) for g in groups.tolist()])
        decision = s >= row_thr
        validation: dict[str, dict[str, Any]] = {}
        for g in names:
            m = groups == g
            n_pos = int(labels[m].sum())
            n_neg = int(m.sum()) - n_pos
            tp = int((decision & m & (labels == 1)).sum())
            fp = int((decision & m & (labels == 0)).sum())
            validation[g] = {
                "n": int(m.sum()),
                "n_pos": n_pos,
                "n_neg": n_neg,
                "threshold": thresholds.get(g, default),
                "tpr": tp / n_pos if n_pos else None,
                "fpr": fp / n_neg if n_neg else None,
                "fitted": g in thresholds,
                "reason": reasons.get(g),
            }
        tprs = [validation[g]["tpr"] for g in fitted]
        fprs = [validation[g]["fpr"] for g in fitted if validation[g]["fpr"] is not None]
        self.attribute_ = attribute
        self.groups_ = tuple(names)
        self.thresholds_ = thresholds
        self.default_ = default
        self.validation_ = validation
        self.gap_ = _gap(tprs, fprs)
        self.gap_all_groups_ = _gap(
            [v["tpr"] for v in validation.values() if v["tpr"] is not None],
            [v["fpr"] for v in validation.values() if v["fpr"] is not None],
        )
        correct = decision == (labels == 1)
        if self.performance == "accuracy":
            self.performance_ = float(correct.mean())
        else:
            p, n = labels == 1, labels == 0
            tpr = correct[p].mean() if p.any() else 0.0
            tnr = correct[n].mean() if n.any() else 0.0
            self.performance_ = float((tpr + tnr) / 2.0)
        self.n_validation_ = int(s.shape[0])
        return self

    def _solve(self, curves: list[Curve], labels: np.ndarray, tol: float) -> tuple[list[float], float]:
        """Best thresholds of the given groups under the constraints; (thresholds, utility)."""
        return solve(curves, labels, tol, objective=self.objective, performance=self.performance,
                     sensitivity_floor=self.sensitivity_floor)

    # -- use --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise ConfigError(
                "GroupThresholdOptimizer is not fitted yet; call fit(scores, y, sensitive_features=...) first."
            )

    def predict(self, scores: Any, *, sensitive_features: Any) -> np.ndarray:
        """Decisions (int8 0/1) for new rows: ``score >= threshold of the row's group``."""
        self._check_fitted()
        groups, _ = group_labels(sensitive_features)
        s, _ = _check_scores_labels(scores, None, groups.shape[0])
        return self.to_group_thresholds().apply(s, groups)

    def to_group_thresholds(
        self, *, fitted_on: str | None = None, data_sha256: str | None = None, **extra: Any
    ) -> GroupThresholds:
        """The fitted thresholds as the saveable :class:`GroupThresholds` with provenance."""
        self._check_fitted()
        from fairaudit._version import __version__

        provenance: dict[str, Any] = {
            "method": "deterministic per-group thresholds (Hardt et al. 2016), fitted on validation data",
            "objective": self.objective,
            "tolerance": self.tolerance if self.tolerance == "auto" else float(self.tolerance),
            "tolerance_used": self.tolerance_,
            "randomized_reference_performance": self.randomized_reference_,
            "sensitivity_floor": None if self.sensitivity_floor is None else float(self.sensitivity_floor),
            "performance": self.performance,
            "validation_performance": self.performance_,
            "validation_gap": {**self.gap_, "over": "fitted groups"},
            "validation_gap_all_groups": {**self.gap_all_groups_, "over": "all groups"},
            "candidates": ("every cut between distinct validation scores (exact)"
                           if self.max_candidates is None
                           else f"at most {int(self.max_candidates)} cuts per group (thinned)"),
            "fitted_on": fitted_on,
            "data_sha256": data_sha256,
            "n_validation": self.n_validation_,
            "validation": self.validation_,
            "decision_rule": "score >= threshold",
            "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "tool_version": __version__,
        }
        provenance.update(extra)
        return GroupThresholds(
            attribute=self.attribute_,
            thresholds=dict(self.thresholds_),
            default=float(self.default_),
            provenance=provenance,
        )


def _gap(tprs: list[float], fprs: list[float]) -> dict[str, float | None]:
    return {
        "tpr_difference": (max(tprs) - min(tprs)) if tprs else None,
        "fpr_difference": (max(fprs) - min(fprs)) if fprs else None,
    }


def _check_scores_labels(scores: Any, y: Any | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n:
        raise InputError(f"got {s.shape[0] if s.ndim else 0} scores for {n} rows of sensitive features.")
    if not np.all(np.isfinite(s)) or np.any((s < 0) | (s > 1)):
        raise InputError("scores must be probabilities in [0, 1] with no missing values.")
    if y is None:
        return s, np.zeros(0, dtype=np.int8)
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise InputError(f"got {labels.shape[0] if labels.ndim else 0} labels for {n} scores.")
    if not np.all(np.isin(labels, (0, 1))):
        raise InputError("labels must be 0 or 1 (1 = condition present).")
    return s, labels.astype(np.int8)




def dataset_groups(dataset: AuditDataset, attributes: str | Sequence[str]) -> tuple[np.ndarray, str]:
    """Group name per row of an :class:`AuditDataset` for one attribute or an intersection."""
    attrs = [attributes] if isinstance(attributes, str) else list(attributes)
    if len(attrs) == 1 and SEPARATOR in attrs[0] and attrs[0] not in dataset.attributes:
        try:
            attrs = [a.strip() for a in split_label(attrs[0])]
        except ValueError as e:
            raise InputError(f"attribute {attrs[0]!r} is not a column or an intersection: {e}.") from e
    unknown = [a for a in attrs if a not in dataset.attributes]
    if unknown:
        raise InputError(
            f"attribute(s) {', '.join(map(repr, unknown))} are not among the sensitive columns "
            f"of {dataset.source} ({', '.join(dataset.attributes)})."
        )
    cols = [dataset.attributes.index(a) for a in attrs]
    keys, inverse = np.unique(dataset.group_codes[:, cols], axis=0, return_inverse=True)
    spelt = [group_label(dataset.group_names[j][int(c)] for j, c in zip(cols, key, strict=True))
             for key in keys]
    return np.asarray(spelt, dtype=object)[inverse.ravel()], attribute_label(attrs)


def fit_group_thresholds(
    dataset: AuditDataset,
    scores: Any | None = None,
    *,
    attributes: str | Sequence[str],
    objective: str = "equalized_odds",
    **params: Any,
) -> GroupThresholds:
    """Fit per-group thresholds on a validation :class:`AuditDataset`; returns the saveable file.

    ``scores`` default to the dataset's own score column. ``params`` go to
    :class:`GroupThresholdOptimizer`. The provenance records the dataset's source and SHA-256.
    """
    if scores is None:
        if dataset.scores is None:
            raise InputError(
                f"{dataset.source} has no scores; give the model's validation predictions."
            )
        scores = dataset.scores
    groups, attribute = dataset_groups(dataset, attributes)
    opt = GroupThresholdOptimizer(objective, **params)
    frame = {attribute: groups}
    import pandas as pd

    opt.fit(scores, dataset.labels, sensitive_features=pd.DataFrame(frame))
    return opt.to_group_thresholds(fitted_on=dataset.source, data_sha256=dataset.sha256)


__all__ = [
    "FILE_FORMAT",
    "FILE_VERSION",
    "OBJECTIVES",
    "PERFORMANCE",
    "GroupThresholdOptimizer",
    "GroupThresholds",
    "dataset_groups",
    "fit_group_thresholds",
    "fitted_rows_overlap",
]
