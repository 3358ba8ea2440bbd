"""Spread of each performance metric across the sufficient groups of a partition: min, max,
mean, SD and skewed error ratio, with SD and SER intervals over the simultaneous intervals,
and the insufficient groups listed with their values (never hidden)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fairaudit.metrics.cells import Partition
from fairaudit.metrics.criteria import SUMMARY_METRICS, summary_values
from fairaudit.metrics.simultaneous import Box, sd_intervals, ser_interval
from fairaudit.result import FlaggedValue, Summary


def _f(x: float | np.ndarray | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _ci(lo: float, hi: float) -> tuple[float, float] | None:
    return (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None


def summaries(points: Mapping[str, Mapping[str, np.ndarray]], parts: list[Partition],
              sufficient: Mapping[str, tuple[np.ndarray, list[tuple[str, ...]]]],
              boxes: Mapping[str, Mapping[str, Box]]) -> list[Summary]:
    """The spread summaries of every partition (``points``: its point metrics by partition
    name; ``sufficient``: which groups are sufficient and the reasons of the others;
    ``boxes``: its simultaneous intervals by metric); their SD intervals solved in one batch."""
    fields: list[dict] = []
    sd_boxes: list[tuple[np.ndarray, np.ndarray]] = []
    sd_at: list[int] = []  # the summary of each SD box
    for p in parts:
        for metric, higher in SUMMARY_METRICS.items():
            f, sd_box = _summary_fields(points[p.name], p, metric, higher, sufficient[p.name],
                                        boxes[p.name])
            if sd_box is not None:
                sd_at.append(len(fields))
                sd_boxes.append(sd_box)
            fields.append(f)
    for i, sd in zip(sd_at, sd_intervals(sd_boxes), strict=True):
        fields[i]["sd_ci"] = _ci(*sd)
    return [Summary(**f) for f in fields]


def _summary_fields(
    point: Mapping[str, np.ndarray], p: Partition, metric: str, higher: bool,
    suff: tuple[np.ndarray, list[tuple[str, ...]]], boxes: Mapping[str, Box],
) -> tuple[dict, tuple[np.ndarray, np.ndarray] | None]:
    """The fields of one summary but its SD interval, and the box that interval is over
    (None: no interval)."""
    ok, reasons_of = suff
    all_vals = point[metric]
    flagged = _flagged(p, all_vals, ok, reasons_of, higher)
    kidx = np.flatnonzero(ok & np.isfinite(all_vals))
    vals = all_vals[kidx]
    if vals.size == 0:
        return dict(attribute=p.name, metric=metric, min=None, max=None, mean=None, sd=None,
                    ser=None, worst_group=None, best_group=None, n_groups=0,
                    higher_is_better=higher, insufficient_groups=flagged), None
    s = summary_values(vals, higher)
    worst = kidx[int(np.argmin(vals) if higher else np.argmax(vals))]
    best = kidx[int(np.argmax(vals) if higher else np.argmin(vals))]
    sd_box = ser_ci = None
    b = boxes.get(metric)
    if b is not None and vals.size >= 2 and np.isin(kidx, b.family).all():
        lo, hi = b.lo[kidx], b.hi[kidx]
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            sd_box = (lo, hi)
            ser_b = ser_interval(lo, hi, higher)
            ser_ci = _ci(*ser_b) if ser_b is not None else None
    return dict(
        attribute=p.name, metric=metric, min=_f(s["min"]), max=_f(s["max"]),
        mean=_f(s["mean"]), sd=_f(s["sd"]), ser=_f(s["ser"]),
        worst_group=p.groups[worst], best_group=p.groups[best], n_groups=int(vals.size),
        sd_ci=None, ser_ci=ser_ci if _f(s["ser"]) is not None else None,
        higher_is_better=higher, insufficient_groups=flagged,
    ), sd_box


def _flagged(
    p: Partition, vals: np.ndarray, ok: np.ndarray, reasons_of: list[tuple[str, ...]], higher: bool
) -> tuple[FlaggedValue, ...]:
    """Insufficient groups with their values, worst first (undefined values last)."""
    bad = np.flatnonzero(~ok)
    key = np.where(np.isfinite(vals[bad]), -vals[bad] if not higher else vals[bad], np.inf)
    return tuple(
        FlaggedValue(p.groups[gi], _f(vals[gi]), "; ".join(reasons_of[gi]))
        for gi in bad[np.argsort(key, kind="stable")]
    )
