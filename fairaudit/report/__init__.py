"""Views of an :class:`~fairaudit.result.AuditResult`: terminal table, JSON, Markdown, JUnit, HTML.

Output formats are an enum mapped to one formatter each; no view computes numbers of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from fairaudit.result import AuditResult


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def formatter(fmt: OutputFormat | str) -> Callable[..., str]:
    """The render function of an output format (imported lazily)."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.json:
        from fairaudit.report.json import render_json

        return render_json
    if fmt is OutputFormat.markdown:
        from fairaudit.report.markdown import render_markdown

        return render_markdown
    from fairaudit.report.table import render_table

    return render_table


def render(result: AuditResult, fmt: OutputFormat | str, **options: object) -> str:
    return formatter(fmt)(result, **options)


__all__ = ["OutputFormat", "formatter", "render"]
