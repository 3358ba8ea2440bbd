"""Fairness criteria and spread summaries across groups, vectorised over replicates.

Definitions follow fairlearn: a *difference* is the largest group rate minus the smallest, a
*ratio* the smallest over the largest; equalised odds takes the worse of the TPR and FPR terms.
A criterion whose rate is undefined in any included group is NaN here (``insufficient`` in the
result), never computed as if the rate were 0.
"""

from __future__ import annotations

import numpy as np

from fairaudit.result import METRICS, SUMMARISED


def _direction(metric: str) -> bool:
    higher = METRICS[metric].higher_is_better
    if higher is None:
        raise ValueError(f"metric {metric!r} is summarised but has no direction (higher_is_better)")
    return higher


# criterion name -> (rates it needs, kind)
CRITERIA: dict[str, tuple[tuple[str, ...], str]] = {
    "demographic_parity_difference": (("selection_rate",), "difference"),
    "demographic_parity_ratio": (("selection_rate",), "ratio"),
    "equal_opportunity_difference": (("tpr",), "difference"),
    "equal_opportunity_ratio": (("tpr",), "ratio"),
    "equalized_odds_difference": (("tpr", "fpr"), "difference"),
    "equalized_odds_ratio": (("tpr", "fpr"), "ratio"),
    "auc_difference": (("auc",), "difference"),
}

# Performance metrics summarised across groups: True when higher is better (the direction is
# the metric's, fairaudit.result.METRICS; the order is the output order, SUMMARISED).
SUMMARY_METRICS: dict[str, bool] = {m: _direction(m) for m in SUMMARISED}


def _difference(r: np.ndarray) -> np.ndarray:
    return r.max(axis=-1) - r.min(axis=-1)


def _ratio(r: np.ndarray) -> np.ndarray:
    hi = r.max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = r.min(axis=-1) / hi
    return np.where(hi > 0, out, np.nan)


def criterion_values(name: str, metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Value of criterion ``name`` from group metric arrays (..., G); NaN if undefined."""
    rates, kind = CRITERIA[name]
    fn = _difference if kind == "difference" else _ratio
    vals = [fn(metrics[r]) for r in rates]
    if len(vals) == 1:
        return vals[0]
    stacked = np.stack(vals, axis=0)
    # Worse of the two terms; NaN in either term makes the criterion undefined.
    worse = stacked.max(axis=0) if kind == "difference" else stacked.min(axis=0)
    return np.where(np.isnan(stacked).any(axis=0), np.nan, worse)


def summary_values(values: np.ndarray, higher_is_better: bool) -> dict[str, np.ndarray]:
    """min, max, mean, SD (ddof=1) and skewed error ratio over the last axis (groups)."""
    g = values.shape[-1]
    err = 1.0 - values if higher_is_better else values
    with np.errstate(divide="ignore", invalid="ignore"):
        ser = err.max(axis=-1) / err.min(axis=-1)
    ser = np.where(err.min(axis=-1) > 0, ser, np.nan)
    sd = values.std(axis=-1, ddof=1) if g >= 2 else np.full(values.shape[:-1], np.nan)
    return {
        "min": values.min(axis=-1),
        "max": values.max(axis=-1),
        "mean": values.mean(axis=-1),
        "sd": sd,
        "ser": ser,
    }


def sufficient_values(m: dict[str, np.ndarray], idx: np.ndarray
                      ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The rates ``m`` (one partition's point estimates) of its sufficient groups ``idx``, and
    every criterion's value over them (NaN with fewer than two groups)."""
    sub_point = {k: m[k][idx] for rates, _kind in CRITERIA.values() for k in rates}
    values = {name: float(criterion_values(name, sub_point)) if idx.size >= 2 else np.nan
              for name in CRITERIA}
    return sub_point, values
