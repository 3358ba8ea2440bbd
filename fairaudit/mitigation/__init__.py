"""Mitigations: change how a model is trained or how its scores are turned into decisions.

Four methods (estimators only), each re-audited on the held-out test split by the mitigate
workflow (:func:`fairaudit.workflows.before_after.compare_variants`):

- :func:`reweighting_weights` / :class:`Reweighing` (Kamiran & Calders 2012): per-row sample
  weights ``P(a) P(y) / P(a, y)`` for the training loss;
- :class:`StratifiedBatchSampler` (Puyol-Antón et al. 2021): minibatches balanced across groups
  (or group x label);
- :class:`GroupDROLoss` with the pure :func:`update_group_weights` (Sagawa et al. 2020): train
  on the worst groups' loss;
- :class:`GroupThresholdOptimizer` (Hardt et al. 2016): deterministic per-group thresholds fitted
  on validation data, saved as :class:`GroupThresholds` for ``fairaudit audit --group-thresholds``.

torch-dependent names load on first use, so importing this package stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from fairaudit.mitigation.reweighting import Reweighing, group_labels, reweighting_weights
from fairaudit.mitigation.thresholds import (
    GroupThresholdOptimizer,
    GroupThresholds,
    dataset_groups,
    fit_group_thresholds,
)

_LAZY = {
    "StratifiedBatchSampler": "fairaudit.mitigation.sampling",
    "make_strata": "fairaudit.mitigation.sampling",
    "GroupDROLoss": "fairaudit.mitigation.group_dro",
    "update_group_weights": "fairaudit.mitigation.group_dro",
    "adjustment_terms": "fairaudit.mitigation.group_dro",
}

__all__ = [
    "GroupDROLoss",
    "GroupThresholdOptimizer",
    "GroupThresholds",
    "Reweighing",
    "StratifiedBatchSampler",
    "adjustment_terms",
    "dataset_groups",
    "fit_group_thresholds",
    "group_labels",
    "make_strata",
    "reweighting_weights",
    "update_group_weights",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fairaudit.mitigation' has no attribute {name!r}")
