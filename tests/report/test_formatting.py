"""fairaudit.report.formatting: how every view writes a number, an interval, a share, a p-value."""

from __future__ import annotations

from fairaudit.report.formatting import fmt, fmt_ci, fmt_ci_bracketed, fmt_estimate, fmt_p, fmt_pct
from fairaudit.result import Estimate


def test_numbers_and_undefined_values() -> None:
    assert fmt(0.71249) == "0.712" and fmt(0.5, 1) == "0.5" and fmt(None) == "—"
    assert fmt(0.0) == "0.000"  # zero is a value, not undefined


def test_intervals_in_their_two_spellings() -> None:
    assert fmt_ci((0.7123, 0.8016)) == "0.712–0.802"
    assert fmt_ci_bracketed((0.7123, 0.8016), 2) == "[0.71, 0.80]"
    assert fmt_ci(None) == "" and fmt_ci_bracketed(None) == ""


def test_estimates_in_one_cell() -> None:
    assert fmt_estimate(Estimate(0.756, (0.712, 0.801))) == "0.756 [0.712, 0.801]"
    assert fmt_estimate(Estimate(0.756)) == "0.756"
    assert fmt_estimate(Estimate(None, reason="no positives")) == "—"
    assert fmt_estimate(None) == "—"


def test_shares_and_p_values() -> None:
    assert fmt_pct(0.1234) == "12.3%" and fmt_pct(None) == "—"
    assert fmt_p(0.0004) == "<0.001" and fmt_p(0.001) == "0.001" and fmt_p(0.04567) == "0.046"
    assert fmt_p(None) == "—"


def test_code_spans_hold_data_text_literally() -> None:
    from fairaudit.report.formatting import md_code

    assert md_code("age_band & <x>") == "`age_band & <x>`"  # no escapes inside a code span
    assert md_code("a`b") == "``a`b``"  # a fence longer than any backtick run in the text
    assert md_code("`x") == "`` `x ``"  # padded where the text starts or ends with one
    assert md_code("two\nlines") == "`two lines`"


def test_terminal_safe_escapes_control_characters_only() -> None:
    from fairaudit.report.formatting import terminal_safe

    assert terminal_safe("Région São Paulo & <b>") == "Région São Paulo & <b>"
    assert terminal_safe("a\x1b[2Jb\rc\td\x07") == "a\\x1b[2Jb\\rc\\td\\x07"
