"""One exception hierarchy for everything a user can get wrong.

The CLI maps every :class:`FairauditError` to exit code 2 and prints its message as a single
line, never a traceback (tracebacks with locals would leak patient data into CI logs).
Messages name the file, column or value, what was expected and what was found.
"""

from __future__ import annotations


class FairauditError(Exception):
    """Base class: a problem the user can fix. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep messages on one line whatever the data contained.
        super().__init__(" ".join(str(message).split()))


class InputError(FairauditError):
    """Bad input data: a missing file, an unknown column, an invalid value."""


class ConfigError(FairauditError):
    """Bad options or a malformed policy / configuration file."""


class ModelError(FairauditError):
    """A checkpoint that is missing, truncated, corrupted or does not match its config."""
