"""Exact Shapley values over the three modalities, per study.

The players are the modalities (image, note, labs); the value of a coalition ``S`` is the
model's probability of disease when only the modalities in ``S`` are available (the others
replaced by the learned absent tokens, or imputed by the diffusion model). With three players
the Shapley value is exact from the 8 coalitions:

    phi_i = sum over S not containing i of |S|! (2 - |S|)! / 3! * (v(S + i) - v(S))

and the values add up to ``v(all) - v(none)`` (efficiency). A modality the study does not have
is in no coalition's available set, so its value is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from math import factorial

import numpy as np

from fairaudit.errors import ConfigError
from fairaudit.models.features import MODALITIES


def coalitions() -> list[frozenset[str]]:
    """All 8 subsets of :data:`MODALITIES`, smallest first."""
    return [frozenset(c) for k in range(len(MODALITIES) + 1) for c in combinations(MODALITIES, k)]


def shapley_values(value: Mapping[frozenset[str], np.ndarray]) -> np.ndarray:
    """(n, 3) Shapley values in :data:`MODALITIES` order from the coalition values (n,) each.

    Raises
    ------
    ConfigError
        A coalition is missing from ``value``.
    """
    missing = [sorted(c) for c in coalitions() if c not in value]
    if missing:
        raise ConfigError(f"value lacks coalitions {missing}; all 8 subsets are needed.")
    p = len(MODALITIES)
    n = len(np.asarray(value[frozenset()]))
    out = np.zeros((n, p))
    for i, m in enumerate(MODALITIES):
        for s in coalitions():
            if m in s:
                continue
            w = factorial(len(s)) * factorial(p - len(s) - 1) / factorial(p)
            out[:, i] += w * (np.asarray(value[s | {m}], float) - np.asarray(value[s], float))
    return out


def absolute_shares(phi: np.ndarray) -> np.ndarray:
    """|phi_i| / sum_j |phi_j| per study (rows with all values 0 get NaN)."""
    a = np.abs(phi)
    total = a.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, a / total, np.nan)
