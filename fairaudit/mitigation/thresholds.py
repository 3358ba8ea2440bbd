"""Threshold adjustment (Hardt, Price & Srebro 2016) with deterministic per-group thresholds.

A model's scores are kept; only the decision threshold differs by group. Thresholds are fitted
on *validation* data (never on the test set) to

- ``equal_opportunity``: equalise TPR (sensitivity) across groups, to within ``tolerance``;
- ``equalized_odds``: equalise TPR and FPR across groups, each to within ``tolerance``;
- ``sensitivity_floor``: reach TPR >= ``sensitivity_floor`` in every group (a clinical
  constraint, e.g. sensitivity >= 0.90); ``sensitivity_floor`` can also be added to the other two.

Among all threshold choices meeting the constraints on validation data, the one maximising the
``performance`` objective (accuracy, or balanced accuracy) is returned. The search is exact over
the candidate thresholds: any assignment whose TPRs lie within ``tolerance`` of each other has
all of them in a band ``[t0, t0 + tolerance]`` whose lower end ``t0`` is one of the groups'
TPRs (the same for FPR). For a fixed band, each group's feasible thresholds form a contiguous
run (TPR and FPR are monotone in the threshold) and accuracy is a sum over groups, so every
group picks its best threshold inside its run independently (a range-maximum query). Enumerating
the bands therefore finds the optimum. Predicting everybody negative (or positive) always meets
the equality constraints, so a solution always exists; it may be a poor one, which
:attr:`GroupThresholdOptimizer.validation_` shows.

Deterministic thresholds cannot always equalise exactly: a group's rates move in steps of
1 / (its positives or negatives), and groups whose ROC curves differ share few (FPR, TPR) points.
fairlearn's ``ThresholdOptimizer`` randomises between two thresholds per group to equalise
exactly, in expectation. Clinical use prefers one explainable threshold per group, which is
what the saved file holds. The default ``tolerance="auto"`` picks the smallest validation gap at
which deterministic thresholds are at least as good, on the ``performance`` objective, as that
exact randomised solution (computed here from the groups' ROC convex hulls, as fairlearn does):
as fair as determinism allows without giving up accuracy relative to the randomised optimum.

The decision rule is ``score >= threshold`` (as in ``fairaudit audit``). Candidate thresholds
lie half-way between consecutive distinct validation scores of a group, and by default every
one of them is a candidate (the search is exact; sorting the scores makes it cheap: under a
second for 2,000 validation rows in six groups).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.errors import ConfigError, InputError
from fairaudit.mitigation.reweighting import group_labels
from fairaudit.naming import SEPARATOR, attribute_label, group_label, split_label

if TYPE_CHECKING:  # pragma: no cover
    from fairaudit.data import AuditDataset

OBJECTIVES = ("equal_opportunity", "equalized_odds", "sensitivity_floor")
PERFORMANCE = ("accuracy", "balanced_accuracy")
FILE_FORMAT = "fairaudit-group-thresholds"
FILE_VERSION = 1


# --------------------------------------------------------------------------------------------
# The file format
# --------------------------------------------------------------------------------------------


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
            "provenance": _jsonable(dict(self.provenance)),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the JSON file atomically (a temp file beside it, then rename)."""
        import os
        import tempfile

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.to_json())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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
        if not isinstance(raw, dict) or not raw:
            raise InputError(
                f"'thresholds' in {source} must be a non-empty object mapping group names to "
                f"thresholds in [0, 1]; found {type(raw).__name__ if raw else 'nothing'}."
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


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------------------------
# The optimiser
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Curve:
    """Candidate thresholds of one group, in decreasing order (TPR, FPR non-decreasing)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: int
    n_neg: int

    @property
    def tpr(self) -> np.ndarray:
        return self.tp / self.n_pos if self.n_pos else np.zeros_like(self.tp, dtype=np.float64)

    @property
    def fpr(self) -> np.ndarray:
        return self.fp / self.n_neg if self.n_neg else np.zeros_like(self.fp, dtype=np.float64)


def _candidates(scores: np.ndarray, max_candidates: int | None) -> np.ndarray:
    """Decreasing thresholds: above every score, half-way between distinct scores, below all."""
    u = np.unique(scores)
    top = (u[-1] + 1.0) / 2.0 if u[-1] < 1.0 else 1.0
    bottom = u[0] / 2.0
    cuts = np.concatenate([[bottom], (u[:-1] + u[1:]) / 2.0, [top]])
    if max_candidates is not None and cuts.shape[0] > max_candidates:
        # Evenly spaced in rank: keeps the ends, thins the dense middle.
        keep = np.unique(np.round(np.linspace(0, cuts.shape[0] - 1, max_candidates)).astype(np.int64))
        cuts = cuts[keep]
    return np.unique(cuts)[::-1]


def _curve(scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> _Curve:
    pos = np.sort(scores[labels == 1])
    neg = np.sort(scores[labels == 0])
    # Rows with score >= t: n - (rows with score < t).
    tp = pos.shape[0] - np.searchsorted(pos, thresholds, side="left")
    fp = neg.shape[0] - np.searchsorted(neg, thresholds, side="left")
    return _Curve(thresholds, tp.astype(np.int64), fp.astype(np.int64), pos.shape[0], neg.shape[0])


class _RangeMax:
    """Sparse table: maximum (first arg-max) of a fixed array over index ranges, vectorised."""

    def __init__(self, values: np.ndarray) -> None:
        n = values.shape[0]
        levels = max(1, int(np.floor(np.log2(n))) + 1)
        self.val = np.full((levels, n), -np.inf)
        self.arg = np.zeros((levels, n), dtype=np.int64)
        self.val[0] = values
        self.arg[0] = np.arange(n)
        for k in range(1, levels):
            half, width = 1 << (k - 1), n - (1 << k) + 1
            left_v, right_v = self.val[k - 1, :width], self.val[k - 1, half : half + width]
            take_right = right_v > left_v
            self.val[k, :width] = np.where(take_right, right_v, left_v)
            self.arg[k, :width] = np.where(
                take_right, self.arg[k - 1, half : half + width], self.arg[k - 1, :width]
            )

    def query(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Max and arg-max over ``[lo, hi]`` (inclusive) where ``lo <= hi``; -inf elsewhere."""
        ok = lo <= hi
        lo_c = np.where(ok, lo, 0)
        length = np.where(ok, hi - lo_c + 1, 1)
        k = np.log2(length).astype(np.int64)  # floor for positive integers
        b = lo_c + length - (1 << k)
        va, vb = self.val[k, lo_c], self.val[k, b]
        take_b = vb > va
        val = np.where(ok, np.where(take_b, vb, va), -np.inf)
        arg = np.where(take_b, self.arg[k, b], self.arg[k, lo_c])
        return val, arg


class GroupThresholdOptimizer:
    """Fit deterministic per-group thresholds on validation scores (see the module docstring).

    Parameters
    ----------
    objective : {"equalized_odds", "equal_opportunity", "sensitivity_floor"}
        The fairness goal.
    tolerance : float or "auto", default "auto"
        Largest allowed difference, on validation data, between the groups' TPRs (and FPRs for
        equalised odds). ``"auto"``: the smallest difference (to 0.001) at which the
        deterministic thresholds reach the performance of the exact randomised solution (see
        the module docstring). Not used by ``sensitivity_floor`` alone.
    sensitivity_floor : float, optional
        Minimum TPR in every fitted group. Required for ``objective="sensitivity_floor"``
        (e.g. 0.90); optional extra constraint for the other objectives.
    performance : {"accuracy", "balanced_accuracy"}, default "accuracy"
        What is maximised among threshold choices that meet the constraints.
    min_positives, min_negatives : int, default 10
        A group with fewer validation positives (or, for equalised odds, negatives) is not fitted:
        its rates are too noisy to equalise. It gets the ``default`` threshold and is listed in
        ``validation_`` with ``fitted=False``.
    default_threshold : float, optional
        Threshold for unfitted and unseen groups. By default it is fitted the same way on all
        validation rows pooled (one group).
    max_candidates : int, optional
        ``None`` (default): every cut between distinct validation scores is a candidate, so the
        optimum is exact. An integer thins each group's cuts to that many, evenly spaced in
        rank (faster on very large validation sets, but the optimum found can be slightly
        worse); the file's provenance records which was used.

    Attributes
    ----------
    attribute_ : str
    thresholds_ : dict of str to float
        Fitted groups only.
    default_ : float
    validation_ : dict of str to dict
        Per group: n, n_pos, n_neg, threshold, tpr, fpr (on validation), fitted, reason.
    gap_ : dict
        Validation ``tpr_difference`` and ``fpr_difference`` over the fitted groups.
    gap_all_groups_ : dict
        The same over every group with the rate defined, unfitted (small) groups included at
        the default threshold: the gap a user of the file actually sees on validation.
    performance_ : float
        The maximised performance on validation (fitted groups at their thresholds, others at
        the default).
    """

    def __init__(
        self,
        objective: str = "equalized_odds",
        *,
        tolerance: float | str = "auto",
        sensitivity_floor: float | None = None,
        performance: str = "accuracy",
        min_positives: int = 10,
        min_negatives: int = 10,
        default_threshold: float | None = None,
        max_candidates: int | None = None,
    ) -> None:
        self.objective = objective
        self.tolerance = tolerance
        self.sensitivity_floor = sensitivity_floor
        self.performance = performance
        self.min_positives = min_positives
        self.min_negatives = min_negatives
        self.default_threshold = default_threshold
        self.max_candidates = max_candidates

    # -- validation of hyper-parameters (at fit, as scikit-learn does) ---------------------
    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"the 'objective' of GroupThresholdOptimizer must be one of {', '.join(OBJECTIVES)}; "
                f"got {self.objective!r} instead."
            )
        if self.performance not in PERFORMANCE:
            raise ConfigError(
                f"the 'performance' of GroupThresholdOptimizer must be one of {', '.join(PERFORMANCE)}; "
                f"got {self.performance!r} instead."
            )
        if self.tolerance != "auto" and not (
            isinstance(self.tolerance, int | float) and 0.0 <= float(self.tolerance) <= 1.0
        ):
            raise ConfigError(f"'tolerance' must be \"auto\" or a number in [0, 1]; got {self.tolerance!r} instead.")
        if self.objective == "sensitivity_floor" and self.sensitivity_floor is None:
            raise ConfigError(
                "objective 'sensitivity_floor' needs a floor, e.g. sensitivity_floor=0.90 "
                "(--sensitivity-floor 0.90)."
            )
        if self.sensitivity_floor is not None and not (0.0 < float(self.sensitivity_floor) <= 1.0):
            raise ConfigError(
                f"'sensitivity_floor' must be in (0, 1]; got {self.sensitivity_floor!r} instead."
            )
        if self.default_threshold is not None and not (0.0 <= float(self.default_threshold) <= 1.0):
            raise ConfigError(
                f"'default_threshold' must be in [0, 1]; got {self.default_threshold!r} instead."
            )
        if self.max_candidates is not None and int(self.max_candidates) < 2:
            raise ConfigError(f"'max_candidates' must be at least 2; got {self.max_candidates!r}.")
        if int(self.min_positives) < 1 or int(self.min_negatives) < 1:
            raise ConfigError("'min_positives' and 'min_negatives' must be at least 1.")

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, scores: Any, y: Any, *, sensitive_features: Any) -> GroupThresholdOptimizer:
        """Fit thresholds on validation scores, labels and groups. Returns self.

        ``sensitive_features`` takes one column per attribute (a Series, a DataFrame, or an
        array); several columns are fitted over their intersection.
        """
        self._check_params()
        groups, attribute = group_labels(sensitive_features)
        s, labels = _check_scores_labels(scores, y, groups.shape[0])
        uses_fpr = self.objective == "equalized_odds"

        names = sorted(set(groups.tolist()))
        fitted: list[str] = []
        reasons: dict[str, str] = {}
        for g in names:
            m = groups == g
            n_pos = int(labels[m].sum())
            n_neg = int(m.sum()) - n_pos
            if n_pos < int(self.min_positives):
                reasons[g] = f"{n_pos} validation positives (< {int(self.min_positives)})"
            elif uses_fpr and n_neg < int(self.min_negatives):
                reasons[g] = f"{n_neg} validation negatives (< {int(self.min_negatives)})"
            else:
                fitted.append(g)

        # The default threshold: given, or the same problem on the pooled rows.
        if self.default_threshold is not None:
            default = float(self.default_threshold)
        else:
            pooled = _curve(s, labels, _candidates(s, self.max_candidates))
            default = float(self._solve([pooled], labels, 1.0)[0][0])

        curves = []
        for g in fitted:
            m = groups == g
            curves.append(_curve(s[m], labels[m], _candidates(s[m], self.max_candidates)))
        self.randomized_reference_ = None
        if not curves:
            tolerance, chosen = None, []
        elif self.tolerance == "auto" and self.objective != "sensitivity_floor":
            tolerance, chosen = self._auto_tolerance(curves, labels)
        elif self.objective == "sensitivity_floor":
            tolerance, chosen = None, self._solve(curves, labels, 1.0)[0]
        else:
            tolerance = float(self.tolerance)
            chosen = self._solve(curves, labels, tolerance)[0]
        thresholds = {g: float(t) for g, t in zip(fitted, chosen, strict=True)}
        self.tolerance_ = tolerance

        # What the thresholds do on validation, per group (the provenance the file keeps).
        row_thr = np.asarray([thresholds.get(g, default) for g in groups.tolist()])
        decision = s >= row_thr
        validation: dict[str, dict[str, Any]] = {}
        for g in names:
            m = groups == g
            n_pos = int(labels[m].sum())
            n_neg = int(m.sum()) - n_pos
            tp = int((decision & m & (labels == 1)).sum())
            fp = int((decision & m & (labels == 0)).sum())
            validation[g] = {
                "n": int(m.sum()),
                "n_pos": n_pos,
                "n_neg": n_neg,
                "threshold": thresholds.get(g, default),
                "tpr": tp / n_pos if n_pos else None,
                "fpr": fp / n_neg if n_neg else None,
                "fitted": g in thresholds,
                "reason": reasons.get(g),
            }
        tprs = [validation[g]["tpr"] for g in fitted]
        fprs = [validation[g]["fpr"] for g in fitted if validation[g]["fpr"] is not None]
        self.attribute_ = attribute
        self.groups_ = tuple(names)
        self.thresholds_ = thresholds
        self.default_ = default
        self.validation_ = validation
        self.gap_ = _gap(tprs, fprs)
        self.gap_all_groups_ = _gap(
            [v["tpr"] for v in validation.values() if v["tpr"] is not None],
            [v["fpr"] for v in validation.values() if v["fpr"] is not None],
        )
        correct = decision == (labels == 1)
        if self.performance == "accuracy":
            self.performance_ = float(correct.mean())
        else:
            p, n = labels == 1, labels == 0
            tpr = correct[p].mean() if p.any() else 0.0
            tnr = correct[n].mean() if n.any() else 0.0
            self.performance_ = float((tpr + tnr) / 2.0)
        self.n_validation_ = int(s.shape[0])
        return self

    def _weights(self, labels: np.ndarray) -> tuple[float, float]:
        """Utility per true positive and per true negative (performance = their weighted sum)."""
        n = labels.shape[0]
        if self.performance == "accuracy":
            return 1.0 / n, 1.0 / n
        n_pos = max(int(labels.sum()), 1)
        return 0.5 / n_pos, 0.5 / max(n - int(labels.sum()), 1)

    def _auto_tolerance(self, curves: list[_Curve], labels: np.ndarray) -> tuple[float, list[float]]:
        """Smallest tolerance (to 0.001) whose deterministic optimum matches the randomised one."""
        w_pos, w_neg = self._weights(labels)
        target = _randomized_optimum(
            curves, w_pos, w_neg, self.objective,
            None if self.sensitivity_floor is None else float(self.sensitivity_floor),
        )
        self.randomized_reference_ = target
        lo, hi = 0.0, 1.0
        best = self._solve(curves, labels, hi)
        if best[1] < target - 1e-12:  # cannot happen (see _randomized_optimum); be safe
            return hi, best[0]
        got = self._solve(curves, labels, lo)
        if got[1] >= target - 1e-12:
            return lo, got[0]
        # Performance is non-decreasing in the tolerance: bisect on a 0.001 grid.
        lo_i, hi_i = 0, 1000
        while hi_i - lo_i > 1:
            mid = (lo_i + hi_i) // 2
            got = self._solve(curves, labels, mid / 1000.0)
            if got[1] >= target - 1e-12:
                hi_i, best = mid, got
            else:
                lo_i = mid
        return hi_i / 1000.0, best[0]

    def _solve(
        self, curves: list[_Curve], labels: np.ndarray, tol: float
    ) -> tuple[list[float], float]:
        """Best thresholds of the given groups under the constraints; (thresholds, utility)."""
        w_pos, w_neg = self._weights(labels)
        eps = 1e-12
        floor = None if self.sensitivity_floor is None else float(self.sensitivity_floor)
        use_tpr = self.objective in ("equal_opportunity", "equalized_odds")
        use_fpr = self.objective == "equalized_odds"

        utilities, rmqs, floor_lo = [], [], []
        for c in curves:
            u = w_pos * c.tp + w_neg * (c.n_neg - c.fp)
            utilities.append(u)
            rmqs.append(_RangeMax(u))
            if floor is None:
                floor_lo.append(0)
            else:
                ok = np.flatnonzero(c.tpr >= floor - eps)
                # The lowest candidate predicts everybody positive (TPR 1), so ok is never empty.
                floor_lo.append(int(ok[0]) if ok.shape[0] else c.thresholds.shape[0] - 1)

        def bands(rate_of: str) -> np.ndarray:
            vals = np.concatenate([getattr(c, rate_of) for c in curves])
            return np.unique(vals)

        t_starts = bands("tpr") if use_tpr else np.zeros(1)
        f_starts = bands("fpr") if use_fpr else np.zeros(1)

        # Per group and band start, the contiguous run of feasible candidate indices.
        def run(c: _Curve, rate: np.ndarray, starts: np.ndarray, active: bool) -> tuple[np.ndarray, np.ndarray]:
            m = c.thresholds.shape[0]
            if not active:
                return np.zeros(starts.shape, dtype=np.int64), np.full(starts.shape, m - 1, dtype=np.int64)
            lo = np.searchsorted(rate, starts - eps, side="left")
            hi = np.searchsorted(rate, starts + tol + eps, side="right") - 1
            return lo.astype(np.int64), hi.astype(np.int64)

        t_runs = [run(c, c.tpr, t_starts, use_tpr) for c in curves]
        f_runs = [run(c, c.fpr, f_starts, use_fpr) for c in curves]

        # Only band pairs (f0, t0) where every group can be feasible are worth evaluating: for
        # a TPR band, group g's run spans FPRs [fpr_g(lo), fpr_g(hi)], so f0 must lie in
        # [max_g fpr_g(lo) - tol, min_g fpr_g(hi)].
        n_t = t_starts.shape[0]
        if use_fpr:
            a = np.full(n_t, -np.inf)
            b = np.full(n_t, np.inf)
            ok = np.ones(n_t, dtype=bool)
            for gi, c in enumerate(curves):
                lo = np.maximum(t_runs[gi][0], floor_lo[gi])
                hi = t_runs[gi][1]
                ok &= lo <= hi
                fpr = c.fpr
                a = np.maximum(a, fpr[np.minimum(lo, fpr.shape[0] - 1)] - tol)
                b = np.minimum(b, fpr[np.clip(hi, 0, fpr.shape[0] - 1)])
            start = np.searchsorted(f_starts, a - eps, side="left")
            stop = np.searchsorted(f_starts, b + eps, side="right")
            count = np.where(ok, np.maximum(stop - start, 0), 0)
        else:
            start = np.zeros(n_t, dtype=np.int64)
            count = np.ones(n_t, dtype=np.int64)

        best_total, best_idx = -np.inf, None
        t_all = np.arange(n_t)
        budget = 2_000_000
        t0 = 0
        while t0 < n_t:
            # Take as many TPR bands as fit the budget of pairs (at least one).
            cum = np.cumsum(count[t0:])
            t1 = t0 + max(1, int(np.searchsorted(cum, budget, side="right")))
            cnt = count[t0:t1]
            total_pairs = int(cnt.sum())
            if total_pairs:
                t_idx = np.repeat(t_all[t0:t1], cnt)
                offsets = np.repeat(np.cumsum(cnt) - cnt, cnt)
                f_idx = np.repeat(start[t0:t1], cnt) + (np.arange(total_pairs) - offsets)
                total = np.zeros(total_pairs)
                args = []
                for gi in range(len(curves)):
                    lo = np.maximum(
                        np.maximum(f_runs[gi][0][f_idx], t_runs[gi][0][t_idx]), floor_lo[gi]
                    )
                    hi = np.minimum(f_runs[gi][1][f_idx], t_runs[gi][1][t_idx])
                    val, arg = rmqs[gi].query(lo, hi)
                    total += val
                    args.append(arg)
                k = int(np.argmax(total))
                if total[k] > best_total + 1e-15:
                    best_total = float(total[k])
                    best_idx = [int(x[k]) for x in args]
            t0 = t1
        assert best_idx is not None  # the all-negative / all-positive bands are always feasible
        return [float(c.thresholds[i]) for c, i in zip(curves, best_idx, strict=True)], best_total

    # -- use --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise ConfigError(
                "GroupThresholdOptimizer is not fitted yet; call fit(scores, y, sensitive_features=...) first."
            )

    def predict(self, scores: Any, *, sensitive_features: Any) -> np.ndarray:
        """Decisions (int8 0/1) for new rows: ``score >= threshold of the row's group``."""
        self._check_fitted()
        groups, _ = group_labels(sensitive_features)
        s, _ = _check_scores_labels(scores, None, groups.shape[0])
        return self.to_group_thresholds().apply(s, groups)

    def to_group_thresholds(
        self, *, fitted_on: str | None = None, data_sha256: str | None = None, **extra: Any
    ) -> GroupThresholds:
        """The fitted thresholds as the saveable :class:`GroupThresholds` with provenance."""
        self._check_fitted()
        from fairaudit._version import __version__

        provenance: dict[str, Any] = {
            "method": "deterministic per-group thresholds (Hardt et al. 2016), fitted on validation data",
            "objective": self.objective,
            "tolerance": self.tolerance if self.tolerance == "auto" else float(self.tolerance),
            "tolerance_used": self.tolerance_,
            "randomized_reference_performance": self.randomized_reference_,
            "sensitivity_floor": None if self.sensitivity_floor is None else float(self.sensitivity_floor),
            "performance": self.performance,
            "validation_performance": self.performance_,
            "validation_gap": {**self.gap_, "over": "fitted groups"},
            "validation_gap_all_groups": {**self.gap_all_groups_, "over": "all groups"},
            "candidates": ("every cut between distinct validation scores (exact)"
                           if self.max_candidates is None
                           else f"at most {int(self.max_candidates)} cuts per group (thinned)"),
            "fitted_on": fitted_on,
            "data_sha256": data_sha256,
            "n_validation": self.n_validation_,
            "validation": self.validation_,
            "decision_rule": "score >= threshold",
            "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "tool_version": __version__,
        }
        provenance.update(extra)
        return GroupThresholds(
            attribute=self.attribute_,
            thresholds=dict(self.thresholds_),
            default=float(self.default_),
            provenance=provenance,
        )


