"""Number formatting shared by the text views (terminal, Markdown, HTML)."""

from __future__ import annotations

from fairaudit.result import Estimate


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return "" if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def fmt_estimate(est: Estimate | None, digits: int = 3) -> str:
    if est is None or est.value is None:
        return "—"
    ci = fmt_ci(est.ci, digits)
    return f"{est.value:.{digits}f} {ci}".strip()


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
