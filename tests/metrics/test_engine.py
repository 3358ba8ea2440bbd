"""fairaudit.metrics.engine: compute_audit on hand-checkable data (exact counts and rates)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fairaudit.errors import InputError
from fairaudit.metrics.engine import AuditConfig, GroupThresholdSpec, compute_audit
from fairaudit.result import CRITERIA_NAMES, METRIC_NAMES, SUMMARISED

# Two attributes, four combinations of 60 rows each; labels and scores by hand.
N = 240
SEX = np.repeat([0, 1], N // 2)  # F, M
SITE = np.tile(np.repeat([0, 1], N // 4), 2)  # A, B
Y = np.tile(np.r_[np.ones(20, int), np.zeros(40, int)], 4)
# Sex M gets higher scores for its positives: a TPR gap at threshold 0.5.
SCORE = np.where(Y == 1, np.where(SEX == 1, 0.8, np.resize(np.linspace(0.3, 0.7, 20), N)), 0.2)
CODES = np.stack([SEX, SITE], axis=1)
NAMES = (("F", "M"), ("A", "B"))
NO_BOOT = AuditConfig(n_bootstrap=0, n_permutations=0, min_group_size=10, min_group_events=5)


def _run(config: AuditConfig = NO_BOOT, **kw):
    return compute_audit(Y, SCORE, CODES, NAMES, ("sex", "site"), config, **kw)


def test_counts_and_rates_are_exact() -> None:
    parts = _run()
    assert (parts.overall.n, parts.overall.n_pos, parts.overall.n_neg) == (N, 80, 160)
    by = {(g.attribute, g.group): g for g in parts.groups}
    m, f = by["sex", "M"], by["sex", "F"]
    assert (m.n, m.n_pos, m.n_neg) == (120, 40, 80)
    assert m.metrics["tpr"].value == 1.0
    tpr_f = float(np.mean(SCORE[(SEX == 0) & (Y == 1)] >= 0.5))
    assert f.metrics["tpr"].value == pytest.approx(tpr_f)
    assert m.metrics["fpr"].value == 0.0 and m.metrics["prevalence"].value == pytest.approx(1 / 3)
    assert set(m.metrics) == set(METRIC_NAMES)


def test_partitions_criteria_and_summaries() -> None:
    parts = _run()
    assert parts.intersections == ("sex & site",)
    assert [g.group for g in parts.groups if g.attribute == "sex & site"] == ["F & A", "F & B", "M & A", "M & B"]
    crit = {(c.attribute, c.name): c for c in parts.criteria}
    assert {name for (_a, name) in crit} == set(CRITERIA_NAMES)
    eo = crit["sex", "equal_opportunity_difference"]
    tpr_f = float(np.mean(SCORE[(SEX == 0) & (Y == 1)] >= 0.5))
    assert eo.status == "ok" and eo.value == pytest.approx(1.0 - tpr_f)
    assert set(eo.groups) == {"F", "M"} and eo.ci is None  # no bootstrap, no interval
    assert [s.metric for s in parts.summaries if s.attribute == "sex"] == list(SUMMARISED)


def test_no_intersections_when_turned_off() -> None:
    parts = _run(AuditConfig(n_bootstrap=0, n_permutations=0, intersections=False))
    assert parts.intersections == () and {g.attribute for g in parts.groups} == {"sex", "site"}


def test_small_groups_make_criteria_insufficient() -> None:
    parts = _run(AuditConfig(n_bootstrap=0, n_permutations=0, min_group_size=100))
    site = [c for c in parts.criteria if c.attribute == "sex & site"]
    assert all(c.status == "insufficient" and c.value is None for c in site)
    assert all(g.status == "insufficient" for g in parts.groups if g.attribute == "sex & site")


def test_bootstrap_intervals_contain_the_point_and_are_seeded() -> None:
    config = AuditConfig(n_bootstrap=100, n_permutations=50, seed=4, min_group_size=10, min_group_events=5)
    a, b = _run(config), _run(config)
    assert a == b
    g = next(g for g in a.groups if g.attribute == "sex" and g.group == "F")
    lo, hi = g.metrics["tpr"].ci
    assert lo <= g.metrics["tpr"].value <= hi
    assert a.bootstrap_unit == "row"
    patients = np.arange(N) // 2
    clustered = _run(config, clusters=patients)
    assert clustered.bootstrap_unit == "patient" and clustered.n_clusters == N // 2


def test_group_thresholds_apply_per_group_and_name_what_is_missing() -> None:
    spec = GroupThresholdSpec("sex", {"F": 0.25, "M": 0.5})
    parts = _run(group_thresholds=spec)
    f = next(g for g in parts.groups if g.attribute == "sex" and g.group == "F")
    assert f.metrics["tpr"].value == 1.0  # every F positive scores >= 0.3
    with pytest.raises(InputError, match="no threshold for group 'M' and no default"):
        _run(group_thresholds=GroupThresholdSpec("sex", {"F": 0.3}))
    with pytest.raises(InputError, match="'age', which is not audited"):
        _run(group_thresholds=GroupThresholdSpec("age", {"F": 0.3}))


def test_a_criterion_added_to_the_table_is_computed_with_an_interval(monkeypatch) -> None:
    from fairaudit.metrics import criteria

    monkeypatch.setitem(criteria.CRITERIA, "npv_difference", (("npv",), "difference"))
    parts = _run(AuditConfig(n_bootstrap=100, n_permutations=50, min_group_size=10, min_group_events=5))
    c = next(c for c in parts.criteria if c.attribute == "sex" and c.name == "npv_difference")
    npv = {g.group: g.metrics["npv"].value for g in parts.groups if g.attribute == "sex"}
    assert c.value == pytest.approx(max(npv.values()) - min(npv.values())) and c.value > 0.1
    assert c.ci is not None and c.ci[0] <= c.value <= c.ci[1]
    assert c.p_value is None  # no permutation test over NPV


@pytest.mark.parametrize("clustered", [False, True])
def test_numbers_do_not_depend_on_threads_or_chunks(clustered: bool) -> None:
    """Each replicate has its own random stream: 1 or 3 threads, chunks of 7 or 64 replicates
    (out-of-order completion included), the same numbers."""
    kw = {"clusters": np.arange(N) // 2} if clustered else {}
    base = AuditConfig(n_bootstrap=120, n_permutations=0, seed=9, min_group_size=10,
                       min_group_events=5, jobs=1)
    ref = _run(base, **kw)
    for jobs, chunk in ((3, 7), (2, 64), (1, 5)):
        assert _run(dataclasses.replace(base, jobs=jobs, chunk=chunk), **kw) == ref
    other = _run(dataclasses.replace(base, seed=10), **kw)
    assert other != ref  # the seed still matters


def test_p_values_only_over_sufficient_groups_and_seeded() -> None:
    """criterion_pvalues through the engine: with the intersection's groups too small, its
    criteria get no p-value while sex's do (the AUC difference's too); same seed, same p."""
    config = AuditConfig(n_bootstrap=0, n_permutations=200, seed=3, min_group_size=61,
                         min_group_events=5)
    crit = {(c.attribute, c.name): c for c in _run(config).criteria}
    defined = [n for n in CRITERIA_NAMES if n != "equalized_odds_ratio"]  # FPR 0 in both groups
    assert all(crit["sex", n].p_value is not None for n in defined)
    assert crit["sex", "equal_opportunity_difference"].p_value < 0.01  # the planted TPR gap
    assert crit["sex", "equalized_odds_ratio"].p_value is None
    assert all(crit["sex & site", n].p_value is None for n in CRITERIA_NAMES)
    again = {(c.attribute, c.name): c for c in _run(config).criteria}
    assert [c.p_value for c in crit.values()] == [c.p_value for c in again.values()]


def test_progress_is_told_of_every_chunk_on_the_calling_thread() -> None:
    """With chunks on threads, the progress callback still runs on the caller's thread (rich
    progress bars are not thread-safe), once per chunk, adding up to every replicate."""
    import threading

    seen: list[tuple[int, str]] = []
    config = AuditConfig(n_bootstrap=150, n_permutations=0, min_group_size=10, min_group_events=5,
                         jobs=2, chunk=16)
    _run(config, progress=lambda r: seen.append((r, threading.current_thread().name)))
    assert [r for r, _ in seen] == [16] * 9 + [6]
    assert {name for _, name in seen} == {threading.current_thread().name}
