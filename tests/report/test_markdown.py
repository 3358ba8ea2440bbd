"""The Markdown view: verdict and rules first, tables per attribute, data text escaped."""

from __future__ import annotations

import pytest

from fairaudit.gate import evaluate, parse_policy
from fairaudit.report.markdown import escape, render_markdown
from tests.report.reportdata import make_result

POLICY = '[policy]\nname = "md"\n[[group_metric]]\nmetric = "auc"\nattributes = ["race"]\nmin = 0.8\n'
NASTY = {"Asian": "<script>alert(1)</script>", "Black": 'B|l*a_c`k [x](y) "q" & \'s\''}


@pytest.fixture(scope="module")
def result():
    r = make_result(names=NASTY, n_bootstrap=30)
    return r.with_gate(evaluate(r, parse_policy(POLICY)))


def test_structure_and_numbers(result):
    md = render_markdown(result)
    assert md.startswith("## ")
    assert "(policy md)" in md
    lines = md.splitlines()
    # Every table row has the same number of cells as its header (no stray pipes from data).
    tables, current = [], []
    for line in lines + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert len(tables) >= 1 + 3 * 3
    for table in tables:
        widths = {len([c for c in _split_row(row)]) for row in table}
        assert len(widths) == 1, table[:3]
    white = result.group("race", "White")
    auc = white.metrics["auc"]
    row = next(line for line in lines if line.startswith("| White |"))
    assert f"{auc.value:.3f} ({auc.ci[0]:.3f}–{auc.ci[1]:.3f})" in row
    assert f"| {white.n} |" in row
    eod = result.criterion("sex", "equalized_odds_difference")
    assert any(f"| {eod.value:.3f} |" in line and "Equalised odds difference" in line for line in lines)
    assert "<details>" in md  # intersections collapsed


def _split_row(row: str) -> list[str]:
    cells, buf, escaped = [], "", False
    for ch in row.strip()[1:-1]:
        if ch == "|" and not escaped:
            cells.append(buf)
            buf = ""
        else:
            buf += ch
        escaped = ch == "\\" and not escaped
    return cells + [buf]


def test_data_text_is_escaped(result):
    md = render_markdown(result)
    assert "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert r"B\|l\*a\_c\`k \[x\](y) &quot;q&quot; &amp; 's'" in md


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a|b", r"a\|b"), ("<b>", "&lt;b&gt;"), ("x & y", "x &amp; y"), ("line\nbreak", "line break"),
     ("**bold**", r"\*\*bold\*\*"), ("back\\slash", "back\\\\slash")],
)
def test_escape(raw, expected):
    assert escape(raw) == expected


def test_suppression_hides_small_counts(result):
    md = render_markdown(result, suppress_small_cells=30)
    row = next(line for line in md.splitlines() if line.startswith("| Pacific Islander |"))
    assert "<30" in row and "suppressed" in row
    assert "Small-cell suppression" in md


def test_not_run_without_policy():
    md = render_markdown(make_result(n_bootstrap=0))
    assert "NOT RUN" in md.splitlines()[0]


def _with_worse_insufficient(result):
    import dataclasses

    from fairaudit.result import FlaggedValue

    flagged = (FlaggedValue("Pacific Islander", 0.1, "n=17 < minimum group size 30"),
               FlaggedValue("unknown", 0.5, "3 negatives < minimum 10"))
    summaries = tuple(
        dataclasses.replace(s, insufficient_groups=flagged) if (s.attribute, s.metric) == ("race", "auc") else s
        for s in result.summaries
    )
    return dataclasses.replace(result, summaries=summaries)


def test_summaries_show_insufficient_groups_flagged():
    from fairaudit.report.html import render_html

    result = _with_worse_insufficient(make_result(n_bootstrap=20))
    expected = ("worst including insufficient groups: Pacific Islander 0.100 "
                "(insufficient: n=17 < minimum group size 30); 1 more insufficient")
    md = render_markdown(result)
    assert expected.replace("<", "&lt;") in md
    assert expected.replace("<", "&lt;") in render_html(result)


def test_insufficient_summary_values_respect_suppression():
    result = _with_worse_insufficient(make_result(n_bootstrap=20))
    pacific = result.group("race", "Pacific Islander")
    assert pacific.n < 30
    md = render_markdown(result, suppress_small_cells=30)
    line = next(x for x in md.splitlines() if x.startswith("| AUC |") and "Pacific Islander" in x)
    assert "Pacific Islander suppressed (n&lt;30 &lt; minimum group size 30)" in line
    assert "17" not in line and "0.100" not in line


def test_the_label_column_is_shown_literally_in_its_code_span():
    """Inside a code span Markdown shows escapes as typed: the label goes in as it is."""
    import dataclasses

    r = make_result(n_bootstrap=0)
    r = dataclasses.replace(r, dataset=dataclasses.replace(r.dataset, label="dx_<a>`b"))
    md = render_markdown(r)
    assert "label ``dx_<a>`b``;" in md
