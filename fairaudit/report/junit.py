"""JUnit XML of the gate: one test case per judged rule, for CI test-result views.

A failed rule is a ``<failure>`` carrying the measured value, its interval and the bound. An
inconclusive rule is a ``<failure type="inconclusive">`` when it blocks the gate (exit 3) and
``<skipped>`` when the policy makes inconclusive a warning. Without a policy the suite is empty.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from fairaudit.report.context import Suppressor
from fairaudit.result import AuditResult, GateOutcome, RuleOutcome

# Characters XML 1.0 cannot carry at all (escaping does not help); they are dropped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("", str(text))


def _num(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4g}"


def _bounds(rule: RuleOutcome) -> str:
    """``>= a and <= b`` for a two-sided rule, one side otherwise (older results: ``bound``)."""
    sides = [f">= {_num(rule.bound_min)}"] if rule.bound_min is not None else []
    if rule.bound_max is not None:
        sides.append(f"<= {_num(rule.bound_max)}")
    return " and ".join(sides) or _num(rule.bound)


def _detail(rule: RuleOutcome, level: float, message: str) -> str:
    ci = "none" if rule.ci is None else f"[{_num(rule.ci[0])}, {_num(rule.ci[1])}]"
    sim = ("" if rule.simultaneous_ci is None else
           f"simultaneous {level:.0%} CI: [{_num(rule.simultaneous_ci[0])}, {_num(rule.simultaneous_ci[1])}]\n")
    return (
        f"value: {_num(rule.value)}\n{level:.0%} CI: {ci}\n{sim}bound: {_bounds(rule)}\n"
        f"status: {rule.status}\n{message}\n"
    )


def render_junit(result: AuditResult, *, suppress_small_cells: int = 0, no_fail: bool = False) -> str:
    """Render the gate outcome as JUnit XML (UTF-8, one ``<testsuite>``).

    Parameters
    ----------
    result
        The audit result; ``result.gate`` holds the rule outcomes.
    suppress_small_cells
        Counts from 1 to K-1 in rule messages (e.g. ``n=17``) are shown as ``<K`` (0: off).
    no_fail
        The run used ``--no-fail``: the ``exit_code`` property is 0, the process's own.
    """
    run = result.run
    return gate_junit(
        result.gate, level=run.confidence_level, created=run.created,
        properties=(("fairaudit.version", run.tool_version), ("seed", str(run.seed)),
                    ("n_bootstrap", str(run.n_bootstrap)), ("confidence_level", str(run.confidence_level)),
                    ("data_sha256", run.data_sha256)),
        suppress_small_cells=suppress_small_cells, no_fail=no_fail,
    )


def gate_junit(gate: GateOutcome, *, level: float, created: str,
               properties: Sequence[tuple[str, str]], suppress_small_cells: int = 0,
               no_fail: bool = False, suite: str = "fairaudit gate") -> str:
    """JUnit XML of any gate outcome (the audit's or a comparison's): one test case per rule.

    ``properties`` come first in ``<properties>`` (the first is the tool version), followed by
    the gate's status, policy, exit code and ``no_fail``.
    """
    from fairaudit.exit_codes import exit_code

    sup = Suppressor(suppress_small_cells)
    name = f"{suite}: {gate.policy}" if gate.policy else f"{suite} (no policy)"
    failures = sum(
        1 for r in gate.rules
        if r.status == "fail" or (r.status == "inconclusive" and not gate.inconclusive_is_warning)
    )
    skipped = sum(1 for r in gate.rules if r.status == "inconclusive" and gate.inconclusive_is_warning)
    counts = {"tests": str(len(gate.rules)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}

    root = ET.Element("testsuites", {"name": "fairaudit", **counts})
    suite_el = ET.SubElement(root, "testsuite", {
        "name": _clean(name), **counts, "time": "0", "timestamp": _clean(created),
    })
    props = ET.SubElement(suite_el, "properties")
    first, rest = list(properties[:1]), list(properties[1:])
    for key, value in (
        *first,
        ("gate.status", gate.status),
        ("policy", gate.policy or ""),
        ("inconclusive_is_warning", str(gate.inconclusive_is_warning).lower()),
        ("exit_code", str(exit_code(gate, no_fail=no_fail))),
        ("no_fail", str(no_fail).lower()),
        *rest,
    ):
        ET.SubElement(props, "property", {"name": key, "value": _clean(value)})
    classname = suite.replace(" ", ".") + (f".{gate.policy}" if gate.policy else "")
    for rule in gate.rules:
        message = sup.text(rule.message)
        case = ET.SubElement(suite_el, "testcase", {"classname": _clean(classname), "name": _clean(sup.text(rule.id)), "time": "0"})
        if rule.status == "fail":
            el = ET.SubElement(case, "failure", {"type": "fail", "message": _clean(message)})
            el.text = _clean(_detail(rule, level, message))
        elif rule.status == "inconclusive":
            if gate.inconclusive_is_warning:
                ET.SubElement(case, "skipped", {"message": _clean("inconclusive (warning): " + message)})
            else:
                el = ET.SubElement(case, "failure", {"type": "inconclusive", "message": _clean(message)})
                el.text = _clean(_detail(rule, level, message))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _clean(_detail(rule, level, message))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
