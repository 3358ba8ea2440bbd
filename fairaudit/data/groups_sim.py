"""Predictions for many groups with exactly known fairness criteria (validity simulations).

Each row has a label ``y ~ Bernoulli(prevalence)`` (the same in every group) and a latent
``z = mu_g + s_g * y + N(0, 1)``; the score is ``sigmoid(z)``, so at the threshold 0.5
a row is positive exactly when ``z >= 0``. Per group, then, in closed form:

- TPR_g = Phi(mu_g + s_g), FPR_g = Phi(mu_g),
- selection rate_g = prevalence TPR_g + (1 - prevalence) FPR_g,
- AUC_g = Phi(s_g / sqrt 2) (a shift changes no ranking inside the group).

``mu_g = 0`` and one separation ``s_g`` for every group is fair by construction (labels and
scores independent of the group); spreading ``mu_g`` (:func:`shifts_for_parity_gap`) or ``s_g``
(:func:`separations_for_auc_gap`) plants disparities whose true criteria :func:`true_criteria`
gives. Groups may have unequal sizes (``size_spread``).
Used by ``benchmarks/validity.py`` and the validity tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr


@dataclass(frozen=True)
class GroupScenario:
    """``n_groups`` groups of ``rows_per_group`` rows; ``shifts`` are the mu_g (zeros: fair).

    ``size_spread`` > 0 gives groups of unequal size, as sites of a real registry have: each
    dataset draws group ``g``'s rows as ``max(MIN_ROWS, round(rows_per_group * exp(size_spread
    * Z_g)))`` with ``Z_g`` standard normal (a log-normal with median ``rows_per_group``; 1.0
    puts the middle 90 % of sizes between a fifth and five times the median). The true rates
    do not depend on the sizes.
    """

    n_groups: int
    rows_per_group: int
    shifts: tuple[float, ...] | None = None
    separation: float = 1.5
    prevalence: float = 0.3
    size_spread: float = 0.0
    separations: tuple[float, ...] | None = None  # per group; None: ``separation`` for all

    MIN_ROWS = 8

    def mu(self) -> np.ndarray:
        return np.zeros(self.n_groups) if self.shifts is None else np.asarray(self.shifts, float)

    def sep(self) -> np.ndarray:
        """Each group's separation (its AUC is Phi(sep / sqrt 2))."""
        if self.separations is None:
            return np.full(self.n_groups, float(self.separation))
        return np.asarray(self.separations, float)

    def sizes(self, rng: np.random.Generator) -> np.ndarray:
        """Rows of each group (drawn from ``rng`` only when ``size_spread`` > 0)."""
        if self.size_spread <= 0:
            return np.full(self.n_groups, self.rows_per_group)
        z = rng.standard_normal(self.n_groups)
        return np.maximum(self.MIN_ROWS, np.rint(self.rows_per_group * np.exp(self.size_spread * z))).astype(int)


def shifts_for_parity_gap(n_groups: int, gap: float, separation: float = 1.5,
                          prevalence: float = 0.3) -> tuple[float, ...]:
    """Shifts spread evenly so that the true demographic-parity difference is ``gap``."""
    def sr(m: float) -> float:
        return prevalence * ndtr(m + separation) + (1 - prevalence) * ndtr(m)

    lo, hi = 0.0, 3.0  # half-width h: sr(h) - sr(-h) grows with h
    for _ in range(100):
        h = 0.5 * (lo + hi)
        lo, hi = (h, hi) if sr(h) - sr(-h) < gap else (lo, h)
    return tuple(np.linspace(-h, h, n_groups).tolist())


def separations_for_auc_gap(n_groups: int, gap: float, centre: float = 1.5) -> tuple[float, ...]:
    """Separations spread evenly around ``centre`` so that the true AUC difference is ``gap``,
    in descending order (the group with the largest shift gets the smallest separation, so a
    planted AUC gap does not simply add to a planted parity gap)."""
    def auc(sep: float) -> float:
        return float(ndtr(sep / np.sqrt(2.0)))

    lo, hi = 0.0, centre  # half-width h: auc(centre + h) - auc(centre - h) grows with h
    for _ in range(100):
        h = 0.5 * (lo + hi)
        lo, hi = (h, hi) if auc(centre + h) - auc(centre - h) < gap else (lo, h)
    return tuple(np.linspace(centre + h, centre - h, n_groups).tolist())


def true_rates(s: GroupScenario) -> dict[str, np.ndarray]:
    mu, sep = s.mu(), s.sep()
    tpr, fpr = ndtr(mu + sep), ndtr(mu)
    return {
        "tpr": tpr, "fpr": fpr,
        "selection_rate": s.prevalence * tpr + (1 - s.prevalence) * fpr,
        "auc": ndtr(sep / np.sqrt(2.0)),
    }


def true_criteria(s: GroupScenario, groups: np.ndarray | None = None) -> dict[str, float]:
    """The true value of every criterion (as fairlearn defines them) in the population, over
    all groups or over the group indices ``groups`` (say, the sufficient ones of an audit)."""
    r = true_rates(s)
    if groups is not None:
        r = {k: v[np.asarray(groups, dtype=int)] for k, v in r.items()}

    def diff(x: np.ndarray) -> float:
        return float(x.max() - x.min())

    def ratio(x: np.ndarray) -> float:
        return float(x.min() / x.max())

    return {
        "demographic_parity_difference": diff(r["selection_rate"]),
        "demographic_parity_ratio": ratio(r["selection_rate"]),
        "equal_opportunity_difference": diff(r["tpr"]),
        "equal_opportunity_ratio": ratio(r["tpr"]),
        "equalized_odds_difference": max(diff(r["tpr"]), diff(r["fpr"])),
        "equalized_odds_ratio": min(ratio(r["tpr"]), ratio(r["fpr"])),
        "auc_difference": diff(r["auc"]),
    }


def simulate_groups(s: GroupScenario, seed: int) -> pd.DataFrame:
    """One dataset: columns ``y``, ``score``, ``site`` (names ``site001`` ...)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(s.n_groups), s.sizes(rng))
    n = g.size
    y = (rng.random(n) < s.prevalence).astype(np.int8)
    z = s.mu()[g] + s.sep()[g] * y + rng.standard_normal(n)
    width = len(str(s.n_groups))
    names = np.array([f"site{i:0{width}d}" for i in range(s.n_groups)])
    return pd.DataFrame({"y": y, "score": 1.0 / (1.0 + np.exp(-z)), "site": names[g]})
