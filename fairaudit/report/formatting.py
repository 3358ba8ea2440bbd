"""Number formatting shared by the views (terminal, Markdown, HTML, comparison page).

The one home of how a number, an interval, a share or a p-value is written. The HTML and
Markdown reports write an interval as ``0.712–0.801`` (:func:`fmt_ci`, beside the value in its own
column); the terminal table writes a value and its interval in one cell as
``0.756 [0.712, 0.801]`` (:func:`fmt_estimate`, via :func:`fmt_ci_bracketed`).
"""

from __future__ import annotations

import re

from fairaudit.result import Estimate


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for display; ``—`` when undefined."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    """An interval as ``low–high`` (en dash); empty when there is none."""
    if ci is None:
        return ""
    return f"{ci[0]:.{digits}f}–{ci[1]:.{digits}f}"


def fmt_ci_bracketed(ci: tuple[float, float] | None, digits: int = 3) -> str:
    """An interval as ``[low, high]``; empty when there is none."""
    return "" if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def fmt_pct(x: float | None) -> str:
    """A share as a percentage with one decimal; ``—`` when undefined."""
    return "—" if x is None else f"{100 * x:.1f}%"


def fmt_estimate(est: Estimate | None, digits: int = 3) -> str:
    """A value and its bracketed interval in one cell (``0.756 [0.712, 0.801]``)."""
    if est is None or est.value is None:
        return "—"
    ci = fmt_ci_bracketed(est.ci, digits)
    return f"{est.value:.{digits}f} {ci}".strip()


def fmt_p(p: float | None) -> str:
    """A p- or q-value: three decimals, ``<0.001`` below that."""
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def md_code(text: str) -> str:
    """Data text as a Markdown code span. Inside one, entities and backslash escapes are shown
    literally, so the text goes in as it is (whitespace runs and newlines become one space),
    fenced by more backticks than any run it holds."""
    s = " ".join(str(text).split())
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", s)), default=0))
    pad = " " if s[:1] == "`" or s[-1:] == "`" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def terminal_safe(text: str) -> str:
    """``text`` with every non-printable character (terminal escape sequences, carriage
    returns, tabs) shown as its Python escape (``\\x1b``), so data cannot move the cursor,
    recolour or overwrite a terminal's output."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in str(text))
