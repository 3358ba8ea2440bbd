"""The types of ``fairaudit mitigate``'s comparison: its input :class:`Variant` and its result.

:class:`Comparison` holds one :class:`VariantSummary` per variant and one :class:`GroupChange`
per group, metric and variant; it renders ``comparison.json`` (:meth:`Comparison.to_dict`)
and the Markdown trade-off table. The numbers are computed by
:func:`fairaudit.workflows.before_after.compare_variants`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit._io import json_text, to_jsonable
from fairaudit.group_thresholds import GroupThresholds

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.result import AuditResult


@dataclass(frozen=True)
class Variant:
    """One way of turning the test split into decisions.

    Attributes
    ----------
    name : str
        Short label (``"baseline"``, ``"reweighting"``, ``"threshold: equalized_odds"``).
    scores : ndarray of shape (n,)
        The variant's probabilities for the test rows, in the test file's order.
    threshold : float, optional
        Single decision threshold (chosen on validation). Ignored for groups covered by
        ``group_thresholds``.
    group_thresholds : GroupThresholds, optional
        Per-group thresholds (threshold adjustment).
    method : str
        ``"none"``, ``"reweighting"``, ``"stratified"``, ``"group-dro"`` or ``"threshold"``.
    provenance : dict
        Checkpoint path and hash, hyper-parameters, validation selection: copied into the output.
    model_sha256 : str, optional
    decisions_only : bool
        The variant outputs decisions, not scores (fairlearn's randomised
        ``ThresholdOptimizer``): ``scores`` are its 0/1 decisions with ``threshold`` 0.5, and
        its AUC, which would be that of the decisions, is neither judged nor summarised.
    """

    name: str
    scores: np.ndarray
    threshold: float | None = None
    group_thresholds: GroupThresholds | None = None
    method: str = "none"
    provenance: Mapping[str, Any] = field(default_factory=dict)
    model_sha256: str | None = None
    decisions_only: bool = False


@dataclass(frozen=True)
class GroupChange:
    """The change of one metric of one group, variant minus baseline, with its paired CI."""

    variant: str
    attribute: str
    group: str
    metric: str
    before: float | None
    after: float | None
    change: float | None
    ci: tuple[float, float] | None
    status: str  # "harmed" | "possible harm" | "improved" | "unchanged" | "insufficient"


@dataclass(frozen=True)
class VariantSummary:
    """Headline numbers of one variant on the targeted attribute, from its audit."""

    name: str
    method: str
    attribute: str
    overall_auc: float | None
    overall_auc_ci: tuple[float, float] | None
    overall_tpr: float | None
    overall_tpr_ci: tuple[float, float] | None
    worst_group_auc: float | None
    worst_group_auc_ci: tuple[float, float] | None
    worst_auc_group: str | None
    worst_group_tpr: float | None
    worst_group_tpr_ci: tuple[float, float] | None
    worst_tpr_group: str | None
    equalized_odds_difference: float | None
    equalized_odds_difference_ci: tuple[float, float] | None
    fnr_gap: float | None
    fnr_gap_ci: tuple[float, float] | None
    accuracy: float | None
    verdict: str  # "baseline" | "no harm detected" | "possible harm" | "harm" | "levelling down"
    gaps_over: str = "all groups"  # or "sufficient groups only"
    harmed: tuple[str, ...] = ()
    improved: tuple[str, ...] = ()
    possible_harm: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """Everything ``fairaudit mitigate`` found; ``comparison.json`` is :meth:`to_dict`."""

    baseline: str
    attribute: str
    variants: tuple[VariantSummary, ...]
    changes: tuple[GroupChange, ...]
    audits: Mapping[str, AuditResult]
    settings: Mapping[str, Any]
    warnings: tuple[str, ...] = ()

    def variant(self, name: str) -> VariantSummary:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def changes_of(self, variant: str, status: str | None = None) -> tuple[GroupChange, ...]:
        return tuple(
            c for c in self.changes if c.variant == variant and (status is None or c.status == status)
        )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return to_jsonable(
            {
                "format": "fairaudit-comparison",
                "version": 1,
                "baseline": self.baseline,
                "attribute": self.attribute,
                "settings": dict(self.settings),
                "warnings": list(self.warnings),
                "variants": [asdict(v) for v in self.variants],
                "do_no_harm": [asdict(c) for c in self.changes],
                "audits": {name: a.to_dict() for name, a in self.audits.items()},
            }
        )

    def to_json(self) -> str:
        return json_text(self.to_dict())

    def to_markdown(self, *, warnings: bool = True) -> str:
        """The trade-off table (what docs/mitigation.md shows), one row per variant.

        ``warnings=False`` leaves out the warning lines (the CLI prints them on their own).
        """
        head = (
            f"| variant | overall AUC | worst-group AUC ({self.attribute}) | FNR gap | "
            "equalised-odds gap | do no harm |\n|---|---|---|---|---|---|\n"
        )
        rows = []
        for v in self.variants:
            mark = "" if v.gaps_over == "all groups" else " †"
            rows.append(
                f"| {v.name} | {_num(v.overall_auc, v.overall_auc_ci)} | "
                f"{_num(v.worst_group_auc, v.worst_group_auc_ci)} ({v.worst_auc_group or '—'}) | "
                f"{_num(v.fnr_gap, v.fnr_gap_ci)}{mark} | "
                f"{_num(v.equalized_odds_difference, v.equalized_odds_difference_ci)}{mark} | "
                f"{_verdict_text(v, self.attribute)} |"
            )
        note = ""
        if any(v.gaps_over != "all groups" for v in self.variants):
            note = ("\n† over the groups large enough to judge; at least one group is "
                    "insufficient, so the criterion itself is 'insufficient'.\n")
        warn = "".join(f"\nWarning: {w}\n" for w in self.warnings) if warnings else ""
        return head + "\n".join(rows) + "\n" + note + warn


def _verdict_text(v: VariantSummary, attribute: str) -> str:
    # The targeted attribute's groups by name; the others as a count (JSON has them all).
    text = v.verdict
    harmed = _named(v.harmed, attribute)
    if harmed:
        text += ": " + harmed
    possible = _named(v.possible_harm, attribute)
    if possible:
        text += ("; possible harm: " if v.harmed else ": ") + possible
    return text


def _named(entries: tuple[str, ...], attribute: str) -> str:
    prefix = f"{attribute}="
    own = [h[len(prefix):] for h in entries if h.startswith(prefix)]
    rest = len(entries) - len(own)
    parts = [", ".join(own)] if own else []
    if rest:
        parts.append(f"{rest} more in other attributes")
    return "; ".join(parts)


def _num(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")



__all__ = ["Comparison", "GroupChange", "Variant", "VariantSummary"]
