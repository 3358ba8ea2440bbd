"""Shared CLI plumbing: the one error handler, stderr console, writing the outputs.

Only the CLI prints. Library code returns results or raises :class:`FairauditError`.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer

from fairaudit.errors import FairauditError

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    """One line to stderr (messages are already single-line)."""
    typer.echo(message, err=True)


FLAGS = {
    "predictions": "--predictions", "model": "--model", "model_config": "--model-config",
    "data": "--data", "score": "--score",
    "split_column": "--split-column", "split": "--split", "cluster": "--cluster",
    "seed": "--seed", "threshold": "--threshold", "n_bootstrap": "--bootstrap",
    "n_permutations": "--permutations", "confidence_level": "--confidence",
    "min_group_size": "--min-group-size", "min_group_events": "--min-group-events",
    "methods": "--method", "val_fraction": "--val-fraction", "val_predictions": "--val-predictions",
    "policy": "--policy", "group_thresholds": "--group-thresholds", "output": "--output",
    "html": "--html", "junit": "--junit", "save_predictions": "--save-predictions",
    "metadata": "--metadata", "on": "--on", "bins": "--bins", "score_type": "--score-type",
    "pos_label": "--pos-label", "jobs": "--jobs",
    # fairaudit compare
    "baseline": "--baseline", "candidate": "--candidate", "id_column": "--id", "out_dir": "--out",
    "markdown": "--markdown", "baseline_score": "--baseline-score",
    "candidate_score": "--candidate-score", "baseline_group_thresholds": "--baseline-group-thresholds",
    "candidate_group_thresholds": "--candidate-group-thresholds",
    "baseline_model_config": "--baseline-model-config", "candidate_model_config": "--candidate-model-config",
    "engine": "--engine", "scheduler": "--scheduler", "n_workers": "--workers",
    "n_partitions": "--partitions", "bootstrap_method": "--bootstrap-method", "row_id": "--row-id",
    "allow_many_groups": "--allow-many-groups", "label": "--label", "sensitive": "--sensitive",
    # fairaudit mitigate
    "target": "--target", "objective": "--objective",
}
"""The flag of each library parameter: library messages name parameters in backquotes
(```` `seed` ````), the CLI's name flags (``--seed``); workflows take it as ``names`` too."""


def cli_message(message: str) -> str:
    """A library message as the CLI shows it: every backquoted parameter it knows becomes its flag."""
    return re.sub(r"`([a-z_]+)`", lambda m: FLAGS.get(m.group(1), m.group(0)), message)


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
            err(f"error: {cli_message(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _ignore_further_interrupts()  # a second Ctrl-C must not turn the exit into "Aborted!"
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


def _ignore_further_interrupts() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def emit(
    payload: str,
    output: Path | None,
    files: Sequence[tuple[str, Path, str | bytes]] = (),
    inputs: Sequence[tuple[str, Path | None]] = (),
) -> None:
    """Write ``files`` and the payload (to ``--output``, else stdout) all or nothing.

    Every file goes through :func:`fairaudit._io.write_files`: checked, written to temporary
    files, then renamed into place together; the payload reaches stdout only after that.
    """
    from fairaudit._io import write_files

    todo = list(files) + ([("--output", output, payload)] if output is not None else [])
    if todo:
        write_files(todo, inputs)
    if output is None:
        sys.stdout.write(payload)
        sys.stdout.flush()


@contextlib.contextmanager
def quiet_libraries(quiet: bool) -> Iterator[None]:
    """With ``--quiet``, silence Python warnings and matplotlib's log (e.g. missing glyphs)."""
    if not quiet:
        yield
        return
    import logging
    import warnings

    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class ScoreType(enum.StrEnum):
    """``--score-type``: what a score column holds."""

    probability = "probability"
    logit = "logit"


def check_input_flags(metadata: Path | None, on: str | None, bins: Sequence[str] | None,
                      sensitive: str) -> None:
    """Check ``--metadata``/``--on`` and ``--bins`` before any work, naming the flags."""
    from fairaudit.data.binning import parse_bins
    from fairaudit.data.dataset import parse_columns
    from fairaudit.data.metadata import parse_on
    from fairaudit.errors import ConfigError

    if metadata is not None:
        parse_on(on)
    elif on is not None:
        raise ConfigError("--on names the key of a --metadata table; give --metadata FILE as well.")
    if bins:
        columns = parse_columns(sensitive)
        if unknown := [c for c in parse_bins(list(bins)) if c not in columns]:
            raise ConfigError(f"--bins names {', '.join(map(repr, unknown))}, not a --sensitive "
                              f"column (those are: {', '.join(columns)}).")


def metadata_summary(dataset: Any) -> str | None:
    """The line printed after a ``--metadata`` join: how many rows matched."""
    info = getattr(dataset, "metadata", None)
    if info is None:
        return None
    n, unmatched = dataset.n_rows, dataset.n_unmatched_metadata or 0
    key = info.key if info.key == info.metadata_key else f"{info.key} = {info.metadata_key}"
    tail = f"; their {', '.join(info.columns)} are 'unknown'" if unmatched else ""
    return (f"metadata: joined {', '.join(info.columns)} from {info.source} on {key}: "
            f"{n - unmatched} of {n} rows matched, {unmatched} unmatched{tail}.")


def print_payload_and_warnings(run: Any, to_stdout: bool, quiet: bool, suppress_small_cells: int) -> None:
    """The payload on stdout (when it went to no file), then the result's warnings on stderr.

    Warnings quote group names, so small-cell suppression applies to them as to the reports.
    """
    if to_stdout:
        sys.stdout.write(run.payload)
        sys.stdout.flush()
    if not quiet:
        from fairaudit.report.context import Suppressor

        suppressor = Suppressor(suppress_small_cells)
        for w in run.result.warnings:
            err(f"warning: {suppressor.text(w)}")
