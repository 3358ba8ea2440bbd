"""Progress bars for the long model loops (training, encoding, inference).

The model functions take ``progress: bool`` and open their bar with :func:`progress_bar`: a rich
bar on stderr when enabled, a no-op otherwise. (Issue 11 wants progress reported through a
callback the CLI passes in; until the callers change, this is the one place the bar is drawn.)
"""

from __future__ import annotations


class NoProgress:
    """The do-nothing stand-in for :class:`ProgressBar` (``progress=False``)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, n: int) -> None:
        return None


class ProgressBar:
    """A rich progress bar on stderr with a single task."""

    def __init__(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                           MofNCompleteColumn(), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=False)
        self._task = self._p.add_task(label, total=total)

    def __enter__(self) -> ProgressBar:
        self._p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._p.stop()

    def advance(self, n: int) -> None:
        self._p.advance(self._task, n)

    def describe(self, text: str) -> None:
        self._p.update(self._task, description=text)


def progress_bar(enabled: bool, total: int, label: str) -> ProgressBar | NoProgress:
    """A context manager with ``advance(n)`` (and, when enabled, ``describe(text)``).

    A rich bar on stderr counting to ``total`` under ``label`` when ``enabled``, otherwise a
    :class:`NoProgress` that does nothing.
    """
    return ProgressBar(total, label) if enabled else NoProgress()
