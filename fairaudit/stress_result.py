"""The frozen result of a stress audit (``fairaudit stress``): the single source of its views.

``stress.json`` (schema ``fairaudit/schema/stress-result.schema.json``), the HTML page and the
gate all read one :class:`StressResult`. Its sections are plain JSON-ready mappings (numbers,
strings, lists), documented field by field in the schema and in ``docs/stress.md``:

- ``missingness``: observed missing rate of each modality per group, its interval, the
  difference from the other groups and a between-group test;
- ``conditions``: every scored condition (the reference, each removal of modalities with each
  imputation, realistic missingness, every corruption and severity) with per-group AUC, TPR,
  FPR and balanced error, their paired change from the condition's reference, and the
  criteria (gaps between groups) with their change;
- ``corruptions``: per corruption the headline index and the per-severity summary
  (relative balanced error per group, the worst-degraded group);
- ``gap_vs_missingness``: correlation across groups between a group's AUC gap and its missing
  rate (evidence, not a verdict);
- ``probe``: attribute-leakage probe AUCs on the fused and per-modality latents, with the
  shuffled-attribute controls;
- ``attribution``: mean absolute Shapley share of each modality per group, and flags.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fairaudit._io import to_jsonable
from fairaudit.result import GateOutcome, RuleOutcome

STRESS_SCHEMA_VERSION = "1.0"

STRESS_CORRUPTIONS: tuple[str, ...] = ("gaussian_noise", "shot_noise", "gaussian_blur", "contrast",
                                       "brightness", "gamma", "jpeg", "pixelate")
"""Names of the image corruptions (``fairaudit.models.corruptions`` implements them)."""
STRESS_MODALITIES: tuple[str, ...] = ("image", "note", "labs")
"""The built-in model's modalities, in its order (``fairaudit.models.features.MODALITIES``)."""

JSON = dict[str, Any]


@dataclass(frozen=True)
class StressResult:
    """Everything ``fairaudit stress`` computed (see the module docstring for the sections)."""

    model: JSON
    data: JSON
    config: JSON
    corruption_parameters: tuple[JSON, ...] = ()
    missingness: tuple[JSON, ...] = ()
    conditions: tuple[JSON, ...] = ()
    corruptions: tuple[JSON, ...] = ()
    gap_vs_missingness: tuple[JSON, ...] = ()
    probe: JSON | None = None
    attribution: JSON | None = None
    gate: GateOutcome = field(default_factory=lambda: GateOutcome(status="not_run"))
    timings: JSON = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    created: str = ""
    tool_version: str = ""
    schema_version: str = STRESS_SCHEMA_VERSION

    def condition(self, condition_id: str) -> JSON:
        """The condition called ``condition_id`` (KeyError if there is none)."""
        for c in self.conditions:
            if c["id"] == condition_id:
                return c
        raise KeyError(f"no condition {condition_id!r}")

    def with_gate(self, gate: GateOutcome) -> StressResult:
        return dataclasses.replace(self, gate=gate)

    def to_dict(self) -> dict[str, Any]:
        body = to_jsonable(self)
        out: dict[str, Any] = {"schema_version": body.pop("schema_version"), "kind": "stress",
                               "tool": {"name": "fairaudit", "version": body.pop("tool_version")}}
        out.update(body)
        return out

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StressResult:
        gate = data.get("gate") or {"status": "not_run"}
        rules = tuple(RuleOutcome(**{**r, "ci": _pair(r.get("ci")),
                                     "simultaneous_ci": _pair(r.get("simultaneous_ci"))})
                      for r in gate.get("rules", ()))
        return cls(
            model=dict(data["model"]), data=dict(data["data"]), config=dict(data["config"]),
            corruption_parameters=tuple(data.get("corruption_parameters", ())),
            missingness=tuple(data.get("missingness", ())),
            conditions=tuple(data.get("conditions", ())),
            corruptions=tuple(data.get("corruptions", ())),
            gap_vs_missingness=tuple(data.get("gap_vs_missingness", ())),
            probe=data.get("probe"), attribution=data.get("attribution"),
            gate=GateOutcome(status=gate["status"], rules=rules, policy=gate.get("policy"),
                             inconclusive_is_warning=bool(gate.get("inconclusive_is_warning"))),
            timings=dict(data.get("timings", {})), warnings=tuple(data.get("warnings", ())),
            created=str(data.get("created", "")),
            tool_version=str(data.get("tool", {}).get("version", "")),
            schema_version=str(data.get("schema_version", STRESS_SCHEMA_VERSION)),
        )

    @classmethod
    def from_json(cls, text: str) -> StressResult:
        return cls.from_dict(json.loads(text))


def _pair(x: Any) -> tuple[float, float] | None:
    return None if x is None else (float(x[0]), float(x[1]))
