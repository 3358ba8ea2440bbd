"""Reports that read with many groups: funnel and caterpillar plots, flagged rows first, the rest
folded, curve figures limited to a few groups, and a page that stays small."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest

from fairaudit.report import manygroups
from fairaudit.report.html import render_html
from fairaudit.report.markdown import render_markdown
from tests.report.manydata import N_SITES, PLANTED, many_group_result
from tests.report.reportdata import make_result

MAX_BYTES = 2_000_000


@pytest.fixture(scope="module")
def result():
    return many_group_result()


@pytest.fixture(scope="module")
def html(result):
    return render_html(result)


def _svgs(html: str) -> list[str]:
    return [base64.b64decode(u).decode("utf-8")
            for u in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)]


def _section(html: str, section: str) -> str:
    start = html.index(f'<section id="{section}"')
    return html[start:html.index("</section>", start)]


def test_binomial_limits_match_the_normal_approximation_for_large_groups():
    lo, hi = manygroups.binomial_limits(0.3, 10_000, 0.998)
    se = (0.3 * 0.7 / 10_000) ** 0.5
    assert lo == pytest.approx(0.3 - 3.0902 * se, abs=2e-4)
    assert hi == pytest.approx(0.3 + 3.0902 * se, abs=2e-4)
    widths = [manygroups.binomial_limits(0.3, m, 0.95) for m in (10, 100, 1000)]
    assert all(a[0] < b[0] < 0.3 < b[1] < a[1] for a, b in zip(widths, widths[1:], strict=False))
    assert manygroups.binomial_limits(0.3, 5, 0.998)[0] == 0.0  # clipped at 0
    assert manygroups.binomial_limits(1.0, 10, 0.95) == (1.0, 1.0)  # degenerate overall rate
    assert manygroups.binomial_limits(0.0, 10, 0.95) == (0.0, 0.0)


def test_a_tiny_group_is_not_flagged_for_a_rate_it_cannot_avoid():
    # 1 of 1 positives detected: the interpolated drawing limit lies below 1.0, the exact tail does not.
    assert manygroups.outside(1.0, 0.6, 1) == pytest.approx(0.6)
    assert manygroups.outside(0.0, 0.6, 40) < 0.001


def test_html_of_a_1000_group_audit_stays_small(result, html):
    assert len(result.groups_of("site")) == N_SITES
    assert len(html.encode("utf-8")) < MAX_BYTES
    # The page is still complete: every group appears in the composition and performance tables.
    for section in ("composition", "performance"):
        rows = re.findall(r"<tr><td>(site\d{4})<", _section(html, section))
        assert len(set(rows)) == N_SITES, section


def test_planted_groups_are_flagged_and_listed_first(html):
    perf = _section(html, "performance")
    folded_at = perf.index('<details class="more folded">')
    open_rows = re.findall(r"<tr><td>(site\d{4})<", perf[:folded_at])
    assert set(PLANTED) <= set(open_rows)
    assert len(open_rows) <= 15  # about 0.2% of 2 x 1000 fair groups by chance, plus the planted
    assert set(open_rows[:5]) == set(PLANTED)  # most divergent first
    assert "more groups within the 99.8% funnel limits" in perf[folded_at:]
    assert f"{N_SITES} groups. The {len(open_rows)} flagged by the funnel plot" in perf
    assert 'title="TPR (sensitivity) below the 99.8% funnel limit' in perf[:folded_at]


def test_funnel_and_caterpillar_plots(html):
    comp = _section(html, "comparison")
    assert "Funnel plots: site" in comp and "Caterpillar plots: site" in comp
    assert "family-wise simultaneous intervals across the groups" in comp
    assert re.search(r"\d+ of 1000 groups flagged", comp)
    svgs = _svgs(comp)
    assert len(svgs) == 2
    funnel = svgs[0]
    assert "99.8% limits" in funnel and "95% limits" in funnel and "overall" in funnel
    # The five most divergent flagged groups are named on the funnel.
    assert sum(name in funnel for name in PLANTED) >= 4


def test_curve_figures_show_at_most_eight_groups_and_say_so(result, html):
    for section in ("roc", "calibration", "thresholds"):
        part = _section(html, section)
        assert "Showing 8 of 1000 groups: the 4 largest and 4 flagged" in part
        (svg,) = _svgs(part)
        named = set(re.findall(r"site\d{4}", svg))
        assert len(named) == 8
        largest = sorted(result.groups_of("site"), key=lambda g: -g.n)[0].group
        assert largest in named and len(named & set(PLANTED)) >= 3


def test_criteria_notes_do_not_list_hundreds_of_groups(html):
    crit = _section(html, "criteria")
    assert len(crit) < 20_000
    assert re.search(r"\d{3} groups are too small to judge", crit)


def test_simultaneous_intervals_are_used_when_the_result_has_them(result):
    def widen(est):
        if est.ci is None:
            return est
        return dataclasses.replace(est, simultaneous_ci=(max(0.0, est.ci[0] - 0.1), min(1.0, est.ci[1] + 0.1)))

    groups = tuple(dataclasses.replace(g, metrics={k: widen(v) for k, v in g.metrics.items()})
                   for g in result.groups)
    page = render_html(dataclasses.replace(result, groups=groups, curves=()))
    comp = _section(page, "comparison")
    assert "family-wise simultaneous intervals across the groups" in comp
    assert "95% simultaneous interval" in _svgs(comp)[1]


def test_small_cell_suppression_keeps_small_groups_out_of_the_plots(result):
    page = render_html(result, suppress_small_cells=25)
    comp = _section(page, "comparison")
    hidden = sum(1 for g in result.groups_of("site") if 0 < g.n < 25)
    assert hidden > 100
    assert f"{hidden} groups withheld by small-cell suppression are not drawn" in comp
    assert re.search(rf"\d+ of {N_SITES - hidden} groups flagged", comp)
    assert len(page.encode("utf-8")) < MAX_BYTES


def test_few_groups_keep_the_plain_report():
    page = render_html(make_result(n_bootstrap=20))
    assert 'id="comparison"' not in page and "more groups within" not in page
    assert "Showing" not in page


def test_markdown_folds_groups_within_the_limits(result):
    md = render_markdown(result)
    head, folded = md.split("<summary>", 1)
    assert all(f"| {name} |" in head for name in PLANTED)
    assert "flagged: TPR (sensitivity) below the 99.8% funnel limit" in head
    assert folded.startswith(f"{N_SITES - head.count('(flagged:')} more groups within the 99.8% funnel limits")
    assert len(md) < 400_000


MANY_POLICY = """
[groups]
min_size = 30
[[criterion]]
name = "equal_opportunity_difference"
max = 0.2
[[group_metric]]
metric = "tpr"
min = 0.5
"""


def test_a_gate_with_one_outcome_per_group_stays_readable(result):
    from fairaudit.gate import evaluate, parse_policy

    gated = result.with_gate(evaluate(result, parse_policy(MANY_POLICY)))
    assert len(gated.gate.rules) > N_SITES
    assert max(len(r.message) for r in gated.gate.rules) > 20_000  # the criterion lists every small site
    page = render_html(gated)
    assert len(page.encode("utf-8")) < MAX_BYTES
    verdict = _section(page, "verdict")
    head, folded = verdict.split('<details class="more folded">', 1)
    n_fail = sum(1 for r in gated.gate.rules if r.status == "fail")
    assert head.count('<tr class="rule-fail">') == n_fail > 0
    assert "more rule outcomes (every failed rule is listed above" in folded
    cells = re.findall(r'<td class="wide">(.*?)</td>', head, flags=re.S)
    assert max(len(c) for c in cells) < 10_000 and "more characters)" in head
    md = render_markdown(gated)
    assert len(md) < 600_000 and "more rule outcomes" in md


def test_withheld_groups_are_neither_flagged_nor_ranked(result):
    # K above the planted sites' sizes withholds their numbers (and those of every smaller site).
    k = max(result.group("site", name).n for name in PLANTED) + 1
    page = render_html(result, suppress_small_cells=k)
    perf = _section(page, "performance")
    folded = perf[perf.index('<details class="more folded">'):]
    rows = re.findall(r"<tr><td>(site\d{4})<", folded)
    hidden = sorted(g.group for g in result.groups_of("site") if 0 < g.n < k)
    assert set(PLANTED) <= set(hidden)
    assert rows[-len(hidden):] == hidden  # last, in name order
    assert not any(name in perf[:perf.index('<details class="more folded">')] for name in PLANTED)
    assert not any(name in "".join(_svgs(page)) for name in PLANTED)
