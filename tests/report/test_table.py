"""fairaudit.report.table: the terminal view (plain text when piped)."""

from __future__ import annotations

from fairaudit.report.table import GROUP_COLUMNS, HEADERS, render_table
from fairaudit.result import METRIC_NAMES, GateOutcome, RuleOutcome
from tests.report.reportdata import make_result


def test_table_lists_every_attribute_and_group_with_headers() -> None:
    result = make_result(n_bootstrap=20)
    text = render_table(result, width=240)
    assert set(GROUP_COLUMNS) <= set(METRIC_NAMES) and set(HEADERS) == set(GROUP_COLUMNS)
    for attr in result.audited_attributes:
        assert f"By {attr}" in text
    for g in result.groups_of("race"):
        assert g.group in text
    assert "\x1b[" not in text  # no colour codes unless asked


def test_table_shows_the_gate_only_when_it_ran() -> None:
    result = make_result(n_bootstrap=20)
    assert "Gate" not in render_table(result, width=240)
    gated = result.with_gate(GateOutcome(status="fail", policy="p", rules=(
        RuleOutcome(id="eod", status="fail", message="equalized odds too large"),
    )))
    text = render_table(gated, width=240)
    assert "eod" in text and "FAIL" in text.upper()


def test_small_cells_are_suppressed_in_the_table() -> None:
    result = make_result(n_bootstrap=20)
    small = min(result.groups, key=lambda g: g.n)
    k = small.n + 1
    text = render_table(result, width=240, suppress_small_cells=k)
    assert f"<{k}" in text
