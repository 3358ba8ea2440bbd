"""fairaudit.data.groups_sim: simulated groups whose true criteria are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.data.groups_sim import (
    GroupScenario,
    separations_for_auc_gap,
    shifts_for_parity_gap,
    simulate_groups,
    true_criteria,
    true_rates,
)
from fairaudit.result import CRITERIA_NAMES


def test_a_fair_scenario_has_zero_differences_and_unit_ratios() -> None:
    truth = true_criteria(GroupScenario(n_groups=5, rows_per_group=100))
    assert set(truth) == set(CRITERIA_NAMES)
    for name, value in truth.items():
        assert value == pytest.approx(1.0 if name.endswith("_ratio") else 0.0), name


def test_shifts_plant_the_asked_parity_gap() -> None:
    shifts = shifts_for_parity_gap(4, 0.2)
    assert len(shifts) == 4 and shifts[0] == pytest.approx(-shifts[-1])
    truth = true_criteria(GroupScenario(4, 100, shifts=shifts))
    assert truth["demographic_parity_difference"] == pytest.approx(0.2, abs=1e-9)
    assert truth["auc_difference"] == 0.0  # a shift changes no ranking inside a group


def test_simulated_rates_approach_the_true_ones() -> None:
    s = GroupScenario(n_groups=3, rows_per_group=20_000, shifts=(-0.5, 0.0, 0.5))
    frame = simulate_groups(s, seed=1)
    assert list(frame.columns) == ["y", "score", "site"]
    assert sorted(frame["site"].unique()) == ["site0", "site1", "site2"]
    decided = frame["score"] >= 0.5
    tpr = frame[frame.y == 1].assign(d=decided).groupby("site")["d"].mean().to_numpy()
    np.testing.assert_allclose(tpr, true_rates(s)["tpr"], atol=0.02)
    assert simulate_groups(s, seed=1).equals(frame)


def test_equal_groups_have_exactly_the_asked_rows() -> None:
    frame = simulate_groups(GroupScenario(n_groups=4, rows_per_group=25), seed=3)
    assert frame["site"].value_counts().tolist() == [25] * 4


def test_unequal_groups_are_log_normal_around_the_asked_rows_and_reproducible() -> None:
    s = GroupScenario(n_groups=400, rows_per_group=100, size_spread=1.0)
    frame = simulate_groups(s, seed=7)
    sizes = frame["site"].value_counts()
    assert sizes.size == 400 and sizes.min() >= GroupScenario.MIN_ROWS
    assert 75 <= sizes.median() <= 130  # median rows_per_group
    # SD of log size 1.0: a fifth to five times the median covers about 90 % of groups.
    assert 0.82 <= np.mean((sizes > 20) & (sizes < 500)) <= 0.96
    assert simulate_groups(s, seed=7).equals(frame)
    assert not simulate_groups(s, seed=8)["site"].value_counts().sort_index().equals(sizes.sort_index())


def test_true_criteria_over_a_subset_of_groups() -> None:
    s = GroupScenario(4, 100, shifts=(-0.6, -0.2, 0.2, 0.6))
    sel = true_rates(s)["selection_rate"]
    sub = true_criteria(s, np.array([1, 2]))
    assert sub["demographic_parity_difference"] == pytest.approx(sel[2] - sel[1])
    assert true_criteria(s, np.arange(4)) == true_criteria(s)


def test_separations_plant_the_asked_auc_gap_and_the_simulated_aucs_follow() -> None:
    seps = separations_for_auc_gap(5, 0.10)
    assert seps[0] > seps[-1] and np.mean(seps) == pytest.approx(1.5)
    s = GroupScenario(5, 4000, separations=seps)
    assert true_criteria(s)["auc_difference"] == pytest.approx(0.10, abs=1e-9)
    frame = simulate_groups(s, seed=2)
    from sklearn.metrics import roc_auc_score

    got = [roc_auc_score(f.y, f.score) for _, f in frame.groupby("site")]
    np.testing.assert_allclose(got, true_rates(s)["auc"], atol=0.025)
    # One separation for all: the same frame as the scalar separation gives.
    same = GroupScenario(5, 50, separations=(1.5,) * 5)
    assert simulate_groups(same, seed=3).equals(simulate_groups(GroupScenario(5, 50), seed=3))
