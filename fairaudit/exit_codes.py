"""The exit codes users and CI rely on (the contract), and the one function that picks one.

0 passed (or no policy), 1 policy failed, 2 error (bad input, config or model), 3 inconclusive.
Layer 0: the gate decides the outcome; the CLI and every report print the code from here, so
they cannot disagree.
"""

from __future__ import annotations

from typing import Final

from fairaudit.result import GateOutcome

# The status values, typed as their literals (``RuleStatus`` / ``GateStatus`` in result.py).
PASS: Final = "pass"
FAIL: Final = "fail"
INCONCLUSIVE: Final = "inconclusive"
NOT_RUN: Final = "not_run"

EXIT_PASS: Final = 0
EXIT_FAIL: Final = 1
EXIT_ERROR: Final = 2
EXIT_INCONCLUSIVE: Final = 3


def exit_code(outcome: GateOutcome, *, no_fail: bool = False) -> int:
    """The process exit code for a gate outcome.

    0 for pass or not run; 1 for fail; 3 for inconclusive, or 0 when the policy made
    inconclusive a warning; always 0 with ``no_fail`` (a rollout: report, never block).
    Errors (exit 2) never reach here: they are raised as :class:`FairauditError`.
    """
    if no_fail:
        return EXIT_PASS
    if outcome.status == FAIL:
        return EXIT_FAIL
    if outcome.status == INCONCLUSIVE:
        return EXIT_PASS if outcome.inconclusive_is_warning else EXIT_INCONCLUSIVE
    if outcome.status in (PASS, NOT_RUN):
        return EXIT_PASS
    raise ValueError(f"unknown gate status {outcome.status!r}")
