"""Metrics from sufficient statistics: per-group rates, AUC, calibration, fairness criteria,
spread summaries, bootstrap intervals and significance tests. Pure numpy; no I/O.
"""

from fairaudit.metrics.engine import AuditConfig, AuditParts, GroupThresholdSpec, compute_audit

__all__ = ["AuditConfig", "AuditParts", "GroupThresholdSpec", "compute_audit"]
