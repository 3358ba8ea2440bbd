"""Cross-check an audit against fairlearn and aif360 (``fairaudit audit --cross-check``).

fairaudit computes its own numbers (one pass over a cell table, for speed and for the
bootstrap). This module recomputes, from the rows and the audit's decisions, with two
independent libraries:

- every per-group and overall selection rate, TPR, FPR and accuracy, with fairlearn's
  ``MetricFrame`` and with aif360's ``ClassificationMetric`` (the group as the unprivileged
  group, all other groups as privileged);
- every fairlearn-defined criterion (demographic parity, equal opportunity and equalised odds,
  difference and ratio) with ``fairlearn.metrics``.

A number fairaudit leaves undefined (a TPR without positives) and a criterion it marks
``insufficient`` are skipped and counted: fairlearn returns 0 there, which is not a value to
agree with. Any difference above :data:`TOLERANCE` raises :class:`CrossCheckError` naming the
number, the group and both values. fairlearn and aif360 are imported here only, on first use.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import FairauditError
from fairaudit.result import CRITERIA_NAMES, CrossCheck

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.result import AuditResult

TOLERANCE = 1e-9
"""Largest absolute difference accepted between fairaudit and a reference library."""

RATES = ("selection_rate", "tpr", "fpr", "accuracy")
# The criteria fairlearn.metrics defines under the same names; others (auc_difference, or a
# criterion added later without a fairlearn counterpart) are not cross-checked.
CRITERIA = tuple(c for c in CRITERIA_NAMES if c in (
    "demographic_parity_difference", "demographic_parity_ratio",
    "equal_opportunity_difference", "equal_opportunity_ratio",
    "equalized_odds_difference", "equalized_odds_ratio",
))
_LABELS = {"selection_rate": "selection rate", "tpr": "TPR", "fpr": "FPR", "accuracy": "accuracy"}


class CrossCheckError(FairauditError):
    """fairaudit and fairlearn or aif360 disagree on a number (exit code 2)."""


class _Tally:
    """Counts comparisons and skips, keeps the largest difference, raises on disagreement."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.compared = 0
        self.skipped = 0
        self.largest = 0.0
        self.largest_at: str | None = None

    def compare(self, what: str, ours: float | None, references: Mapping[str, Any]) -> None:
        """Compare one fairaudit number with each library's; an undefined one is one skip."""
        if ours is None:
            self.skipped += 1
            return
        for library, theirs in references.items():
            self._one(what, float(ours), theirs, library)

    def _one(self, what: str, ours: float, theirs: Any, library: str) -> None:
        value = float(theirs)
        diff = abs(ours - value) if math.isfinite(value) else math.inf
        self.compared += 1
        if diff > self.largest or self.largest_at is None:
            self.largest, self.largest_at = diff, f"{what} ({library})"
        if diff > self.tolerance:
            raise CrossCheckError(
                f"cross-check failed: {what} is {ours!r} in fairaudit but {value!r} in "
                f"{library} (difference {diff:.3g} > {self.tolerance:g})."
            )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the libraries' import chatter and zero-division warnings."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def row_decisions(dataset: AuditDataset, threshold: float, group_thresholds: Any = None) -> np.ndarray:
    """The audit's decisions (``score >= threshold``, per group with ``group_thresholds``).

    ``group_thresholds`` has ``attribute``, ``thresholds`` and ``default`` (groups not listed
    get ``default``, else ``threshold``), as :class:`fairaudit.metrics.GroupThresholdSpec`.
    """
    scores = np.asarray(dataset.scores, dtype=np.float64)
    if group_thresholds is None:
        return scores >= float(threshold)
    from fairaudit.mitigation.thresholds import dataset_groups

    names, _ = dataset_groups(dataset, group_thresholds.attribute)
    fallback = threshold if group_thresholds.default is None else group_thresholds.default
    row_thr = np.asarray([group_thresholds.thresholds.get(g, fallback) for g in names.tolist()],
                         dtype=np.float64)
    return scores >= row_thr


def _fairlearn_frame(y: np.ndarray, d: np.ndarray, names: np.ndarray) -> Any:
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    metrics = {"selection_rate": selection_rate, "tpr": true_positive_rate,
               "fpr": false_positive_rate, "accuracy": accuracy_score}
    return MetricFrame(metrics=metrics, y_true=y, y_pred=d, sensitive_features=names)


