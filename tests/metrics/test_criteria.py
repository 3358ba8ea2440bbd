"""fairaudit.metrics.criteria: fairlearn's definitions, vectorised; summaries with a direction."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.metrics.criteria import CRITERIA, SUMMARY_METRICS, criterion_values, summary_values
from fairaudit.result import CRITERIA_NAMES, METRICS, SUMMARISED

RATES = {
    "selection_rate": np.array([0.2, 0.5, 0.4]),
    "tpr": np.array([0.9, 0.6, 0.8]),
    "fpr": np.array([0.1, 0.3, 0.2]),
    "auc": np.array([0.85, 0.7, 0.8]),
}


def test_the_criteria_are_the_results_and_need_known_metrics() -> None:
    assert tuple(CRITERIA) == CRITERIA_NAMES
    for rates, kind in CRITERIA.values():
        assert kind in ("difference", "ratio") and set(rates) <= set(METRICS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("demographic_parity_difference", 0.3),
        ("demographic_parity_ratio", 0.4),
        ("equal_opportunity_difference", 0.3),
        ("equal_opportunity_ratio", 0.6 / 0.9),
        ("equalized_odds_difference", 0.3),  # max(TPR 0.3, FPR 0.2)
        ("equalized_odds_ratio", 0.1 / 0.3),  # min(TPR 0.667, FPR 0.333)
        ("auc_difference", 0.15),
    ],
)
def test_criterion_values_follow_fairlearn(name: str, value: float) -> None:
    assert float(criterion_values(name, RATES)) == pytest.approx(value)


def test_criteria_are_vectorised_over_replicates_and_nan_when_a_rate_is_undefined() -> None:
    reps = {k: np.stack([v, v[::-1]]) for k, v in RATES.items()}
    np.testing.assert_allclose(criterion_values("equal_opportunity_difference", reps), [0.3, 0.3])
    broken = {**RATES, "fpr": np.array([0.1, np.nan, 0.2])}
    assert np.isnan(criterion_values("equalized_odds_difference", broken))
    zero = {**RATES, "selection_rate": np.array([0.0, 0.0, 0.0])}
    assert np.isnan(criterion_values("demographic_parity_ratio", zero))


def test_summaries_take_their_direction_from_the_metric_table() -> None:
    assert tuple(SUMMARY_METRICS) == SUMMARISED
    for metric, higher in SUMMARY_METRICS.items():
        assert METRICS[metric].higher_is_better is higher
    assert SUMMARY_METRICS["auc"] is True and SUMMARY_METRICS["fnr"] is False


def test_summary_values_and_the_skewed_error_ratio() -> None:
    s = summary_values(np.array([0.9, 0.8, 0.6]), higher_is_better=True)
    assert (float(s["min"]), float(s["max"])) == (0.6, 0.9)
    assert float(s["sd"]) == pytest.approx(np.std([0.9, 0.8, 0.6], ddof=1))
    assert float(s["ser"]) == pytest.approx(0.4 / 0.1)  # largest error over smallest
    lower = summary_values(np.array([0.1, 0.3]), higher_is_better=False)
    assert float(lower["ser"]) == pytest.approx(3.0)
    assert np.isnan(summary_values(np.array([0.5]), True)["sd"])
    assert np.isnan(summary_values(np.array([1.0, 0.9]), True)["ser"])  # a group with no error
