"""fairaudit.errors: one hierarchy, exit code 2, and one-line messages whatever the data held."""

from __future__ import annotations

import pytest

from fairaudit.errors import ConfigError, FairauditError, InputError, ModelError


@pytest.mark.parametrize("cls", [InputError, ConfigError, ModelError])
def test_every_error_is_a_fairaudit_error_with_exit_code_2(cls: type[FairauditError]) -> None:
    err = cls("bad")
    assert isinstance(err, FairauditError) and isinstance(err, Exception)
    assert err.exit_code == 2 and cls.exit_code == 2


def test_messages_are_collapsed_to_one_line() -> None:
    err = InputError("column 'race\nx' in  data.csv:\r\n\texpected\u2028text")
    assert str(err) == "column 'race x' in data.csv: expected text"
    assert "\n" not in str(err)


def test_a_non_string_message_is_converted() -> None:
    assert str(ConfigError(42)) == "42"
