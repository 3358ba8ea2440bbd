"""The CLI's :class:`~fairaudit.models.progress.Progress`: a rich bar on stderr.

Library code reports progress to whatever the caller passes; the commands pass this one (or
nothing with ``--quiet``). Bars are drawn only when stderr is a terminal, so logs stay clean.
"""

from __future__ import annotations

import sys
from typing import Any


class RichProgress:
    """One rich bar per task on stderr (transient: it disappears when the task ends)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def start(self, task: str, total: int) -> None:
        self.stop()
        if total <= 0 or not sys.stderr.isatty():
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        from fairaudit.cli._common import stderr_console

        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeRemainingColumn(),
                             console=stderr_console(), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(task, total=total)

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self._bar is None:
            return
        if description is not None:
            self._bar.update(self._task, description=description)
        self._bar.advance(self._task, n)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def cli_progress(quiet: bool) -> RichProgress | None:
    """The progress a command passes to the library: none when ``--quiet``."""
    return None if quiet else RichProgress()


__all__ = ["RichProgress", "cli_progress"]
