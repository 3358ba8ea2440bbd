"""fairlearn's ``ThresholdOptimizer`` as a reference variant (``--method threshold-fairlearn``).

fairlearn equalises the groups' rates *exactly in expectation* by randomising, per group,
between two thresholds (Hardt et al. 2016). Its decisions are therefore not a function of the
score: the variant carries the seeded 0/1 decisions on the test rows instead of scores
(``Variant.decisions_only``), so its AUC is not judged. It is fitted on the same validation
rows as ``--method threshold`` and judged on the same test rows, so the two can be compared
side by side. fairlearn is imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.comparison_result import Variant
from fairaudit.errors import ConfigError, InputError
from fairaudit.mitigation.thresholds import dataset_groups

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset
    from fairaudit.mitigation.threshold_variant import ThresholdSettings

CONSTRAINTS = {"equalized_odds": "equalized_odds", "equal_opportunity": "true_positive_rate_parity"}
"""fairaudit objective -> fairlearn ``constraints``."""
PERFORMANCE = {"accuracy": "accuracy_score", "balanced_accuracy": "balanced_accuracy_score"}


def _score_estimator() -> Any:
    """A prefit scikit-learn 'model' whose prediction is its single input column (the score)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class ScorePassthrough(ClassifierMixin, BaseEstimator):
        def fit(self, X: Any, y: Any) -> ScorePassthrough:  # noqa: N803 - scikit-learn's names
            self.classes_ = np.array([0, 1])
            return self

        def predict(self, X: Any) -> np.ndarray:  # noqa: N803
            return np.asarray(X, dtype=np.float64)[:, 0]

    return ScorePassthrough().fit(None, None)


def fairlearn_variant(
    val: AuditDataset,
    val_scores: np.ndarray,
    test: AuditDataset,
    test_scores: np.ndarray,
    *,
    target: str | Sequence[str],
    settings: ThresholdSettings,
    seed: int,
    model_sha256: str | None = None,
) -> Variant:
    """Fit fairlearn's ``ThresholdOptimizer`` on validation scores; decisions on the test rows.

    Raises
    ------
    ConfigError
        For ``objective="sensitivity_floor"``, which fairlearn does not offer.
    InputError
        When a test group has no validation rows (fairlearn cannot decide for it).
    """
    constraint = CONSTRAINTS.get(settings.objective)
    if constraint is None:
        raise ConfigError(
            f"the threshold-fairlearn method supports `objective` {' or '.join(CONSTRAINTS)}; "
            f"fairlearn has no {settings.objective!r}."
        )
    val_groups, attribute = dataset_groups(val, target)
    test_groups, _ = dataset_groups(test, target)
    unseen = sorted(set(test_groups.tolist()) - set(val_groups.tolist()))
    if unseen:
        raise InputError(
            f"the threshold-fairlearn method: test group(s) {', '.join(map(repr, unseen))} of "
            f"'{attribute}' have no validation rows, so fairlearn cannot fit them."
        )
    import warnings

    from fairlearn import __version__ as fairlearn_version
    from fairlearn.postprocessing import ThresholdOptimizer

    opt = ThresholdOptimizer(
        estimator=_score_estimator(), constraints=constraint,
        objective=PERFORMANCE[settings.performance], prefit=True, predict_method="predict",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.fit(np.asarray(val_scores, dtype=np.float64)[:, None], val.labels,
                sensitive_features=val_groups.astype(str))
        decided = opt.predict(np.asarray(test_scores, dtype=np.float64)[:, None],
                              sensitive_features=test_groups.astype(str), random_state=seed)
    decisions = np.asarray(decided, dtype=np.float64)
    return Variant(
        name=f"fairlearn ThresholdOptimizer ({settings.objective})", scores=decisions,
        threshold=0.5, method="threshold-fairlearn", model_sha256=model_sha256,
        decisions_only=True,
        provenance={
            "reference": "fairlearn.postprocessing.ThresholdOptimizer (randomised thresholds, "
                         "Hardt et al. 2016)",
            "fairlearn_version": fairlearn_version, "constraints": constraint,
            "objective": PERFORMANCE[settings.performance], "target": attribute,
            "fitted_on": val.source, "random_state": seed,
            "note": "decisions are randomised per row; the variant's scores are its 0/1 "
                    "decisions, so its AUC is not judged",
        },
    )


__all__ = ["CONSTRAINTS", "fairlearn_variant"]
