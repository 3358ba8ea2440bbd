"""fairaudit.exit_codes: the exit-code contract and the one function that picks a code."""

from __future__ import annotations

import typing

import pytest

from fairaudit import exit_codes
from fairaudit.exit_codes import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_PASS,
    FAIL,
    INCONCLUSIVE,
    NOT_RUN,
    PASS,
    exit_code,
)
from fairaudit.result import GateOutcome, GateStatus


def test_the_codes_are_the_documented_contract() -> None:
    assert (EXIT_PASS, EXIT_FAIL, EXIT_ERROR, EXIT_INCONCLUSIVE) == (0, 1, 2, 3)
    assert {PASS, FAIL, INCONCLUSIVE, NOT_RUN} == set(typing.get_args(GateStatus))


@pytest.mark.parametrize(
    ("status", "warning", "code"),
    [
        ("pass", False, 0),
        ("not_run", False, 0),
        ("fail", False, 1),
        ("fail", True, 1),  # a warning policy softens inconclusive only
        ("inconclusive", False, 3),
        ("inconclusive", True, 0),
    ],
)
def test_exit_code_of_each_gate_status(status: GateStatus, warning: bool, code: int) -> None:
    assert exit_code(GateOutcome(status=status, inconclusive_is_warning=warning)) == code


@pytest.mark.parametrize("status", ["pass", "fail", "inconclusive", "not_run"])
def test_no_fail_always_exits_0(status: GateStatus) -> None:
    assert exit_code(GateOutcome(status=status), no_fail=True) == EXIT_PASS


def test_an_unknown_status_is_a_programming_error() -> None:
    outcome = GateOutcome(status="pass")
    object.__setattr__(outcome, "status", "maybe")
    with pytest.raises(ValueError, match="unknown gate status 'maybe'"):
        exit_code(outcome)


def test_the_gate_re_exports_the_same_codes() -> None:
    import importlib

    evaluate = importlib.import_module("fairaudit.gate.evaluate")
    assert evaluate.exit_code is exit_codes.exit_code
    assert (evaluate.EXIT_FAIL, evaluate.EXIT_INCONCLUSIVE) == (EXIT_FAIL, EXIT_INCONCLUSIVE)
