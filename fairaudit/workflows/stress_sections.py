"""Sections of the stress result that are computed from scores, latents and replicate weights.

Each function builds one JSON-ready section of :class:`~fairaudit.stress_result.StressResult`
(see ``docs/stress.md``); :mod:`fairaudit.workflows.stress` calls them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fairaudit.metrics.stress import (
    chi_square_test,
    interval,
    mean_and_difference,
    rank_correlation,
    wilson_interval,
    worst_relative_loss,
)
from fairaudit.metrics.weighted import weighted_auc
from fairaudit.models.attribution import absolute_shares, coalitions, shapley_values
from fairaudit.models.features import MODALITIES
from fairaudit.models.probe import control_probe, probe_auc

Groups = Mapping[str, np.ndarray]


def _ordered(values: np.ndarray) -> list[str]:
    return sorted(set(values.tolist()), key=lambda s: (s == "unknown", s))


def missingness_section(present: np.ndarray, groups: Groups, weights: np.ndarray,
                        level: float) -> list[dict[str, Any]]:
    """Per attribute and modality: each group's missing rate (Wilson interval), its difference
    from the other groups (patient-bootstrap interval) and a chi-square test across groups."""
    out = []
    for attr, labels in groups.items():
        for j, modality in enumerate(MODALITIES):
            missing = ~present[:, j]
            rows = []
            for g in _ordered(labels):
                m = labels == g
                k, n = int(missing[m].sum()), int(m.sum())
                diff = mean_and_difference(missing.astype(float), m, weights, level)
                rows.append({"group": g, "n": n, "n_missing": k, "rate": k / n if n else None,
                             "ci": wilson_interval(k, n, level),
                             "difference_from_rest": diff["difference_from_rest"],
                             "difference_ci": diff["difference_ci"]})
            test: dict[str, Any] = {"method": "Pearson chi-square (studies as units)",
                                    **chi_square_test(missing, labels)}
            out.append({"attribute": attr, "modality": modality, "groups": rows, "test": test})
    return out


def missing_rate(section: Sequence[Mapping[str, Any]], attribute: str, modality: str) -> dict[str, float]:
    """Group -> observed missing rate, from :func:`missingness_section`."""
    for entry in section:
        if entry["attribute"] == attribute and entry["modality"] == modality:
            return {r["group"]: r["rate"] for r in entry["groups"] if r["rate"] is not None}
    return {}


def realistic_available(present: np.ndarray, labels: np.ndarray, rates: Mapping[str, Sequence[float]],
                        seed: int) -> np.ndarray:
    """Presence after dropping each present modality with its group's observed missing rate
    (``rates[group][j]`` for modality j), keeping at least one modality per study."""
    u = np.random.default_rng([int(seed), 7919]).random(present.shape)
    p = np.array([rates[g] for g in labels.tolist()], dtype=float)
    keep = present & (u >= p)
    empty = np.asarray(~keep.any(axis=1) & present.any(axis=1))
    if empty.any():
        score = np.where(present, u, -1.0)
        first = np.eye(present.shape[1], dtype=bool)[score.argmax(axis=1)]
        keep = np.where(empty[:, None], first & present, keep)
    return keep


def corruption_section(scores: Mapping[str, np.ndarray], clean_id: str, ids: Mapping[str, Mapping[int, str]],
                       labels: np.ndarray, groups: Groups, sufficient: Mapping[str, set[str]],
                       weights: np.ndarray, level: float) -> list[dict[str, Any]]:
    """Per corruption and attribute: the headline index (the worst sufficient group's relative
    AUC loss, averaged over the severities run) with its patient-bootstrap interval."""
    y = labels.astype(bool)
    ones = np.ones((1, y.size))
    both = np.vstack([ones, weights])
    out = []
    for name, by_severity in ids.items():
        per_attr = []
        for attr, lab in groups.items():
            names = [g for g in _ordered(lab) if g in sufficient.get(attr, set())]
            if not names:
                continue
            member = [lab == g for g in names]

            def aucs(s: np.ndarray, member: list[np.ndarray] = member) -> np.ndarray:
                return np.stack([weighted_auc(s[m], y[m], both[:, m]) for m in member], axis=1)

            clean = aucs(scores[clean_id])
            corr = np.stack([aucs(scores[c]) for c in by_severity.values()])
            reps = worst_relative_loss(clean, corr)
            per_attr.append({"attribute": attr, "groups": names,
                             "index": float(reps[0]) if np.isfinite(reps[0]) else None,
                             "ci": interval(reps[1:], level)})
        out.append({"corruption": name, "severities": sorted(by_severity),
                    "index": per_attr})
    return out


def gap_section(reference: Mapping[tuple[str, str], float | None], overall_auc: float | None,
                missingness: Sequence[Mapping[str, Any]], groups: Groups) -> list[dict[str, Any]]:
    """Per modality: Spearman correlation across all sufficient groups (of every attribute)
    between the group's AUC gap (group - overall, reference condition) and its missing rate."""
    out = []
    for modality in MODALITIES:
        points = []
        for attr in groups:
            rates = missing_rate(missingness, attr, modality)
            for g, rate in rates.items():
                auc = reference.get((attr, g))
                if auc is None or overall_auc is None:
                    continue
                points.append({"attribute": attr, "group": g, "auc_gap": auc - overall_auc,
                               "missing_rate": rate})
        x = np.array([p["missing_rate"] for p in points], dtype=float)
        gap = np.array([p["auc_gap"] for p in points], dtype=float)
        out.append({"modality": modality, "points": points, **rank_correlation(x, gap),
                    "note": "evidence, not a verdict: few groups, and missingness is not "
                            "randomised"})
    return out


