"""Before/after comparison: paired CIs of changes, harm and levelling-down flags, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairaudit.comparison_result import Variant
from fairaudit.data import from_frame
from fairaudit.result import AuditResult
from fairaudit.workflows.before_after import compare_variants


def _cohort(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Group A is well served (high TPR), group B poorly (its positives score lower)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["A", "B"], n, p=[0.6, 0.4])
    y = (rng.random(n) < 0.35).astype(int)
    z = rng.normal(0, 1, n) + y * np.where(g == "A", 2.5, 1.2) - 1.0
    return pd.DataFrame({"y": y, "group": g, "patient": rng.integers(0, n // 2, n), "score": 1 / (1 + np.exp(-z))})


@pytest.fixture(scope="module")
def levelled() -> tuple:
    frame = _cohort()
    test = from_frame(frame, label="y", sensitive="group", score="score", source="test.csv")
    s = frame["score"].to_numpy()
    is_a = (frame["group"] == "A").to_numpy()
    # Levelling down: push group A's scores down until its sensitivity is near group B's.
    down = np.where(is_a, s * 0.7, s)
    # Levelling up: raise group B's positives' scores (a better model for B).
    up = np.where(~is_a & (frame["y"] == 1).to_numpy(), np.minimum(1.0, s * 1.6), s)
    variants = [
        Variant("baseline", s, 0.5),
        Variant("same", s.copy(), 0.5, method="none"),
        Variant("level down", down, 0.5, method="threshold"),
        Variant("level up", up, 0.5, method="reweighting"),
    ]
    cmp = compare_variants(test, variants, n_bootstrap=400, seed=3)
    return cmp, frame


def test_levelling_down_is_flagged(levelled) -> None:
    cmp, _ = levelled
    v = cmp.variant("level down")
    assert v.verdict == "levelling down"
    assert "group=A (tpr)" in v.harmed
    assert v.equalized_odds_difference < cmp.variant("baseline").equalized_odds_difference
    (a_tpr,) = [c for c in cmp.changes_of("level down") if c.group == "A" and c.metric == "tpr"]
    assert a_tpr.status == "harmed" and a_tpr.ci[1] < 0 and a_tpr.change < 0
    (b_tpr,) = [c for c in cmp.changes_of("level down") if c.group == "B" and c.metric == "tpr"]
    assert b_tpr.status == "unchanged" and b_tpr.change == 0.0


def test_identical_variant_is_unharmed_with_zero_width_intervals(levelled) -> None:
    cmp, _ = levelled
    v = cmp.variant("same")
    assert v.verdict == "no harm detected" and v.harmed == () and v.improved == ()
    for c in cmp.changes_of("same"):
        assert c.change == 0.0 and c.ci == (0.0, 0.0) and c.status == "unchanged"


def test_levelling_up_is_an_improvement_not_harm(levelled) -> None:
    cmp, _ = levelled
    v = cmp.variant("level up")
    assert v.verdict == "no harm detected"
    assert "group=B (tpr)" in v.improved


def test_point_changes_are_differences_of_the_audits(levelled) -> None:
    cmp, _ = levelled
    base = cmp.audits["baseline"]
    for c in cmp.changes:
        before = base.group(c.attribute, c.group).metrics[c.metric].value
        after = cmp.audits[c.variant].group(c.attribute, c.group).metrics[c.metric].value
        assert c.before == pytest.approx(before, abs=1e-12)
        assert c.after == pytest.approx(after, abs=1e-12)
        assert c.change == pytest.approx(after - before, abs=1e-12)


def test_paired_interval_is_narrower_than_the_two_audit_intervals(levelled) -> None:
    # The shared sampling noise cancels in a paired difference.
    cmp, _ = levelled
    (c,) = [c for c in cmp.changes_of("level up") if c.group == "B" and c.metric == "auc"]
    before = cmp.audits["baseline"].group("group", "B").metrics["auc"].ci
    after = cmp.audits["level up"].group("group", "B").metrics["auc"].ci
    assert (c.ci[1] - c.ci[0]) < 0.5 * ((before[1] - before[0]) + (after[1] - after[0]))


def test_json_holds_every_audit_and_the_harm_table(levelled) -> None:
    cmp, _ = levelled
    data = json.loads(cmp.to_json())
    assert data["baseline"] == "baseline" and data["attribute"] == "group"
    assert {v["name"] for v in data["variants"]} == {"baseline", "same", "level down", "level up"}
    assert any(r["status"] == "harmed" for r in data["do_no_harm"])
    restored = AuditResult.from_dict(data["audits"]["level down"])
    assert restored.group("group", "A").n == cmp.audits["level down"].group("group", "A").n
    md = cmp.to_markdown()
    assert "levelling down: A (tpr)" in md


def test_patient_bootstrap_and_insufficient_groups() -> None:
    frame = _cohort(1200, seed=5)
    frame.loc[frame.index[:20], "group"] = "C"  # too small to judge
    test = from_frame(frame, label="y", sensitive="group", score="score", cluster="patient")
    s = frame["score"].to_numpy()
    cmp = compare_variants(test, [Variant("baseline", s, 0.5), Variant("low", s * 0.5, 0.5)],
                           n_bootstrap=200, seed=0)
    assert cmp.settings["bootstrap_unit"] == "patient"
    cs = [c for c in cmp.changes_of("low") if c.group == "C"]
    assert cs and all(c.status == "insufficient" for c in cs)
    assert "group=C (tpr)" not in cmp.variant("low").harmed
    # The gap is not computed as if C had rate 0: it is over the sufficient groups, and says so.
    v = cmp.variant("baseline")
    assert v.gaps_over == "sufficient groups only" and v.equalized_odds_difference is not None
    assert "†" in cmp.to_markdown()


def test_html_is_self_contained_and_escapes_group_names() -> None:
    from fairaudit.report.comparison import render_comparison_html

    frame = _cohort(900, seed=7)
    frame["group"] = frame["group"].map({"A": "<script>alert(1)</script>", "B": "B"})
    test = from_frame(frame, label="y", sensitive="group", score="score")
    s = frame["score"].to_numpy()
    cmp = compare_variants(test, [Variant("baseline", s, 0.5), Variant("low", s * 0.6, 0.5)],
                           n_bootstrap=100, seed=0)
    html = render_comparison_html(cmp)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert html.count("data:image/svg+xml;base64,") == 3
    for section in ("variants", "tradeoff", "harm", "groups", "settings"):
        assert f'id="{section}"' in html


@pytest.mark.parametrize(
    ("metric", "change", "ci", "status"),
    [
        ("tpr", -0.15, (-0.333, 0.0), "possible harm"),  # the interval touches 0
        ("tpr", -0.15, (-0.333, -0.01), "harmed"),
        ("tpr", -0.15, (-0.333, 0.02), "unchanged"),
        ("tpr", 0.0, (0.0, 0.0), "unchanged"),
        ("fpr", 0.4, (0.2, 0.6), "harmed"),  # a rise in FPR is a fall in specificity
        ("fpr", 0.1, (0.0, 0.3), "possible harm"),
        ("fpr", -0.2, (-0.3, -0.1), "improved"),
        ("ppv", -0.1, (-0.2, -0.05), "harmed"),
        ("auc", 0.05, (0.01, 0.09), "improved"),
    ],
)
def test_change_status_judges_each_metric_in_its_harmful_direction(metric, change, ci, status) -> None:
    from fairaudit.mitigation.compare import change_status

    assert change_status(metric, change, ci, True) == status
    assert change_status(metric, change, ci, False) == "insufficient"


def test_a_rise_in_false_positives_is_harm() -> None:
    frame = _cohort(2000, seed=7)
    test = from_frame(frame, label="y", sensitive="group", score="score")
    s = frame["score"].to_numpy()
    is_a = (frame["group"] == "A").to_numpy()
    # Group A's threshold effectively drops a lot: more true positives, far more false alarms.
    lowered = np.where(is_a, np.minimum(1.0, s * 3.0), s)
    cmp = compare_variants(test, [Variant("baseline", s, 0.5), Variant("lower A", lowered, 0.5)],
                           n_bootstrap=200, seed=1)
    v = cmp.variant("lower A")
    (fpr,) = [c for c in cmp.changes_of("lower A") if c.group == "A" and c.metric == "fpr"]
    assert fpr.change > 0.1 and fpr.status == "harmed"
    assert "group=A (fpr)" in v.harmed and v.verdict in ("harm", "levelling down")
    assert "group=A (tpr)" in v.improved


def test_a_drop_whose_interval_touches_zero_is_possible_harm_and_listed() -> None:
    frame = _cohort(1500, seed=11)
    test = from_frame(frame, label="y", sensitive="group", score="score")
    s = frame["score"].to_numpy()
    # Exactly one positive of group B falls below the threshold: TPR can only fall in every
    # resample, and resamples without that row show no change, so the interval ends at 0.
    rows = np.flatnonzero((frame["group"] == "B").to_numpy() & (frame["y"] == 1).to_numpy() & (s >= 0.5))
    moved = s.copy()
    moved[rows[0]] = 0.1
    cmp = compare_variants(test, [Variant("baseline", s, 0.5), Variant("one miss", moved, 0.5)],
                           n_bootstrap=400, seed=2)
    (c,) = [c for c in cmp.changes_of("one miss") if c.group == "B" and c.metric == "tpr"]
    assert c.change < 0 and c.ci[1] == 0.0 and c.ci[0] < 0
    assert c.status == "possible harm"
    v = cmp.variant("one miss")
    assert v.verdict == "possible harm" and "group=B (tpr)" in v.possible_harm
    assert "| possible harm: " in cmp.to_markdown() and "B (tpr)" in cmp.to_markdown()
    html = __import__("fairaudit.report.comparison", fromlist=["x"]).render_comparison_html(cmp)
    assert "possible harm" in html