def _aif360_rates(y: np.ndarray, d: np.ndarray, names: np.ndarray) -> dict[str | None, dict[str, float]]:
    """aif360's rates per group (and overall, key None)."""
    import pandas as pd
    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric

    groups = sorted(set(names.tolist()))
    codes = np.asarray([groups.index(g) for g in names.tolist()], dtype=np.float64)
    truth = BinaryLabelDataset(
        df=pd.DataFrame({"y": y.astype(np.float64), "g": codes}), label_names=["y"],
        protected_attribute_names=["g"], favorable_label=1.0, unfavorable_label=0.0,
    )
    pred = truth.copy(deepcopy=True)
    pred.labels = d.astype(np.float64)[:, None]
    out: dict[str | None, dict[str, float]] = {}
    for c, g in enumerate(groups):
        # With a single group, a privileged group without rows keeps the two disjoint.
        others = [{"g": float(k)} for k in range(len(groups)) if k != c] or [{"g": -1.0}]
        cm = ClassificationMetric(truth, pred, unprivileged_groups=[{"g": float(c)}],
                                  privileged_groups=others)
        out[g] = _aif_values(cm, privileged=False)
        if c == 0:
            out[None] = _aif_values(cm, privileged=None)
    return out


def _aif_values(cm: Any, privileged: bool | None) -> dict[str, float]:
    return {"selection_rate": cm.selection_rate(privileged=privileged),
            "tpr": cm.true_positive_rate(privileged=privileged),
            "fpr": cm.false_positive_rate(privileged=privileged),
            "accuracy": cm.accuracy(privileged=privileged)}


def _check_partition(tally: _Tally, result: AuditResult, attribute: str, y: np.ndarray,
                     d: np.ndarray, names: np.ndarray, overall: bool) -> None:
    import fairlearn.metrics as flm

    frame = _fairlearn_frame(y, d, names)
    aif = _aif360_rates(y, d, names)
    if overall:
        for m in RATES:
            est = result.overall.metrics.get(m)
            ours = est.value if est is not None else None
            tally.compare(f"overall {_LABELS[m]}", ours,
                          {"fairlearn": frame.overall[m], "aif360": aif[None][m]})
    by_group = frame.by_group
    for g in sorted(set(names.tolist())):
        try:
            group = result.group(attribute, g)
        except KeyError:
            raise CrossCheckError(
                f"cross-check failed: group '{g}' of '{attribute}' is in the data but not in the audit."
            ) from None
        for m in RATES:
            est = group.metrics.get(m)
            what = f"{_LABELS[m]} of group '{g}' ({attribute})"
            ours = est.value if est is not None else None
            tally.compare(what, ours, {"fairlearn": by_group.loc[g, m], "aif360": aif[g][m]})
    for name in CRITERIA:
        try:
            c = result.criterion(attribute, name)
        except KeyError:
            continue
        if c.status != "ok" or c.value is None or c.excluded_groups:
            tally.skipped += 1
            continue
        theirs = getattr(flm, name)(y, d, sensitive_features=names)
        tally.compare(f"{name} of '{attribute}'", c.value, {"fairlearn": theirs})


def cross_check(result: AuditResult, dataset: AuditDataset, decisions: np.ndarray,
                tolerance: float = TOLERANCE) -> CrossCheck:
    """Recompute the audit's rates and criteria with fairlearn and aif360 and compare.

    Parameters
    ----------
    result : AuditResult
        The audit of ``dataset``.
    dataset : AuditDataset
        The audited rows (labels and groups).
    decisions : ndarray of bool
        The audit's decision for every row (see :func:`row_decisions`).
    tolerance : float
        Largest accepted absolute difference.

    Returns
    -------
    CrossCheck
        Versions, the number of values compared and skipped, the largest difference.

    Raises
    ------
    CrossCheckError
        On the first number that differs by more than ``tolerance``.
    """
    from fairaudit.mitigation.thresholds import dataset_groups

    y = np.asarray(dataset.labels, dtype=np.int64)
    d = np.asarray(decisions, dtype=np.int64)
    tally = _Tally(tolerance)
    with _quiet():
        for i, attribute in enumerate(result.audited_attributes):
            names, _ = dataset_groups(dataset, attribute)
            _check_partition(tally, result, attribute, y, d, np.asarray(names, dtype=object),
                             overall=i == 0)
    return CrossCheck(
        fairlearn_version=_version("fairlearn"), aif360_version=_version("aif360"),
        n_compared=tally.compared, n_skipped=tally.skipped, max_abs_difference=float(tally.largest),
        tolerance=tolerance, largest_at=tally.largest_at,
    )


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - both are dependencies
        return "unknown"


def describe(check: CrossCheck | Mapping[str, Any]) -> str:
    """One line for the reports (see :meth:`fairaudit.result.CrossCheck.describe`)."""
    if isinstance(check, Mapping):
        check = CrossCheck(**{k: v for k, v in check.items() if k in CrossCheck.__dataclass_fields__})
    return check.describe()


__all__ = ["CRITERIA", "RATES", "TOLERANCE", "CrossCheckError", "cross_check", "describe",
           "row_decisions"]
