"""Progress of the long model loops (training, encoding, inference), reported to the caller.

Model code never prints. A long loop takes ``progress``, any object with the three methods of
:class:`Progress`, and reports through :func:`track`; the caller decides what to draw (the CLI
passes a rich bar on stderr, :class:`fairaudit.cli.progress.RichProgress`). ``None`` (or
``False``) reports nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """What a long loop reports to: one task at a time, started, advanced, stopped."""

    def start(self, task: str, total: int) -> None:
        """A task of ``total`` steps begins (``task`` is a short label such as ``"training"``)."""

    def advance(self, n: int = 1, description: str | None = None) -> None:
        """``n`` more steps are done; ``description`` replaces the task's label when given."""

    def stop(self) -> None:
        """The task ended (normally or not)."""


class Tracker:
    """A context manager around one task of a :class:`Progress` (a no-op without one)."""

    def __init__(self, progress: Progress | None, total: int, task: str) -> None:
        self._progress, self._total, self._task = progress, total, task

    def __enter__(self) -> Tracker:
        if self._progress:
            self._progress.start(self._task, self._total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress:
            self._progress.stop()

    def advance(self, n: int) -> None:
        if self._progress:
            self._progress.advance(n)

    def describe(self, text: str) -> None:
        if self._progress:
            self._progress.advance(0, text)


def track(progress: Progress | None, total: int, task: str) -> Tracker:
    """Report one task of ``total`` steps to ``progress``: ``with track(p, n, "x") as t: t.advance(1)``."""
    return Tracker(progress, total, task)


__all__ = ["Progress", "Tracker", "track"]