def probe_section(latents: np.ndarray, fused: np.ndarray, present: np.ndarray, groups: Groups,
                  patients: np.ndarray, weights: np.ndarray, *, folds: int, shuffles: int,
                  seed: int, level: float, progress: Callable[[int], None]) -> dict[str, Any]:
    """Probe AUC of every attribute from the fused latent and from each modality's latent
    (studies that have it), and the shuffled-attribute control on the fused latent."""
    results, controls = [], []
    for attr, lab in groups.items():
        lab = np.asarray(lab).astype(str)
        spaces = [("fused", fused, np.ones(lab.size, bool))]
        spaces += [(m, latents[:, j], present[:, j]) for j, m in enumerate(MODALITIES)]
        for space, x, rows in spaces:
            r = probe_auc(x[rows], lab[rows], patients[rows], weights[:, rows], folds=folds,
                          seed=seed, level=level)
            results.append({"attribute": attr, "latent": space, "auc": r.auc, "ci": r.ci,
                            "groups": list(r.groups), "n": r.n})
            progress(1)
        c = control_probe(fused, lab, patients, weights, shuffles=shuffles, folds=folds,
                          seed=seed, level=level)
        covers = c.ci is not None and c.ci[0] <= 0.5 <= c.ci[1]
        controls.append({"attribute": attr, "latent": "fused", "auc": c.auc, "ci": c.ci,
                         "shuffles": shuffles, "covers_chance": covers})
        progress(1)
    return {
        "method": ("L2 logistic regression on standardised latents; stratified grouped "
                   f"{folds}-fold split by patient; AUC within each test fold (macro one-vs-rest "
                   "for more than two groups) averaged over folds; patient-bootstrap percentile "
                   "interval of the out-of-fold predictions"),
        "reading": "an AUC above 0.5 means the latent encodes the attribute; it does not show "
                   "that the model uses it",
        "results": results, "controls": controls,
    }


def attribution_section(values: Mapping[str, Mapping[frozenset[str], np.ndarray]],
                        groups: Groups, missingness: Sequence[Mapping[str, Any]],
                        weights: np.ndarray, level: float) -> dict[str, Any]:
    """Per imputation mode, attribute and group: mean absolute Shapley share of each modality
    (interval, difference from the other groups); flags where a group relies more on a
    modality that is also more often missing for it."""
    results, flags, efficiency = [], [], {}
    for impute, value in values.items():
        phi = shapley_values(value)
        gap = phi.sum(axis=1) - (value[frozenset(MODALITIES)] - value[frozenset()])
        efficiency[impute] = float(np.abs(gap).max())
        shares = absolute_shares(phi)
        for attr, lab in groups.items():
            for g in _ordered(lab):
                m = lab == g
                entry: dict[str, Any] = {"impute": impute, "attribute": attr, "group": g, "n": int(m.sum()),
                         "shares": {}}
                for j, modality in enumerate(MODALITIES):
                    s = mean_and_difference(shares[:, j], m, weights, level)
                    entry["shares"][modality] = s
                    flag = _flag(s, missingness, attr, g, modality)
                    if flag is not None:
                        flags.append({"impute": impute, "attribute": attr, "group": g,
                                      "modality": modality, **flag})
                results.append(entry)
    return {"coalitions": [sorted(c) for c in coalitions()], "results": results, "flags": flags,
            "efficiency_max_error": efficiency,
            "method": "exact Shapley values over the 3 modalities (8 coalitions) of the predicted "
                      "probability; share = |phi_i| / sum_j |phi_j| per study"}


def _flag(share: Mapping[str, Any], missingness: Sequence[Mapping[str, Any]], attr: str,
          group: str, modality: str) -> dict[str, Any] | None:
    for entry in missingness:
        if entry["attribute"] != attr or entry["modality"] != modality:
            continue
        row = next(r for r in entry["groups"] if r["group"] == group)
        d_share, d_miss = share["difference_from_rest"], row["difference_from_rest"]
        if d_share is None or d_miss is None or d_share <= 0 or d_miss <= 0:
            return None
        ci_s, ci_m = share["difference_ci"], row["difference_ci"]
        supported = bool(ci_s and ci_m and ci_s[0] > 0 and ci_m[0] > 0)
        return {"share_difference": d_share, "share_difference_ci": ci_s,
                "missing_difference": d_miss, "missing_difference_ci": ci_m,
                "supported": supported}
    return None
