"""fairaudit: fairness auditing for medical diagnostic models.

The public Python API is small:

- :func:`fairaudit.audit` runs an audit and returns a frozen :class:`~fairaudit.result.AuditResult`;
- :mod:`fairaudit.metrics`, :mod:`fairaudit.gate`, :mod:`fairaudit.mitigation` and
  :mod:`fairaudit.models` expose the pieces.

Heavy libraries (torch, fairlearn, aif360, matplotlib) are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fairaudit._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.api import audit as audit
    from fairaudit.result import AuditResult as AuditResult

__all__ = ["__version__", "audit", "AuditResult"]


def __getattr__(name: str) -> Any:
    if name == "audit":
        from fairaudit.api import audit

        return audit
    if name == "AuditResult":
        from fairaudit.result import AuditResult

        return AuditResult
    raise AttributeError(f"module 'fairaudit' has no attribute {name!r}")
