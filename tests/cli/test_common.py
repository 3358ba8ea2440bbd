"""fairaudit.cli._common: every error becomes one line on stderr and an exit code, no traceback."""

from __future__ import annotations

import pytest
import typer

from fairaudit.cli._common import handle_errors
from fairaudit.errors import ConfigError, InputError


def _exit_code(fn) -> int:
    with pytest.raises(typer.Exit) as info:
        fn()
    return info.value.exit_code


def test_a_fairaudit_error_exits_2_with_its_one_line_message(capsys) -> None:
    @handle_errors
    def command() -> None:
        raise InputError("column 'race' not found in p.csv;\nthe columns are: y, score.")

    assert _exit_code(command) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: column 'race' not found in p.csv; the columns are: y, score."


def test_a_bug_is_one_line_too_unless_debugging(capsys, monkeypatch) -> None:
    @handle_errors
    def command() -> None:
        raise ZeroDivisionError("division by zero\nat a patient row")

    monkeypatch.delenv("FAIRAUDIT_DEBUG", raising=False)
    assert _exit_code(command) == 2
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: division by zero at a patient row)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("FAIRAUDIT_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        command()


def test_interrupts_exit_130_and_exits_pass_through(capsys) -> None:
    @handle_errors
    def interrupted() -> None:
        raise KeyboardInterrupt

    @handle_errors
    def exits() -> None:
        raise typer.Exit(3)

    import signal

    handler = signal.getsignal(signal.SIGINT)
    try:
        assert _exit_code(interrupted) == 130 and "interrupted" in capsys.readouterr().err
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # a second Ctrl-C is ignored
    finally:
        signal.signal(signal.SIGINT, handler)
    assert _exit_code(exits) == 3


def test_the_wrapper_keeps_the_command_signature() -> None:
    @handle_errors
    def command(data: str, *, seed: int = 0) -> str:
        """Doc."""
        if seed < 0:
            raise ConfigError("seed must be 0 or more")
        return data

    assert command("x") == "x" and command.__name__ == "command" and command.__doc__ == "Doc."
