"""fairaudit.report.comparison: the HTML page of ``fairaudit mitigate``'s before/after comparison.

Built from a hand-made :class:`Comparison` (variants, group changes and settings written out here;
the variants' audits from the synthetic ``reportdata.make_result``), so no model is trained and
no bootstrap runs. The page is parsed with ``html.parser``: assertions read the text a browser
shows, and check that names from the data never reach the markup unescaped.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import pytest

from fairaudit.comparison_result import Comparison, GroupChange, VariantSummary
from fairaudit.report.comparison import build_comparison_context, render_comparison_html
from fairaudit.result import AuditResult, ThresholdInfo
from tests.report.reportdata import make_result

SCRIPT = "<script>alert(1)</script>"
QUOTES = "\"'&"
THRESHOLD = "threshold <b>eo</b>"
RATES = {"overall_auc": 0.8123, "overall_tpr": 0.7011, "worst_group_auc": 0.6544, "worst_group_tpr": 0.5012,
         "equalized_odds_difference": 0.1234, "fnr_gap": 0.0987}


def variant(name: str, method: str, verdict: str, shift: float = 0.0, **kw: Any) -> VariantSummary:
    """A variant whose every rate is ``RATES`` + ``shift``, with an interval of ±0.02."""
    values: dict[str, Any] = {}
    for key, value in RATES.items():
        values[key] = round(value + shift, 4)
        values[f"{key}_ci"] = (round(value + shift - 0.02, 4), round(value + shift + 0.02, 4))
    values.update(worst_auc_group=QUOTES, worst_tpr_group=SCRIPT, accuracy=0.8456)
    values.update(kw)
    return VariantSummary(name=name, method=method, attribute="race", verdict=verdict, **values)  # type: ignore[arg-type]


def change(name: str, attribute: str, group: str, metric: str, delta: float | None, status: str) -> GroupChange:
    ci = None if delta is None else (round(delta - 0.03, 4), round(delta + 0.01, 4))
    after = None if delta is None else round(0.7 + delta, 4)
    return GroupChange(name, attribute, group, metric, 0.7, after, delta, ci, status)  # type: ignore[arg-type]


# In audit order; the page puts harm first, then the targeted attribute (race).
CHANGES = (
    change(THRESHOLD, "sex", "F", "fpr", 0.031, "harmed"),
    change(THRESHOLD, "race", "Pacific Islander", "tpr", None, "insufficient"),
    change(THRESHOLD, "race", QUOTES, "tpr", 0.052, "improved"),
    change(THRESHOLD, "race", SCRIPT, "tpr", -0.123, "harmed"),
    change("dro", "race", "White", "tpr", -0.021, "possible harm"),
    change("reweighting", "race", "White", "balanced_accuracy", 0.0, "unchanged"),
    change("harm", "sex", "M", "ppv", 0.044, "improved"),
    change("harm", "race", "White", "ppv", -0.061, "harmed"),
)
VARIANTS = (
    variant("baseline", "none", "baseline", provenance={"checkpoint": "base.pt"}),
    variant(THRESHOLD, "threshold", "levelling down", -0.05, accuracy=None, worst_tpr_group=None,
            gaps_over="sufficient groups only",
            provenance={"objective": SCRIPT, "group_thresholds": {"White": 0.4}, "grid": [0.1, 0.25]}),
    variant("reweighting", "reweighting", "no harm detected", 0.01),
    variant("dro", "group-dro", "possible harm", 0.02),
    variant("harm", "stratified", "harm", 0.03),
)
SETTINGS = {"confidence_level": 0.9, "n_bootstrap": 200, "methods": ["threshold", "reweighting"],
            "split": {"val_fraction": 0.3, "seed": 1}, "checkpoint": None, "note": SCRIPT}


@pytest.fixture(scope="module")
def audit() -> AuditResult:
    return make_result(n_bootstrap=10, names={"Asian": SCRIPT, "Black": QUOTES})


def make_comparison(audit: AuditResult, variants=VARIANTS, changes=CHANGES,
                    settings: Mapping[str, Any] = SETTINGS) -> Comparison:
    """The baseline's audit as it is; the threshold variant's with per-group thresholds and
    without a PPV for White (an undefined cell)."""
    groups = tuple(dataclasses.replace(g, metrics={k: v for k, v in g.metrics.items() if k != "ppv"})
                   if (g.attribute, g.group) == ("race", "White") else g for g in audit.groups)
    adjusted = dataclasses.replace(audit, groups=groups, threshold=ThresholdInfo(
        0.5, "validation", {SCRIPT: 0.41, QUOTES: 0.625}, "race"))
    return Comparison(baseline="baseline", attribute="race", variants=tuple(variants), changes=tuple(changes),
                      audits={"baseline": audit, THRESHOLD: adjusted}, settings=settings)


class Page(HTMLParser):
    """Table rows (cell texts, row class, badge kinds) and text of each ``<section>``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.section = ""
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.text: dict[str, str] = {}
        self.titles: list[str] = []
        self._row: dict[str, Any] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.section = a.get("id", "")
        elif tag == "tr":
            self._row = {"class": a.get("class", ""), "cells": [], "badges": []}
        elif tag in ("td", "th"):
            self._cell = []
            if a.get("title"):
                self.titles.append(a["title"])
        elif tag == "span" and self._row is not None and a.get("class", "").startswith("badge "):
            self._row["badges"].append(a["class"].split()[1].removeprefix("badge-"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self.section, []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        self.text[self.section] = self.text.get(self.section, "") + data


def cell(value: float | None, ci: tuple[float, float] | None) -> str:
    return "—" if value is None else f"{value:.3f}" + (f" {ci[0]:.3f}–{ci[1]:.3f}" if ci else "")


@pytest.fixture(scope="module")
def page(audit) -> Page:
    return Page(render_comparison_html(make_comparison(audit), figures=False))


def test_every_variant_has_a_row_with_its_numbers_and_verdict(audit, page):
    header, *rows = page.rows["variants"]
    assert header["cells"][:4] == ["Variant", "Method", "Overall AUC", "Overall sensitivity"]
    assert [r["cells"][0] for r in rows] == [v.name for v in VARIANTS]
    for v, row in zip(VARIANTS, rows, strict=True):
        assert row["cells"][1:11] == [
            v.method, cell(v.overall_auc, v.overall_auc_ci), cell(v.overall_tpr, v.overall_tpr_ci),
            cell(v.worst_group_auc, v.worst_group_auc_ci), v.worst_auc_group or "—",
            cell(v.worst_group_tpr, v.worst_group_tpr_ci), v.worst_tpr_group or "—",
            cell(v.equalized_odds_difference, v.equalized_odds_difference_ci), cell(v.fnr_gap, v.fnr_gap_ci),
            "—" if v.accuracy is None else f"{v.accuracy:.3f}"]
    verdicts = {r["cells"][0]: (r["cells"][11], r["badges"]) for r in rows}
    assert verdicts == {
        "baseline": ("baseline", ["not_run"]),
        THRESHOLD: ("levelling down 2 harmed, 1 improved", ["fail"]),  # closing a gap by harm fails
        "reweighting": ("no harm detected", ["pass"]),
        "dro": ("possible harm", ["inconclusive"]),
        "harm": ("harm 1 harmed, 1 improved", ["fail"]),
    }
    assert "the gaps shown are over the sufficient groups only" in page.text["variants"]
    rows = build_comparison_context(make_comparison(audit), figures=False)["variants"]
    assert [r["partial_gaps"] for r in rows] == [False, True, False, False, False]


def test_do_no_harm_rows_put_harm_first_and_flag_it(page):
    header, *rows = page.rows["harm"]
    assert header["cells"] == ["Variant", "Attribute", "Group", "Metric", "Before", "After", "Change",
                               "90% CI of change", "Status"]
    assert [(r["cells"], r["class"], r["badges"]) for r in rows] == [
        # harmed: the targeted attribute first, then the rest in audit order
        ([THRESHOLD, "race", SCRIPT, "Sensitivity (TPR)", "0.700", "0.577", "-0.123", "-0.153–-0.113", "harmed"],
         "rule-fail", ["fail"]),
        (["harm", "race", "White", "PPV", "0.700", "0.639", "-0.061", "-0.091–-0.051", "harmed"], "rule-fail", ["fail"]),
        ([THRESHOLD, "sex", "F", "False-positive rate (FPR)", "0.700", "0.731", "+0.031", "0.001–0.041", "harmed"],
         "rule-fail", ["fail"]),
        (["dro", "race", "White", "Sensitivity (TPR)", "0.700", "0.679", "-0.021", "-0.051–-0.011", "possible harm"],
         "", ["inconclusive"]),
        ([THRESHOLD, "race", QUOTES, "Sensitivity (TPR)", "0.700", "0.752", "+0.052", "0.022–0.062", "improved"],
         "", ["pass"]),
        (["harm", "sex", "M", "PPV", "0.700", "0.744", "+0.044", "0.014–0.054", "improved"], "", ["pass"]),
        (["reweighting", "race", "White", "balanced_accuracy", "0.700", "0.700", "+0.000", "-0.030–0.010", "unchanged"],
         "", ["not_run"]),
        ([THRESHOLD, "race", "Pacific Islander", "Sensitivity (TPR)", "0.700", "—", "—", "", "insufficient"],
         "", ["insufficient"]),
    ]


def test_header_counts_harmed_group_metrics(audit):
    def chip(changes) -> tuple[str, str]:
        html = render_comparison_html(make_comparison(audit, changes=changes), figures=False)
        found = re.search(r'class="verdict-chip verdict-(\w+)" role="status">([^<]*)<', html)
        assert found is not None
        return found.group(1), found.group(2)

    assert chip(CHANGES) == ("fail", "3 harmed group-metrics")
    assert chip(CHANGES[3:4]) == ("fail", "1 harmed group-metric")
    assert chip(CHANGES[4:6]) == ("pass", "0 harmed group-metrics")


def test_group_tables_show_each_audit_with_its_thresholds(audit, page):
    ctx = build_comparison_context(make_comparison(audit), figures=False)
    assert ctx["group_metrics"] == ["AUC", "Sensitivity (TPR)", "False-positive rate (FPR)", "FNR", "PPV",
                                    "balanced accuracy"]
    base, adjusted = ctx["group_tables"]
    assert (base["variant"], base["threshold"], base["group_thresholds"]) == ("baseline", "0.500", [])
    assert adjusted["group_thresholds"] == [{"group": SCRIPT, "value": "0.410"}, {"group": QUOTES, "value": "0.625"}]
    rows = [r for r in page.rows["groups"] if r["cells"][0] in {g.group for g in audit.groups_of("race")}]
    assert [r["cells"][0] for r in rows] == [g.group for g in audit.groups_of("race")] * 2
    metrics = ("auc", "tpr", "fpr", "fnr", "ppv", "balanced_accuracy")
    for g, row in zip(audit.groups_of("race"), rows[:5], strict=True):
        assert row["cells"][1:8] == [str(g.n), *(cell(g.metrics[m].value, g.metrics[m].ci) for m in metrics)]
    white = rows[5 + [g.group for g in audit.groups_of("race")].index("White")]
    assert white["cells"][6] == "—" and "undefined or not computed" in page.titles  # no PPV in that audit
    criteria = [r["cells"][0] for r in page.rows["groups"] if r["cells"][0].endswith("difference")]
    assert criteria == ["equalized odds difference", "equal opportunity difference",
                        "demographic parity difference", "auc difference"] * 2
    assert f"Thresholds: {SCRIPT} = 0.410, {QUOTES} = 0.625." in page.text["groups"]


def test_settings_and_provenance_are_formatted(audit, page):
    ctx = build_comparison_context(make_comparison(audit), figures=False)
    assert ctx["level_pct"] == "90%"
    assert {s["key"]: s["value"] for s in ctx["settings"]} == {
        "confidence_level": "0.9000", "n_bootstrap": "200", "methods": "threshold, reweighting",
        "split": "val_fraction=0.3000; seed=1", "checkpoint": "—", "note": SCRIPT}
    provenance = {p["variant"]: {i["key"]: i["value"] for i in p["items"]} for p in ctx["provenance"]}
    assert provenance[THRESHOLD] == {"objective": SCRIPT, "grid": "0.1, 0.25"}  # group_thresholds: in the tables
    assert provenance["reweighting"] == {}
    kv = {r["cells"][0]: r["cells"][1] for r in page.rows["settings"]}
    assert kv["split"] == "val_fraction=0.3000; seed=1" and kv["objective"] == SCRIPT


def test_names_from_the_data_are_escaped(audit):
    html = render_comparison_html(make_comparison(audit), figures=False)
    for raw in (SCRIPT, "<b>eo</b>", QUOTES):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&#34;&#39;&amp;" in html
    assert "threshold &lt;b&gt;eo&lt;/b&gt;" in html
    assert html.count("<script") == html.count("</script>")  # the page's own inline script only


def test_figures_false_leaves_out_the_images_and_a_change_figure_needs_changes(audit):
    comparison = make_comparison(audit)
    ctx = build_comparison_context(comparison, figures=False)
    assert (ctx["tradeoff_figure"], ctx["tpr_change_figure"], ctx["auc_change_figure"]) == (None, None, None)
    html = render_comparison_html(comparison, figures=False)
    assert "data:image" not in html and "<figure" not in html
    drawn = render_comparison_html(comparison)
    # The trade-off and the sensitivity changes; no variant changed a group's AUC, so no AUC figure.
    assert drawn.count('<img src="data:image/svg+xml;base64,') == 2 and drawn.count("<figure") == 2
    assert "Change in each group&#39;s sensitivity" in drawn and "Change in each group&#39;s AUC" not in drawn
