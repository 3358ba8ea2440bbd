"""The deployment gate: a policy file turns an audit into pass, fail or inconclusive.

``load_policy`` reads and validates a TOML policy; ``evaluate`` judges an :class:`AuditResult`
against it by each estimate's confidence interval (a pure function); ``exit_code`` maps the
outcome to the documented exit codes (0 pass, 1 fail, 2 error, 3 inconclusive).
"""

from fairaudit.gate.evaluate import combine, decide, evaluate, exit_code
from fairaudit.gate.policy import Policy, load_policy, parse_policy

__all__ = ["Policy", "combine", "decide", "evaluate", "exit_code", "load_policy", "parse_policy"]
