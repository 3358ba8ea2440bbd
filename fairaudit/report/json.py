"""JSON view: the contract in shared/contracts/audit-result.schema.json (plus added keys)."""

from __future__ import annotations

from fairaudit.result import AuditResult


def render_json(result: AuditResult, **_: object) -> str:
    return result.to_json()
