"""Shared CLI plumbing: the one error handler, stderr console, atomic output files.

Only the CLI prints. Library code returns results or raises :class:`FairauditError`.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from fairaudit.errors import FairauditError

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    """One line to stderr (messages are already single-line)."""
    typer.echo(message, err=True)


def handle_errors(fn: F) -> F:
    """Map FairauditError to exit code 2 with a one-line message and no traceback.

    Any other exception is a bug in fairaudit; it is reported on one line as well (tracebacks
    with locals can leak patient data into CI logs). ``FAIRAUDIT_DEBUG=1`` re-raises it.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except FairauditError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err("error: interrupted.")
            raise typer.Exit(130) from None
        except Exception as exc:  # pragma: no cover - only reached through bugs
            if os.environ.get("FAIRAUDIT_DEBUG"):
                raise
            text = " ".join(str(exc).split())[:300]
            err(
                f"error: internal error ({type(exc).__name__}: {text}); "
                "set FAIRAUDIT_DEBUG=1 for a traceback and please report it."
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file all at once: a temp file beside it, then rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def emit(payload: str, output: Path | None) -> None:
    """The payload goes to ``--output`` (written atomically) or to stdout."""
    if output is None:
        sys.stdout.write(payload)
        sys.stdout.flush()
    else:
        write_atomic(output, payload)


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
