"""The stress audit: fairness under missing modalities and degraded images, attribute leakage
from the latent space, and modality attribution, per group with intervals.

:func:`stress_audit` loads the built-in model and a manifest; :func:`stress_dataset` does the
work: encode every study once (:mod:`fairaudit.models.latent_cache`), score each condition by
re-running only what it changes, compute every per-group change from the reference through the
paired engine (:func:`fairaudit.metrics.paired.paired_changes`: every condition on the same
resampled patients), then the missingness, corruption index, probe and attribution sections
(:mod:`fairaudit.workflows.stress_sections`), and gate the result on ``[[stress]]`` rules.
Nothing here prints or writes; progress goes to ``on_progress(stage, done, total)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit.errors import ConfigError
from fairaudit.models.corruptions import CORRUPTION_NAMES, SEVERITIES, check_corruption
from fairaudit.models.features import MODALITIES
from fairaudit.stress_result import StressResult

Progress = Callable[[str, int, int], None]
STRESS_METRICS = ("auc", "tpr", "fpr", "balanced_accuracy")
STRESS_CRITERIA = ("equal_opportunity_difference", "equalized_odds_difference",
                   "demographic_parity_difference", "auc_difference")
IMPUTE_MODES = ("diffusion", "fallback")


def all_removals() -> tuple[tuple[str, ...], ...]:
    """Each modality and each pair of modalities (six removals)."""
    singles = tuple((m,) for m in MODALITIES)
    pairs = tuple((a, b) for i, a in enumerate(MODALITIES) for b in MODALITIES[i + 1:])
    return singles + pairs


@dataclass(frozen=True)
class StressConfig:
    """What the stress audit runs (defaults: everything).

    Attributes
    ----------
    corruptions, severities
        Image corruptions (:data:`~fairaudit.models.corruptions.CORRUPTION_NAMES`) and their
        severities (1-5); corrupted images are scored with the first of ``imputes``.
    removals
        Sets of modalities removed from every study (each scored with every imputation mode).
    imputes
        ``"diffusion"`` and/or ``"fallback"`` (absent tokens).
    realistic
        Add, per attribute, a condition dropping modalities at each group's observed rate.
    probe, attribution
        Run the attribute-leakage probes and the Shapley attribution.
    n_bootstrap, confidence_level, seed
        Patient-bootstrap replicates shared by every interval; coverage; seed of everything
        random (bootstrap, noise corruptions, realistic missingness, probe folds).
    """

    corruptions: tuple[str, ...] = CORRUPTION_NAMES
    severities: tuple[int, ...] = SEVERITIES
    removals: tuple[tuple[str, ...], ...] = field(default_factory=all_removals)
    imputes: tuple[str, ...] = IMPUTE_MODES
    realistic: bool = True
    probe: bool = True
    attribution: bool = True
    n_bootstrap: int = 1000
    confidence_level: float = 0.95
    seed: int = 0
    batch_size: int = 512
    ddim_steps: int | None = None
    samples: int | None = None
    probe_folds: int = 5
    probe_shuffles: int = 5
    min_group_size: int = 30
    min_group_events: int = 10

    def check(self) -> None:
        """Raise ConfigError naming the first invalid parameter."""
        for name in self.corruptions:
            check_corruption(name, 1)
        for s in self.severities:
            check_corruption(CORRUPTION_NAMES[0], s)
        for removed in self.removals:
            bad = [m for m in removed if m not in MODALITIES]
            if bad or not removed or len(removed) >= len(MODALITIES):
                raise ConfigError(f"removals must be non-empty proper subsets of "
                                  f"{', '.join(MODALITIES)}; got {removed!r}.")
        if not self.imputes or any(i not in IMPUTE_MODES for i in self.imputes):
            raise ConfigError(f"imputes must be among {', '.join(IMPUTE_MODES)}; got {self.imputes!r}.")
        if self.n_bootstrap < 50:
            raise ConfigError(f"n_bootstrap must be at least 50; got {self.n_bootstrap}.")
        if not 0.5 < self.confidence_level < 1:
            raise ConfigError(f"confidence_level must be in (0.5, 1); got {self.confidence_level}.")
        if self.probe_folds < 2 or self.probe_shuffles < 1:
            raise ConfigError("probe_folds must be at least 2 and probe_shuffles at least 1.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "corruptions": list(self.corruptions), "severities": list(self.severities),
            "removals": [list(r) for r in self.removals], "imputes": list(self.imputes),
            "realistic": self.realistic, "probe": self.probe, "attribution": self.attribution,
            "n_bootstrap": self.n_bootstrap, "confidence_level": self.confidence_level,
            "seed": self.seed, "probe_folds": self.probe_folds,
            "probe_shuffles": self.probe_shuffles, "min_group_size": self.min_group_size,
            "min_group_events": self.min_group_events,
        }


def condition_id(*, removed: tuple[str, ...] = (), impute: str = "diffusion",
                 corruption: str | None = None, severity: int | None = None,
                 realistic: str | None = None) -> str:
    """The id of a condition in ``stress.json`` (``reference:diffusion``,
    ``remove:image+note:fallback``, ``realistic:race:diffusion``, ``gaussian_noise:3``)."""
    if corruption is not None:
        return f"{corruption}:{severity}"
    if realistic is not None:
        return f"realistic:{realistic}:{impute}"
    if removed:
        return f"remove:{'+'.join(m for m in MODALITIES if m in removed)}:{impute}"
    return f"reference:{impute}"


def stress_audit(model: str | Path, data: str | Path, *, label: str, sensitive: str | list[str],
                 cluster: str | None = None, config: StressConfig = StressConfig(),
                 policy: Any = None, on_progress: Progress | None = None) -> StressResult:
    """Load the built-in model and a manifest, run :func:`stress_dataset`.

    Raises
    ------
    ConfigError
        The checkpoint is not the built-in multimodal model (modality and latent analyses need
        it), or a parameter is invalid.
    InputError
        The manifest is invalid (names the file, column and value).
    """
    from fairaudit.data.manifest import load_manifest
    from fairaudit.models.checkpoint import load_model
    from fairaudit.models.multimodal import MultimodalPredictor

    config.check()
    predictor = load_model(model)
    if not isinstance(predictor, MultimodalPredictor):
        raise ConfigError(f"model {model} is not the built-in multimodal model; the stress audit "
                          "needs its encoders, latents and imputation.")
    ds = load_manifest(data, label=label, sensitive=sensitive, cluster=cluster)
    return stress_dataset(predictor, ds, config=config, policy=policy, on_progress=on_progress,
                          model_path=str(model), data_path=str(data))


def _score_conditions(cache: Any, groups: Mapping[str, np.ndarray], missingness: list,
                      config: StressConfig, report: Progress) -> tuple[dict, dict, dict]:
    """Scores of every condition, their descriptions, and the coalition values (attribution)."""
    from fairaudit.workflows.stress_sections import missing_rate, realistic_available

    scores: dict[str, np.ndarray] = {}
    meta: dict[str, dict[str, Any]] = {}
    by_removed: dict[tuple[tuple[str, ...], str], np.ndarray] = {}
    present = cache.present.numpy()
    has_image = np.flatnonzero(present[:, 0])
    subsets = [(), *config.removals]
    if config.attribution:
        subsets += [r for r in _all_subsets() if r not in subsets]
    total = len(subsets) * len(config.imputes) + len(config.corruptions) * len(config.severities)
    total += len(groups) * len(config.imputes) * config.realistic
    done = 0
    for impute in config.imputes:
        for removed in subsets:
            by_removed[(removed, impute)] = cache.scores(cache.available(removed), impute=impute)
            if removed in ((), *config.removals):
                cid = condition_id(removed=removed, impute=impute)
                scores[cid] = by_removed[(removed, impute)]
                meta[cid] = {"kind": "reference" if not removed else "removal", "impute": impute,
                             "removed": list(removed)}
            done += 1
            report("conditions", done, total)
        if config.realistic:
            for attr, lab in groups.items():
                rates = {g: [missing_rate(missingness, attr, m).get(g, 0.0) for m in MODALITIES]
                         for g in set(lab.tolist())}
                avail = realistic_available(present, lab, rates, config.seed)
                cid = condition_id(realistic=attr, impute=impute)
                scores[cid] = cache.scores(avail, impute=impute)
                meta[cid] = {"kind": "realistic", "impute": impute, "attribute": attr,
                             "n_dropped": int((present & ~avail).sum())}
                done += 1
                report("conditions", done, total)
    for name in config.corruptions:
        for sev in config.severities:
            lat = cache.corrupted_latents(name, sev, seed=config.seed)
            cid = condition_id(corruption=name, severity=sev)
            # Only studies with an image change; the others keep their reference score.
            s = scores[condition_id(impute=config.imputes[0])].copy()
            s[has_image] = cache.scores(cache.available(), impute=config.imputes[0], latents=lat,
                                        rows=has_image)[has_image]
            scores[cid] = s
            meta[cid] = {"kind": "corruption", "impute": config.imputes[0], "corruption": name,
                         "severity": sev}
            done += 1
            report("conditions", done, total)
    values = {impute: {frozenset(m for m in MODALITIES if m not in r): by_removed[(r, impute)]
                       for r in _all_subsets()}
              for impute in config.imputes} if config.attribution else {}
    return scores, meta, values


def _all_subsets() -> list[tuple[str, ...]]:
    return [(), *all_removals(), tuple(MODALITIES)]


def _paired(labels: np.ndarray, scores: Mapping[str, np.ndarray], reference: str, threshold: float,
            groups: Mapping[str, np.ndarray], clusters: np.ndarray, config: StressConfig,
            report: Progress) -> Any:
    from fairaudit.metrics.paired import paired_changes

    return paired_changes(
        labels, scores, {c: threshold for c in scores}, groups, reference=reference,
        clusters=clusters, n_bootstrap=config.n_bootstrap, seed=config.seed,
        confidence_level=config.confidence_level, metrics=STRESS_METRICS,
        criteria=STRESS_CRITERIA, intersections=False, simultaneous=True,
        min_group_size=config.min_group_size, min_group_events=config.min_group_events,
        progress=lambda d, t: report(f"paired bootstrap ({reference})", d, t),
    )


def _iv(x: Any) -> list[float] | None:
    return None if x is None else [float(x[0]), float(x[1])]


def _condition_entries(paired: Any, meta: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """JSON entries of the paired result's reference and conditions."""
    from fairaudit.metrics.stress import relative_balanced_error

    by_cond: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    ref_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for ch in paired.changes:
        key = (ch.attribute, ch.group)
        row = by_cond.setdefault(ch.condition, {}).setdefault(
            key, {"attribute": ch.attribute, "group": ch.group, "n": ch.n, "n_pos": ch.n_pos,
                  "sufficient": ch.sufficient, "metrics": {}})
        row["metrics"][ch.metric] = {
            "value": ch.value, "reference_value": ch.reference_value, "change": ch.change,
            "ci": _iv(ch.ci), "simultaneous_ci": _iv(ch.simultaneous_ci), "p_value": ch.p_value}
        ref = ref_rows.setdefault(key, {"attribute": ch.attribute, "group": ch.group, "n": ch.n,
                                        "n_pos": ch.n_pos, "sufficient": ch.sufficient,
                                        "metrics": {}})
        ref["metrics"][ch.metric] = {"value": ch.reference_value}
    for rows in by_cond.values():
        for row in rows.values():
            ba = row["metrics"].get("balanced_accuracy", {})
            row["rbe"] = relative_balanced_error(ba.get("value"), ba.get("reference_value"))
    crit: dict[str, list[dict[str, Any]]] = {}
    ref_crit: dict[str, dict[str, Any]] = {}
    for cc in paired.criterion_changes:
        crit.setdefault(cc.condition, []).append({
            "attribute": cc.attribute, "criterion": cc.criterion, "value": cc.value,
            "reference_value": cc.reference_value, "change": cc.change, "ci": _iv(cc.ci),
            "p_value": cc.p_value, "complete": cc.complete})
        ref_crit.setdefault(f"{cc.attribute}/{cc.criterion}", {
            "attribute": cc.attribute, "criterion": cc.criterion, "value": cc.reference_value})
    out = [{"id": paired.reference, **meta[paired.reference], "reference": None,
            "groups": list(ref_rows.values()), "criteria": list(ref_crit.values())}]
    for cid in paired.conditions:
        out.append({"id": cid, **meta[cid], "reference": paired.reference,
                    "groups": list(by_cond.get(cid, {}).values()), "criteria": crit.get(cid, [])})
    return out


