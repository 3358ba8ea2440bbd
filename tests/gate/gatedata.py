"""Small hand-built AuditResults for gate unit tests: the gate only reads estimates and CIs."""

from __future__ import annotations

from fairaudit.result import (
    AuditResult,
    Criterion,
    DatasetInfo,
    Estimate,
    ExcludedGroup,
    GroupResult,
    OverallResult,
    RunInfo,
    Summary,
    ThresholdInfo,
)


def group(attribute, name, auc, auc_ci=None, n=100, status="ok"):
    metrics = {"auc": Estimate(auc, auc_ci), "fnr": Estimate(None, None, "no positives")}
    return GroupResult(attribute, name, n, n // 2, n - n // 2, status, metrics,
                       ("n < 30",) if status == "insufficient" else ())


def result(groups=(), criteria=(), summaries=(), attributes=("race",), n_bootstrap=200):
    return AuditResult(
        run=RunInfo("2025-01-01T00:00:00", 0, n_bootstrap, 0.95, "0" * 64, None),
        dataset=DatasetInfo(1000, 1000, 0, "y", tuple(attributes)),
        threshold=ThresholdInfo(0.5, "given"),
        overall=OverallResult(1000, 500, 500, {}),
        groups=tuple(groups), criteria=tuple(criteria), summaries=tuple(summaries),
    )


def criterion(attribute, name, value, ci, status="ok", sufficient=None):
    excluded = (ExcludedGroup("Tiny", "n < 30"),) if status == "insufficient" else ()
    return Criterion(attribute, name, value if status == "ok" else None, ci if status == "ok" else None,
                     status, excluded_groups=excluded, sufficient_groups_only=sufficient)


def summary(attribute, metric, ser, ser_ci, sd=None, sd_ci=None):
    return Summary(attribute, metric, None, None, None, sd, ser, None, sd_ci=sd_ci, ser_ci=ser_ci)
