"""Plain ``--help`` with the options in sections.

The app prints click's plain help (rich's option table truncates long option names). Click has
no option groups, so a command with many options lists them in one block; this command class
writes one section per ``rich_help_panel`` its options name, in the order they first appear,
and the rest under "Options".
"""

from __future__ import annotations

from typing import Any

import typer.core


class SectionedCommand(typer.core.TyperCommand):
    """A typer command whose plain help lists options under their ``rich_help_panel``."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            title = ("Arguments" if param.param_type_name == "argument"
                     else getattr(param, "rich_help_panel", None) or "Options")
            sections.setdefault(title, []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)