def _worst(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sufficient group (any attribute) whose AUC fell most in a condition."""
    rows = [r for r in entry["groups"] if r["attribute"] != "overall" and r["sufficient"]
            and r["metrics"].get("auc", {}).get("change") is not None]
    if not rows:
        return None
    w = min(rows, key=lambda r: r["metrics"]["auc"]["change"])
    return {"attribute": w["attribute"], "group": w["group"],
            "auc_change": w["metrics"]["auc"]["change"], "ci": w["metrics"]["auc"]["ci"]}


def stress_dataset(predictor: Any, dataset: Any, *, config: StressConfig = StressConfig(),
                   policy: Any = None, on_progress: Progress | None = None,
                   model_path: str | None = None, data_path: str | None = None) -> StressResult:
    """Run the stress audit of ``predictor`` (a MultimodalPredictor) on ``dataset``."""
    from fairaudit._io import timestamp
    from fairaudit._version import __version__
    from fairaudit.metrics.weighted import resample_weights
    from fairaudit.models.corruptions import parameter_table
    from fairaudit.models.latent_cache import encode_dataset
    from fairaudit.workflows import stress_sections as sec

    config.check()
    report = on_progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    cache = encode_dataset(predictor, dataset, batch_size=config.batch_size,
                           ddim_steps=config.ddim_steps, samples=config.samples,
                           on_progress=report)
    lap("encode")
    labels = dataset.labels.astype(np.int64)
    groups = {a: np.asarray(dataset.group_labels(a)).astype(str) for a in dataset.attributes}
    clusters = (dataset.clusters if dataset.clusters is not None
                else np.arange(dataset.n_rows))
    weights = resample_weights(dataset.n_rows, dataset.clusters, config.n_bootstrap,
                               np.random.default_rng(config.seed))
    level = config.confidence_level
    present = cache.present.numpy()
    missingness = sec.missingness_section(present, groups, weights, level)
    lap("missingness")
    scores, meta, values = _score_conditions(cache, groups, missingness, config, report)
    lap("conditions")
    threshold = float(predictor.threshold)
    conditions: list[dict[str, Any]] = []
    for impute in config.imputes:
        ref = condition_id(impute=impute)
        family = {c: s for c, s in scores.items() if meta[c]["impute"] == impute}
        if len(family) > 1:
            conditions += _condition_entries(
                _paired(labels, family, ref, threshold, groups, clusters, config, report), meta)
    lap("paired")
    reference = next((c for c in conditions if c["id"] == condition_id(impute=config.imputes[0])), None)
    sufficient = {a: {r["group"] for r in (reference or {"groups": []})["groups"]
                      if r["attribute"] == a and r["sufficient"]} for a in groups}
    ids = {name: {s: condition_id(corruption=name, severity=s) for s in config.severities}
           for name in config.corruptions}
    corr = sec.corruption_section(scores, condition_id(impute=config.imputes[0]), ids, labels,
                                  groups, sufficient, weights, level) if ids else []
    for entry in corr:
        entry["worst_group"] = {str(s): _worst(next(c for c in conditions if c["id"] == cid))
                                for s, cid in ids[entry["corruption"]].items()}
    ref_auc = {(r["attribute"], r["group"]): r["metrics"]["auc"]["value"]
               for r in (reference or {"groups": []})["groups"] if r["sufficient"]}
    overall = ref_auc.get(("overall", "overall"))
    gaps = sec.gap_section(ref_auc, overall, missingness, groups)
    lap("corruption summary")
    probe = None
    if config.probe:
        n_probe = len(groups) * (len(MODALITIES) + 2)
        step = iter(range(1, n_probe + 1))
        probe = sec.probe_section(
            cache.latents.double().numpy(), cache.fused(), present, groups, clusters, weights,
            folds=config.probe_folds, shuffles=config.probe_shuffles, seed=config.seed,
            level=level, progress=lambda k: report("probe", next(step), n_probe))
        lap("probe")
    attribution = (sec.attribution_section(values, groups, missingness, weights, level)
                   if config.attribution else None)
    if attribution is not None:
        lap("attribution")
    result = StressResult(
        model={"path": model_path, "sha256": getattr(predictor, "sha256", None),
               "threshold": threshold, "threshold_rule": getattr(predictor, "threshold_rule", None),
               "ddim_steps": cache.ddim_steps, "impute_samples": cache.samples},
        data={"path": data_path, "sha256": dataset.sha256, "n_rows": dataset.n_rows,
              "n_patients": int(np.unique(clusters).size), "label": dataset.label_column,
              "sensitive": list(dataset.attributes), "cluster": dataset.cluster_column,
              "n_positive": int(labels.sum())},
        config=config.to_dict(), corruption_parameters=tuple(parameter_table()),
        missingness=tuple(missingness), conditions=tuple(conditions), corruptions=tuple(corr),
        gap_vs_missingness=tuple(gaps), probe=probe, attribution=attribution,
        timings=timings, created=timestamp(), tool_version=__version__,
        warnings=tuple(_warnings(dataset, attribution, probe)),
    )
    if policy is not None:
        from fairaudit.gate.stress import evaluate_stress

        result = result.with_gate(evaluate_stress(result, policy))
    return result


def _warnings(dataset: Any, attribution: Any, probe: Any) -> list[str]:
    out = []
    if dataset.clusters is None:
        out.append("no patient column (cluster): studies were resampled as independent rows; "
                   "intervals are too narrow if patients have several studies")
    if probe is not None:
        for c in probe["controls"]:
            if not c["covers_chance"]:
                out.append(f"the shuffled-attribute control probe for {c['attribute']} does not "
                           "cover 0.5; treat that attribute's probe AUC with caution")
    return out


OUTPUT_FILES = ("stress.json", "stress.html")


def run_stress(model: str | Path, data: str | Path, *, label: str, sensitive: str | list[str],
               out: Path, cluster: str | None = None, config: StressConfig = StressConfig(),
               policy: str | Path | None = None, on_progress: Progress | None = None,
               names: Mapping[str, str] | None = None) -> tuple[StressResult, int]:
    """Check the output paths, run :func:`stress_audit`, render ``stress.json`` and
    ``stress.html``, and write both into ``out`` or neither.

    ``names`` say how messages name the path parameters (the CLI passes its flags). Returns the
    result and the exit code of its gate (0 without a policy).
    """
    from fairaudit._io import check_output_dir, check_outputs, write_files
    from fairaudit.exit_codes import exit_code
    from fairaudit.report.stress import render_stress_html

    named = dict(names or {})
    inputs = [(named.get(k, k), p) for k, p in (("model", model), ("data", data), ("policy", policy))]
    where = named.get("out", "out")
    check_output_dir(out, where)
    planned = [(f"{where} file {n}", Path(out) / n) for n in OUTPUT_FILES]
    check_outputs(planned, inputs)  # before any work
    config.check()
    rules = None
    if policy is not None:
        from fairaudit.gate.stress import load_stress_policy

        rules = load_stress_policy(policy)
    result = stress_audit(model, data, label=label, sensitive=sensitive, cluster=cluster,
                          config=config, policy=rules, on_progress=on_progress)
    texts = [result.to_json(), render_stress_html(result)]
    Path(out).mkdir(parents=True, exist_ok=True)
    write_files([(name, path, text) for (name, path), text in zip(planned, texts, strict=True)],
                inputs)
    return result, exit_code(result.gate)