def _gap(tprs: list[float], fprs: list[float]) -> dict[str, float | None]:
    return {
        "tpr_difference": (max(tprs) - min(tprs)) if tprs else None,
        "fpr_difference": (max(fprs) - min(fprs)) if fprs else None,
    }


def _upper_hull(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper convex hull of ROC points (with (0, 0) and (1, 1)), left to right."""
    pts = sorted(set(zip(np.r_[0.0, fpr, 1.0].tolist(), np.r_[0.0, tpr, 1.0].tolist(), strict=True)))
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # Drop the middle point unless it lies strictly above the chord (a right turn).
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    xs, ys = np.array([h[0] for h in hull]), np.array([h[1] for h in hull])
    return xs, ys


def _randomized_optimum(
    curves: list[_Curve], w_pos: float, w_neg: float, objective: str, floor: float | None
) -> float:
    """Best performance of randomised per-group thresholds meeting the constraint exactly.

    Randomising between two thresholds reaches any point under a group's ROC convex hull
    (Hardt et al. 2016; fairlearn's ``ThresholdOptimizer``). Performance is linear in the
    groups' (FPR, TPR), so the optimum is evaluated on a fine grid of the shared rate.
    """
    hulls = [_upper_hull(c.fpr, c.tpr) for c in curves]
    pos = np.array([c.n_pos for c in curves], dtype=np.float64)
    neg = np.array([c.n_neg for c in curves], dtype=np.float64)
    if objective == "equalized_odds":
        # A shared (f, t) with t <= every group's hull at f; performance is linear in (f, t).
        f = np.unique(np.concatenate([np.linspace(0.0, 1.0, 2001)] + [h[0] for h in hulls]))
        # At a repeated FPR (the vertical start of a hull) the highest TPR counts.
        last = [np.r_[hx[1:] != hx[:-1], True] for hx, _ in hulls]
        t = np.min([np.interp(f, hx[k], hy[k]) for (hx, hy), k in zip(hulls, last, strict=True)], axis=0)
        if floor is not None:
            keep = t >= floor - 1e-12
            f, t = f[keep], t[keep]
        util = w_pos * pos.sum() * t + w_neg * neg.sum() * (1.0 - f)
        return float(util.max())
    # Equal opportunity: a shared t; each group at the smallest FPR reaching it on its hull.
    t = np.unique(np.concatenate([np.linspace(0.0, 1.0, 2001)] + [h[1] for h in hulls]))
    if floor is not None:
        t = t[t >= floor - 1e-12]
    total = w_pos * pos.sum() * t
    for (hx, hy), n_neg in zip(hulls, neg, strict=True):
        # The hull is increasing in t up to its first point with t = 1; invert that part.
        last = int(np.argmax(hy >= 1.0 - 1e-15))
        total = total + w_neg * n_neg * (1.0 - np.interp(t, hy[: last + 1], hx[: last + 1]))
    return float(total.max())


def _check_scores_labels(scores: Any, y: Any | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n:
        raise InputError(f"got {s.shape[0] if s.ndim else 0} scores for {n} rows of sensitive features.")
    if not np.all(np.isfinite(s)) or np.any((s < 0) | (s > 1)):
        raise InputError("scores must be probabilities in [0, 1] with no missing values.")
    if y is None:
        return s, np.zeros(0, dtype=np.int8)
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise InputError(f"got {labels.shape[0] if labels.ndim else 0} labels for {n} scores.")
    if not np.all(np.isin(labels, (0, 1))):
        raise InputError("labels must be 0 or 1 (1 = condition present).")
    return s, labels.astype(np.int8)


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


def dataset_groups(dataset: AuditDataset, attributes: str | Sequence[str]) -> tuple[np.ndarray, str]:
    """Group name per row of an :class:`AuditDataset` for one attribute or an intersection."""
    attrs = [attributes] if isinstance(attributes, str) else list(attributes)
    if len(attrs) == 1 and SEPARATOR in attrs[0] and attrs[0] not in dataset.attributes:
        try:
            attrs = [a.strip() for a in split_label(attrs[0])]
        except ValueError as e:
            raise InputError(f"attribute {attrs[0]!r} is not a column or an intersection: {e}.") from e
    unknown = [a for a in attrs if a not in dataset.attributes]
    if unknown:
        raise InputError(
            f"attribute(s) {', '.join(map(repr, unknown))} are not among the sensitive columns "
            f"of {dataset.source} ({', '.join(dataset.attributes)})."
        )
    cols = [dataset.attributes.index(a) for a in attrs]
    keys, inverse = np.unique(dataset.group_codes[:, cols], axis=0, return_inverse=True)
    spelt = [group_label(dataset.group_names[j][int(c)] for j, c in zip(cols, key, strict=True))
             for key in keys]
    return np.asarray(spelt, dtype=object)[inverse.ravel()], attribute_label(attrs)


def fit_group_thresholds(
    dataset: AuditDataset,
    scores: Any | None = None,
    *,
    attributes: str | Sequence[str],
    objective: str = "equalized_odds",
    **params: Any,
) -> GroupThresholds:
    """Fit per-group thresholds on a validation :class:`AuditDataset`; returns the saveable file.

    ``scores`` default to the dataset's own score column. ``params`` go to
    :class:`GroupThresholdOptimizer`. The provenance records the dataset's source and SHA-256.
    """
    if scores is None:
        if dataset.scores is None:
            raise InputError(
                f"{dataset.source} has no scores; give the model's validation predictions."
            )
        scores = dataset.scores
    groups, attribute = dataset_groups(dataset, attributes)
    opt = GroupThresholdOptimizer(objective, **params)
    frame = {attribute: groups}
    import pandas as pd

    opt.fit(scores, dataset.labels, sensitive_features=pd.DataFrame(frame))
    return opt.to_group_thresholds(fitted_on=dataset.source, data_sha256=dataset.sha256)


__all__ = [
    "FILE_FORMAT",
    "OBJECTIVES",
    "PERFORMANCE",
    "GroupThresholdOptimizer",
    "GroupThresholds",
    "dataset_groups",
    "fit_group_thresholds",
    "fitted_rows_overlap",
]
