"""The exact threshold search (:mod:`fairaudit.mitigation.thresholds_solver`)."""

from __future__ import annotations

import itertools

import numpy as np

from fairaudit.mitigation.thresholds_solver import (
    RangeMax,
    auto_tolerance,
    candidate_thresholds,
    group_curve,
    solve,
)


def test_range_max_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=37)
    rmq = RangeMax(values)
    lo, hi = np.array([0, 3, 10, 20, 5]), np.array([36, 3, 15, 19, 30])
    val, arg = rmq.query(lo, hi)
    for k in range(lo.shape[0]):
        if lo[k] > hi[k]:
            assert val[k] == -np.inf
        else:
            assert val[k] == values[lo[k]:hi[k] + 1].max()
            assert values[arg[k]] == val[k]


def test_candidates_are_decreasing_and_bracket_the_scores() -> None:
    s = np.array([0.2, 0.2, 0.5, 0.9])
    cuts = candidate_thresholds(s, None)
    assert np.all(np.diff(cuts) < 0) and cuts[0] > 0.9 and cuts[-1] < 0.2
    assert candidate_thresholds(np.linspace(0, 1, 500), 10).shape[0] <= 10


def test_solve_equals_brute_force_for_equal_opportunity() -> None:
    rng = np.random.default_rng(3)
    curves, labels = [], []
    for _ in range(2):
        y = (rng.random(30) < 0.5).astype(np.int8)
        s = np.clip(0.3 * y + rng.random(30) * 0.7, 0, 1)
        curves.append(group_curve(s, y, candidate_thresholds(s, None)))
        labels.append(y)
    y_all = np.concatenate(labels)
    tol = 0.1
    got, utility = solve(curves, y_all, tol, objective="equal_opportunity", performance="accuracy",
                         sensitivity_floor=None)
    best = -1.0
    for i, j in itertools.product(*(range(c.thresholds.shape[0]) for c in curves)):
        if abs(curves[0].tpr[i] - curves[1].tpr[j]) <= tol + 1e-12:
            u = sum(c.tp[k] + c.n_neg - c.fp[k] for c, k in ((curves[0], i), (curves[1], j)))
            best = max(best, u / y_all.shape[0])
    assert abs(utility - best) < 1e-12 and len(got) == 2
    tol_auto, chosen, reference = auto_tolerance(curves, y_all, objective="equal_opportunity",
                                                 performance="accuracy", sensitivity_floor=None)
    assert 0.0 <= tol_auto <= 1.0 and len(chosen) == 2 and 0.0 < reference <= 1.0
