"""JSON view: the result as fairaudit/schema/audit-result.schema.json describes it."""

from __future__ import annotations

from fairaudit.result import AuditResult


def render_json(result: AuditResult, **_: object) -> str:
    return result.to_json()
