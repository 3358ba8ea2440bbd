"""The group-thresholds file: :class:`GroupThresholds`, its JSON format, loading and validation.

A file holds one attribute (or intersection), a threshold per group, a default for every other
group, and the provenance of the fit. It is written by ``fairaudit mitigate`` (or
:meth:`GroupThresholds.save`) and read by ``fairaudit audit --group-thresholds``.
:func:`fitted_rows_overlap` reads the provenance to warn when audited rows are the fitted ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit._io import json_text, to_jsonable, write_file
from fairaudit.errors import InputError

FILE_FORMAT = "fairaudit-group-thresholds"
FILE_VERSION = 1


@dataclass(frozen=True)
class GroupThresholds:
    """Per-group decision thresholds for one attribute (or intersection), as saved on disk.

    Attributes
    ----------
    attribute : str
        One attribute name (``"race"``) or an intersection (``"sex & race"``).
    thresholds : dict of str to float
        Group name (as fairaudit spells it: ``"unknown"`` for missing values, ``" & "`` between
        the values of an intersection) to its threshold in [0, 1]; decisions are
        ``score >= threshold``.
    default : float
        The threshold of any group not in ``thresholds`` (groups unseen, or too small to fit).
    provenance : dict
        How the thresholds were made: ``objective``, ``tolerance``, ``sensitivity_floor``,
        ``performance``, ``fitted_on`` (validation file), ``data_sha256``, ``validation`` (per
        group: n, n_pos, n_neg, threshold, tpr, fpr, fitted), ``created``, ``tool_version``.

    The JSON file is ``{"format": "fairaudit-group-thresholds", "version": 1, "attribute",
    "thresholds", "default", "provenance"}``.
    """

    attribute: str
    thresholds: Mapping[str, float]
    default: float
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def threshold_of(self, group: str) -> float:
        """The threshold a group gets (its own, or ``default``)."""
        return float(self.thresholds.get(group, self.default))

    def row_thresholds(self, groups: Sequence[str] | np.ndarray) -> np.ndarray:
        """The threshold of every row, given each row's group name."""
        return np.asarray([self.threshold_of(str(g)) for g in groups], dtype=np.float64)

    def apply(self, scores: Any, groups: Sequence[str] | np.ndarray) -> np.ndarray:
        """Decisions (int8 0/1): ``score >= threshold of the row's group``."""
        s = np.asarray(scores, dtype=np.float64)
        return (s >= self.row_thresholds(groups)).astype(np.int8)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "attribute": self.attribute,
            "thresholds": {str(k): float(v) for k, v in self.thresholds.items()},
            "default": float(self.default),
            "provenance": to_jsonable(dict(self.provenance)),
        }

    def to_json(self) -> str:
        return json_text(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write the JSON file safely (:func:`fairaudit._io.write_file`: temp file, then rename)."""
        p = Path(path)
        write_file(p, self.to_json(), "group-thresholds file")
        return p

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "group thresholds") -> GroupThresholds:
        """Validate a parsed JSON object; every problem is a one-line :class:`InputError`."""
        if not isinstance(data, dict):
            raise InputError(
                f"{source} must be a JSON object with keys 'attribute', 'thresholds' and "
                f"'default'; found a JSON {type(data).__name__}."
            )
        fmt = data.get("format", FILE_FORMAT)
        if fmt != FILE_FORMAT:
            raise InputError(f"{source} has format {fmt!r}; expected {FILE_FORMAT!r}.")
        version = data.get("version", FILE_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version > FILE_VERSION:
            raise InputError(
                f"{source} has version {version!r}; this fairaudit reads version {FILE_VERSION} "
                "or older. Upgrade fairaudit or refit the thresholds."
            )
        missing = [k for k in ("attribute", "thresholds", "default") if k not in data]
        if missing:
            raise InputError(f"{source} lacks the key(s) {', '.join(map(repr, missing))}.")
        attribute = data["attribute"]
        if not isinstance(attribute, str) or not attribute.strip():
            raise InputError(
                f"'attribute' in {source} must be a column name such as \"race\" or an "
                f"intersection such as \"sex & race\"; found {attribute!r}."
            )
        raw = data["thresholds"]
        # Empty is allowed: the optimiser writes it when no group had enough validation rows
        # to fit a threshold of its own, and then every group gets ``default``.
        if not isinstance(raw, dict):
            raise InputError(
                f"'thresholds' in {source} must be an object mapping group names to "
                f"thresholds in [0, 1]; found {type(raw).__name__}."
            )
        thresholds = {str(g): _check_threshold(v, f"threshold of group {g!r}", source) for g, v in raw.items()}
        default = _check_threshold(data["default"], "'default'", source)
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict):
            raise InputError(f"'provenance' in {source} must be an object; found {type(provenance).__name__}.")
        return cls(attribute=attribute.strip(), thresholds=thresholds, default=default, provenance=provenance)

    @classmethod
    def load(cls, path: str | Path) -> GroupThresholds:
        """Read and validate a group-thresholds JSON file.

        Raises
        ------
        InputError
            One line naming the file and what is wrong: missing, unreadable, not JSON, missing
            keys, thresholds that are not numbers in [0, 1].
        """
        p = Path(path)
        source = f"group-thresholds file '{p}'"
        if not p.exists():
            raise InputError(f"{source} does not exist.")
        if not p.is_file():
            raise InputError(f"{source} is not a file.")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {source}: {type(exc).__name__}.") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
            ) from None
        return cls.from_dict(data, source=source)


def _check_threshold(value: Any, what: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{what} in {source} must be a number in [0, 1]; found {value!r}.")
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or v > 1.0:
        raise InputError(f"{what} in {source} must be a number in [0, 1]; found {value!r}.")
    return v


def fitted_rows_overlap(provenance: Mapping[str, Any], data_sha256: str) -> str | None:
    """A warning when audited rows include the rows a thresholds file was fitted on.

    Parameters
    ----------
    provenance : dict
        The file's provenance; ``fitted_rows`` records the fitted data file's SHA-256 and which
        of its rows were used (``selection``: ``"all rows"``, ``"split"`` with
        ``split_column`` and ``split_values``, or ``"random"``). Older files only have
        ``data_sha256``.
    data_sha256 : str
        The audited data's hash: the file's SHA-256, followed by ``":COLUMN=VALUE"`` when one
        split of it is audited (``fairaudit audit --split-column COLUMN --split VALUE``).

    Returns
    -------
    str or None
        The warning, or None when the audited rows are not (or cannot be seen to be) the
        fitted ones.
    """
    file_sha, _, selection = str(data_sha256).partition(":")
    audited_col, _, audited_value = selection.partition("=")
    fitted = provenance.get("fitted_rows")
    if not isinstance(fitted, Mapping):
        legacy = str(provenance.get("data_sha256") or "")
        fitted = {"data_sha256": legacy.partition(":")[0],
                  "selection": "all rows" if ":" not in legacy else "unknown"}
    if not fitted.get("data_sha256") or fitted["data_sha256"] != file_sha:
        return None
    how = fitted.get("selection")
    if how == "split" and selection and audited_col == fitted.get("split_column"):
        values = {str(v).strip().lower() for v in fitted.get("split_values") or ()}
        if audited_value.strip().lower() not in values:
            return None
    n = fitted.get("n_rows")
    rows = f"the {n} rows" if isinstance(n, int) else "the rows"
    certain = how in ("all rows", "split") and (not selection or how == "all rows"
                                                or audited_col == fitted.get("split_column"))
    verb = "include" if certain or not selection else "may include"
    where = provenance.get("fitted_on") or "the same data file"
    return (f"the audited rows {verb} {rows} the group thresholds were fitted on ({where}); "
            "their metrics are optimistic. Audit held-out rows instead (e.g. --split-column "
            "split --split test).")


__all__ = ["FILE_FORMAT", "FILE_VERSION", "GroupThresholds", "fitted_rows_overlap"]
