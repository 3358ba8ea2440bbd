"""A synthetic multimodal cohort with planted, documented biases (``fairaudit sample-data``).

Patients have sex, race/ethnicity (imbalanced as in UK Biobank: one large majority and several
small groups), age, smoking status and an acquisition site whose mix depends on race. Each
patient has one or more studies; each study has a binary diagnosis (prevalence depends on age,
sex, smoking and race) and up to three modalities:

- a 64x64 grayscale "chest" image: body, lung fields, ribs and texture, a lesion when diseased,
  site-dependent gain, offset and noise;
- a short clinical note: symptoms (disease-related, at different rates in the diseased and the
  healthy), negations, history, varied wording;
- a lab panel, some with sex-dependent reference ranges (haemoglobin, creatinine).

Missingness of each modality differs by group. Three biases are planted (configurable in
:class:`CohortConfig`; ground truth in ``cohort.json``):

1. **low lesion contrast** in one group (default: ``sex = F``), so the image shows less;
2. **under-documented symptoms** in another (default: ``race = Black``): reported symptoms are
   left out of the note;
3. **missed diagnoses** (label noise) in a third (default: ``race = Asian``): some diseased
   studies are recorded as ``diagnosis = 0``. The recorded label is what the manifest holds; the
   flipped study ids are listed in ``cohort.json``.

Stress effects (for ``fairaudit stress``; ground truth in ``cohort.json`` under
``planted_stress``): the default cohort's missingness by group (images by site, notes by race,
labs by sex) and its noisiest site (``S4``, where most Black patients are scanned) are documented
as planted, with what a stress audit should find. :class:`StressEffect` adds further effects
(extra image noise or extra missingness for one group) drawn from their own random stream, so a
cohort without them is unchanged.

On disk the cohort looks like a user's data: ``train.csv``, ``validation.csv``, ``test.csv``
(one row per study, image paths relative to the folder), ``images/*.png`` and ``cohort.json``.
Splits are by patient. Everything is a deterministic function of the seed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd

from fairaudit.errors import ConfigError

SPLITS = ("train", "validation", "test")
SITES = ("S1", "S2", "S3", "S4")

# Per site: gain, offset, noise SD (older scanners: lower gain, more noise).
SITE_IMAGING: dict[str, tuple[float, float, float]] = {
    "S1": (1.00, 0.00, 0.030),
    "S2": (0.85, 0.05, 0.050),
    "S3": (1.10, -0.04, 0.040),
    "S4": (0.75, 0.08, 0.070),
}

SYMPTOMS: dict[str, dict[str, Any]] = {
    # name: wording variants, P(mentioned as present | diseased), P(... | healthy)
    "cough": {"words": ["cough", "persistent cough", "productive cough", "a dry cough"], "p1": 0.55, "p0": 0.20},
    "haemoptysis": {"words": ["haemoptysis", "coughing up blood", "blood streaked sputum"], "p1": 0.30, "p0": 0.02},
    "weight_loss": {"words": ["weight loss", "unintentional weight loss", "losing weight"], "p1": 0.45, "p0": 0.05},
    "breathlessness": {"words": ["shortness of breath", "breathlessness", "dyspnoea on exertion"], "p1": 0.50, "p0": 0.15},
    "chest_pain": {"words": ["chest pain", "chest discomfort", "pleuritic chest pain"], "p1": 0.35, "p0": 0.12},
    "night_sweats": {"words": ["night sweats", "sweating at night"], "p1": 0.30, "p0": 0.04},
    "fatigue": {"words": ["fatigue", "tiredness", "low energy"], "p1": 0.50, "p0": 0.30},
}
_POSITIVE = ["Reports {s}.", "Complains of {s}.", "Presents with {s}.", "Describes {s} for {w} weeks.",
             "Patient notes {s}."]
_NEGATIVE = ["Denies {s}.", "No {s}.", "Negative for {s}.", "No history of {s}."]
_OPENERS = ["{age} year old {person} referred by GP.", "{person_cap}, {age}, seen in respiratory clinic.",
            "Seen today in clinic.", "Review of {age} year old {person}.", "Referral letter reviewed."]
_HISTORY = ["History of hypertension.", "Type 2 diabetes, diet controlled.", "Asthma since childhood.",
            "Previous appendicectomy.", "No significant past medical history.", "Hypercholesterolaemia on statin."]
_SMOKING = {"current": ["Current smoker.", "Smokes 20 a day.", "Active smoker."],
            "ex": ["Ex-smoker.", "Stopped smoking five years ago.", "Former smoker."],
            "never": ["Never smoked.", "Non-smoker.", "Lifelong non smoker."]}

# Labs: (healthy mean M, healthy mean F, SD, shift when diseased); log-normal ones marked below.
LABS: dict[str, tuple[float, float, float, float]] = {
    "lab_hemoglobin": (14.8, 13.2, 1.0, -1.0),  # g/dL, sex-dependent reference range
    "lab_creatinine": (1.00, 0.80, 0.16, 0.0),  # mg/dL, sex-dependent, no disease effect
    "lab_crp": (1.0, 1.0, 0.8, 1.0),  # log mg/L
    "lab_wbc": (7.0, 7.0, 1.6, 1.2),  # 10^9/L
    "lab_albumin": (42.0, 41.0, 3.5, -3.0),  # g/L
    "lab_ldh": (180.0, 175.0, 35.0, 40.0),  # U/L
}
_LOG_LABS = {"lab_crp"}


BiasKind: TypeAlias = Literal["low_lesion_contrast", "underdocumented_symptoms", "missed_diagnoses"]
"""What a planted bias does: lower lesion contrast, leave symptoms out of notes, or record
diseased studies as healthy."""


@dataclass(frozen=True)
class PlantedBias:
    """One planted bias: ``kind`` applied to rows where ``attribute == group`` with ``strength``."""

    kind: BiasKind
    attribute: str
    group: str
    strength: float
    """Contrast multiplier, probability a present symptom is left out, or probability a
    diseased study is recorded as healthy."""


STRESS_KINDS = ("image_noise", "missing_modality")


@dataclass(frozen=True)
class StressEffect:
    """An extra stress effect for ``attribute == group``: ``image_noise`` adds Gaussian noise of
    SD ``strength`` (intensity in [0, 1]) to the stored images; ``missing_modality`` removes
    ``modality`` (image, note or labs) with the extra probability ``strength``."""

    kind: str
    attribute: str
    group: str
    strength: float
    modality: str | None = None


@dataclass(frozen=True)
class CohortConfig:
    """Parameters of the simulated cohort (recorded in ``cohort.json``)."""

    n_patients: int = 4000
    seed: int = 0
    image_size: int = 64
    race_groups: tuple[tuple[str, float], ...] = (
        ("White", 0.80), ("Asian", 0.08), ("Black", 0.07), ("Mixed", 0.02), ("Other", 0.03))
    race_sites: tuple[tuple[str, tuple[float, ...]], ...] = (
        ("White", (0.45, 0.30, 0.15, 0.10)), ("Asian", (0.15, 0.20, 0.45, 0.20)),
        ("Black", (0.10, 0.15, 0.25, 0.50)), ("Mixed", (0.25, 0.25, 0.25, 0.25)),
        ("Other", (0.30, 0.20, 0.30, 0.20)))
    race_prevalence_logit: tuple[tuple[str, float], ...] = (
        ("White", 0.0), ("Asian", 0.2), ("Black", 0.4), ("Mixed", 0.1), ("Other", 0.0))
    split_fractions: tuple[float, float, float] = (0.5, 0.2, 0.3)
    extra_studies_mean: float = 0.5
    """Each patient has 1 + Poisson(extra_studies_mean) studies (at most 4)."""
    lesion_contrast: tuple[float, float] = (0.10, 0.28)
    biases: tuple[PlantedBias, ...] = (
        PlantedBias("low_lesion_contrast", "sex", "F", 0.35),
        PlantedBias("underdocumented_symptoms", "race", "Black", 0.9),
        PlantedBias("missed_diagnoses", "race", "Asian", 0.45),
    )
    missing_image: tuple[tuple[str, float], ...] = (("S1", 0.04), ("S2", 0.06), ("S3", 0.06), ("S4", 0.20))
    """P(no image) by site (older scanner, more downtime)."""
    missing_note: tuple[tuple[str, float], ...] = (
        ("White", 0.05), ("Asian", 0.08), ("Black", 0.15), ("Mixed", 0.10), ("Other", 0.20))
    """P(no note) by race."""
    missing_labs: tuple[tuple[str, float], ...] = (("F", 0.14), ("M", 0.07))
    """P(no lab panel) by sex; each single lab is also missing with probability 0.1."""
    stress: tuple[StressEffect, ...] = ()
    """Extra stress effects (none by default; see :class:`StressEffect`)."""

    def __post_init__(self) -> None:
        if self.n_patients < 10:
            raise ConfigError(f"--patients must be at least 10; got {self.n_patients}.")
        if self.image_size < 16:
            raise ConfigError(f"image size must be at least 16; got {self.image_size}.")
        if abs(sum(self.split_fractions) - 1.0) > 1e-9 or min(self.split_fractions) <= 0:
            raise ConfigError("split fractions must be positive and sum to 1.")
        kinds = {b.kind for b in self.biases}
        unknown = kinds - set(get_args(BiasKind))
        if unknown:
            raise ConfigError(f"unknown planted bias kind(s): {sorted(unknown)}.")
        for e in self.stress:
            if e.kind not in STRESS_KINDS:
                raise ConfigError(f"stress effect kind must be one of {', '.join(STRESS_KINDS)}; got {e.kind!r}.")
            if e.attribute not in ("sex", "race", "site"):
                raise ConfigError(f"stress effect attribute must be sex, race or site; got {e.attribute!r}.")
            if e.kind == "missing_modality" and e.modality not in ("image", "note", "labs"):
                raise ConfigError(f"a missing_modality stress effect needs modality image, note or labs; "
                                  f"got {e.modality!r}.")
            if not 0 <= e.strength <= 1:
                raise ConfigError(f"stress effect strength must be in [0, 1]; got {e.strength}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class SimulatedCohort:
    """The cohort in memory: one row per study, images as uint8 arrays, and the ground truth."""

    config: CohortConfig
    studies: pd.DataFrame
    """All manifest columns plus ``split``; no ground-truth columns."""
    images: dict[str, np.ndarray] = field(repr=False)
    """study_id -> (H, W) uint8 image, for studies that have one."""
    truth: dict[str, Any] = field(repr=False)
    """Ground truth: true diagnoses, flipped study ids, per-group rates (goes to cohort.json)."""


def _bias(config: CohortConfig, kind: BiasKind) -> PlantedBias | None:
    return next((b for b in config.biases if b.kind == kind), None)


def _in_group(df: pd.DataFrame, bias: PlantedBias | None) -> np.ndarray:
    if bias is None:
        return np.zeros(len(df), dtype=bool)
    return (df[bias.attribute].astype(str) == bias.group).to_numpy()


def _patients(config: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = config.n_patients
    names = [g for g, _ in config.race_groups]
    probs = np.array([p for _, p in config.race_groups], dtype=np.float64)
    race = rng.choice(names, size=n, p=probs / probs.sum())
    sex = np.where(rng.random(n) < 0.52, "F", "M")
    age = np.clip(np.rint(rng.normal(58, 12, n)), 25, 90).astype(int)
    smoking = rng.choice(["never", "ex", "current"], size=n, p=[0.5, 0.3, 0.2])
    site_p = dict(config.race_sites)
    site = np.empty(n, dtype=object)
    for g in names:
        m = race == g
        p = np.asarray(site_p[g], dtype=np.float64)
        site[m] = rng.choice(SITES, size=int(m.sum()), p=p / p.sum())
    split_idx = rng.choice(3, size=n, p=np.asarray(config.split_fractions))
    return pd.DataFrame({
        "patient_id": [f"P{i:05d}" for i in range(n)],
        "sex": sex, "age": age, "race": race, "site": site.astype(str), "smoking": smoking,
        "split": np.asarray(SPLITS)[split_idx],
    })


def _studies(config: CohortConfig, patients: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    counts = np.minimum(1 + rng.poisson(config.extra_studies_mean, len(patients)), 4)
    df = patients.loc[patients.index.repeat(counts)].reset_index(drop=True)
    df["study_index"] = np.concatenate([np.arange(c) for c in counts])
    df["age"] = df["age"] + df["study_index"]  # roughly a year between studies
    race_logit = dict(config.race_prevalence_logit)
    logit = (-1.35 + 0.035 * (df["age"] - 58) + 0.3 * (df["sex"] == "M")
             + df["smoking"].map({"never": 0.0, "ex": 0.35, "current": 0.8})
             + df["race"].map(race_logit).fillna(0.0)).to_numpy(dtype=np.float64)
    p = 1 / (1 + np.exp(-logit))
    # Disease persists across a patient's studies: later studies keep the first status with 85 %.
    first = rng.random(len(df)) < p
    diseased = first.copy()
    starts = np.flatnonzero(df["study_index"].to_numpy() == 0)
    first_of = np.repeat(first[starts], counts)
    later = df["study_index"].to_numpy() > 0
    keep = rng.random(len(df)) < 0.85
    diseased[later] = np.where(keep[later], first_of[later], ~first_of[later])
    df["true_diagnosis"] = diseased.astype(int)
    df["study_id"] = [f"{pid}-{k}" for pid, k in zip(df["patient_id"], df["study_index"], strict=True)]
    return df


def _image(rng: np.random.Generator, size: int, diseased: bool, contrast_factor: float,
           site: str, contrast_range: tuple[float, float]) -> np.ndarray:
    lin = np.linspace(-1, 1, size)
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    rx, ry = 0.85 + rng.normal(0, 0.04), 0.95 + rng.normal(0, 0.03)
    img = np.where((xx / rx) ** 2 + (yy / ry) ** 2 < 1, 0.55, 0.08)
    lungs = []
    for side in (-1, 1):
        cx, cy = side * (0.38 + rng.normal(0, 0.02)), -0.05 + rng.normal(0, 0.03)
        lrx, lry = 0.26 + rng.normal(0, 0.02), 0.55 + rng.normal(0, 0.03)
        lung = ((xx - cx) / lrx) ** 2 + ((yy - cy) / lry) ** 2 < 1
        lungs.append((cx, cy, lrx, lry))
        img = np.where(lung, 0.25, img)
        ribs = 0.05 * np.sin(yy * 18 + rng.uniform(0, 2 * np.pi)) * lung
        img = img + ribs
    img = img + 0.15 * (np.abs(xx) < 0.09) * (np.abs(yy) < 0.95)  # spine / mediastinum
    coarse = rng.normal(0, 1, (8, 8))
    idx = np.linspace(0, 7, size)
    texture = np.array([np.interp(idx, np.arange(8), row) for row in coarse])
    texture = np.array([np.interp(idx, np.arange(8), col) for col in texture.T]).T
    img = img + 0.03 * texture

    def blob(amplitude: float, sigma: float) -> np.ndarray:
        cx, cy, lrx, lry = lungs[int(rng.integers(2))]
        r, a = np.sqrt(rng.uniform(0, 0.6)), rng.uniform(0, 2 * np.pi)
        bx, by = cx + r * lrx * np.cos(a), cy + r * lry * np.sin(a)
        return amplitude * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * sigma**2))

    for _ in range(int(rng.integers(0, 3))):  # vessels and other small bright mimics
        img = img + blob(rng.uniform(0.04, 0.10), rng.uniform(0.03, 0.05))
    if diseased:
        img = img + blob(rng.uniform(*contrast_range) * contrast_factor, rng.uniform(0.06, 0.12))
    gain, offset, noise = SITE_IMAGING[site]
    img = gain * img + offset + rng.normal(0, noise, img.shape)
    return np.clip(np.rint(np.clip(img, 0, 1) * 255), 0, 255).astype(np.uint8)


def _note(rng: np.random.Generator, row: Any, diseased: bool, omit: float) -> tuple[str, int]:
    """Note text and the number of present symptoms that were left out (under-documentation)."""
    person = "woman" if row.sex == "F" else "man"
    sentences: list[str] = []
    omitted = 0
    for spec in SYMPTOMS.values():
        words = spec["words"][int(rng.integers(len(spec["words"])))]
        if rng.random() < (spec["p1"] if diseased else spec["p0"]):
            if rng.random() < omit:
                omitted += 1
                continue
            sentences.append(_POSITIVE[int(rng.integers(len(_POSITIVE)))].format(s=words, w=int(rng.integers(1, 13))))
        elif rng.random() < 0.3:
            sentences.append(_NEGATIVE[int(rng.integers(len(_NEGATIVE)))].format(s=words))
    if rng.random() < 0.8:
        opts = _SMOKING[row.smoking]
        sentences.append(opts[int(rng.integers(len(opts)))])
    for h in rng.permutation(len(_HISTORY))[: int(rng.integers(0, 3))]:
        sentences.append(_HISTORY[int(h)])
    order = rng.permutation(len(sentences))
    opener = _OPENERS[int(rng.integers(len(_OPENERS)))].format(
        age=row.age, person=person, person_cap=person.capitalize())
    return " ".join([opener, *[sentences[i] for i in order]]), omitted


def _labs(rng: np.random.Generator, df: pd.DataFrame) -> pd.DataFrame:
    n = len(df)
    female = (df["sex"] == "F").to_numpy()
    d = df["true_diagnosis"].to_numpy().astype(bool)
    out = {}
    for name, (m_male, m_female, sd, shift) in LABS.items():
        # The disease shift varies by patient (not every diseased patient has abnormal labs).
        v = np.where(female, m_female, m_male) + rng.normal(0, sd, n) + d * shift * rng.uniform(0, 1.6, n)
        if name in _LOG_LABS:
            v = np.exp(v)
        out[name] = np.round(v, 2)
    return pd.DataFrame(out, index=df.index)


def simulate_cohort(config: CohortConfig = CohortConfig()) -> SimulatedCohort:
    """Simulate the cohort in memory; deterministic for a given config (seed included)."""
    seeds = np.random.SeedSequence(config.seed).spawn(6)
    r_pat, r_study, r_img, r_note, r_lab, r_miss = (np.random.default_rng(s) for s in seeds)
    patients = _patients(config, r_pat)
    df = _studies(config, patients, r_study)
    n = len(df)

    contrast_bias = _bias(config, "low_lesion_contrast")
    note_bias = _bias(config, "underdocumented_symptoms")
    label_bias = _bias(config, "missed_diagnoses")
    low_contrast = _in_group(df, contrast_bias)
    underdoc = _in_group(df, note_bias)
    missed_group = _in_group(df, label_bias)

    # Missingness (at least one modality per study).
    site_miss = dict(config.missing_image)
    note_miss = dict(config.missing_note)
    lab_miss = dict(config.missing_labs)
    no_image = r_miss.random(n) < df["site"].map(site_miss).fillna(0.05).to_numpy()
    no_note = r_miss.random(n) < df["race"].map(note_miss).fillna(0.05).to_numpy()
    no_labs = r_miss.random(n) < df["sex"].map(lab_miss).fillna(0.08).to_numpy()
    extra_noise = np.zeros(n)
    if config.stress:  # their own stream: a cohort without stress effects is unchanged
        r_stress = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(7)[6])
        extra_noise, extra = _stress_draws(config, df, r_stress)
        no_image |= extra["image"]
        no_note |= extra["note"]
        no_labs |= extra["labs"]
    no_image &= ~(no_note & no_labs)
    single_lab_missing = r_miss.random((n, len(LABS))) < 0.10

    truth_d = df["true_diagnosis"].to_numpy().astype(bool)
    images: dict[str, np.ndarray] = {}
    paths = []
    for i, row in enumerate(df.itertuples(index=False)):
        factor = contrast_bias.strength if low_contrast[i] and contrast_bias else 1.0
        img = _image(r_img, config.image_size, bool(truth_d[i]), factor, str(row.site), config.lesion_contrast)
        if extra_noise[i] > 0:
            img = _add_noise(img, extra_noise[i], r_stress)
        if no_image[i]:
            paths.append("")
        else:
            images[str(row.study_id)] = img
            paths.append(f"images/{row.study_id}.png")
    notes, omitted = [], np.zeros(n, dtype=int)
    for i, row in enumerate(df.itertuples(index=False)):
        omit = note_bias.strength if underdoc[i] and note_bias else 0.0
        text, omitted[i] = _note(r_note, row, bool(truth_d[i]), omit)
        notes.append("" if no_note[i] else text)
    labs = _labs(r_lab, df)
    labs = labs.mask(single_lab_missing | no_labs[:, None])

    flip = missed_group & truth_d & (r_miss.random(n) < (label_bias.strength if label_bias else 0.0))
    recorded = truth_d & ~flip

    studies = pd.DataFrame({
        "patient_id": df["patient_id"], "study_id": df["study_id"], "split": df["split"],
        "study_index": df["study_index"], "sex": df["sex"], "age": df["age"], "race": df["race"],
        "site": df["site"], "diagnosis": recorded.astype(int), "image_path": paths, "note": notes,
    })
    studies = pd.concat([studies, labs], axis=1)
    truth = _ground_truth(config, df, studies, flip, omitted, no_image, no_note, no_labs)
    return SimulatedCohort(config=config, studies=studies, images=images, truth=truth)


def _stress_draws(config: CohortConfig, df: pd.DataFrame, rng: np.random.Generator
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-study extra noise SD and extra missingness masks of the configured stress effects."""
    n = len(df)
    noise = np.zeros(n)
    extra = {m: np.zeros(n, dtype=bool) for m in ("image", "note", "labs")}
    for e in config.stress:
        member = (df[e.attribute].astype(str) == e.group).to_numpy()
        if e.kind == "image_noise":
            noise = np.where(member, np.hypot(noise, e.strength), noise)
        else:
            extra[str(e.modality)] |= member & (rng.random(n) < e.strength)
    return noise, extra


def _add_noise(img: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    x = img.astype(np.float64) / 255.0 + rng.normal(0.0, sd, img.shape)
    return np.clip(np.rint(np.clip(x, 0, 1) * 255), 0, 255).astype(np.uint8)


def planted_stress(config: CohortConfig) -> list[dict[str, Any]]:
    """The stress effects of ``config`` with what a stress audit should find."""
    out: list[dict[str, Any]] = []
    for modality, attribute, rates in (("image", "site", config.missing_image),
                                       ("note", "race", config.missing_note),
                                       ("labs", "sex", config.missing_labs)):
        r = dict(rates)
        hi, lo = max(r, key=lambda k: r[k]), min(r, key=lambda k: r[k])
        out.append({"kind": "missing_by_group", "modality": modality, "attribute": attribute,
                    "rates": r, "highest": hi, "lowest": lo,
                    "expect": f"{modality} missing more often for {attribute} = {hi} ({r[hi]:g}) than "
                              f"{lo} ({r[lo]:g}): the missingness test across {attribute} groups "
                              f"rejects equality and {hi}'s difference from the rest is above 0"})
    noisiest = max(SITE_IMAGING, key=lambda k: SITE_IMAGING[k][2])
    race_share = {g: dict(zip(SITES, p, strict=True))[noisiest] for g, p in config.race_sites}
    top = max(race_share, key=lambda k: race_share[k])
    out.append({"kind": "noisy_site", "attribute": "site", "group": noisiest,
                "imaging": {k: {"gain": v[0], "offset": v[1], "noise_sd": v[2]} for k, v in SITE_IMAGING.items()},
                "share_of_race_at_site": race_share,
                "expect": f"site {noisiest} has the noisiest, darkest images and scans "
                          f"{race_share[top]:.0%} of {top} patients: the image latent encodes "
                          f"site and race (probe AUC above 0.5)"})
    for e in config.stress:
        entry = {**dataclasses.asdict(e), "expect": (
            f"{e.modality} missing more often for {e.attribute} = {e.group}" if e.kind == "missing_modality"
            else f"noisier images for {e.attribute} = {e.group}: the image latent encodes it")}
        out.append(entry)
    return out


def _rates(mask: np.ndarray, by: pd.Series) -> dict[str, float]:
    return {str(g): round(float(mask[(by == g).to_numpy()].mean()), 4) for g in sorted(by.unique())}


def _ground_truth(config: CohortConfig, df: pd.DataFrame, studies: pd.DataFrame, flip: np.ndarray,
                  omitted: np.ndarray, no_image: np.ndarray, no_note: np.ndarray,
                  no_labs: np.ndarray) -> dict[str, Any]:
    true_d = df["true_diagnosis"].to_numpy().astype(bool)
    biases = []
    for b in config.biases:
        m = _in_group(df, b)
        entry: dict[str, Any] = dataclasses.asdict(b)
        entry["n_studies_in_group"] = int(m.sum())
        if b.kind == "low_lesion_contrast":
            entry["effect"] = (f"lesion amplitude multiplied by {b.strength} for {b.attribute} = {b.group}; "
                               "expect higher FNR and lower AUC there.")
        elif b.kind == "underdocumented_symptoms":
            entry["effect"] = (f"each present symptom is left out of the note with probability {b.strength} "
                               f"for {b.attribute} = {b.group}; expect higher FNR there.")
            entry["symptoms_omitted"] = int(omitted[m].sum())
        else:
            entry["effect"] = (f"diseased studies recorded as diagnosis = 0 with probability {b.strength} for "
                               f"{b.attribute} = {b.group}; against the recorded labels the model's correct "
                               "calls on these studies count as false positives (higher FPR, lower AUC); "
                               "against the true labels the recorded diagnosis has that group's FNR.")
            entry["n_flipped"] = int(flip.sum())
            entry["flipped_study_ids"] = studies.loc[flip, "study_id"].tolist()
        biases.append(entry)
    split = studies["split"]
    return {
        "planted_biases": biases,
        "planted_stress": planted_stress(config),
        "n_patients": int(config.n_patients),
        "n_studies": int(len(studies)),
        "studies_by_split": {s: int((split == s).sum()) for s in SPLITS},
        "patients_by_split": {s: int(studies.loc[split == s, "patient_id"].nunique()) for s in SPLITS},
        "true_prevalence": {
            "overall": round(float(true_d.mean()), 4),
            "race": _rates(true_d, df["race"]), "sex": _rates(true_d, df["sex"]),
        },
        "recorded_prevalence": {
            "overall": round(float(studies["diagnosis"].mean()), 4),
            "race": _rates(studies["diagnosis"].to_numpy().astype(bool), df["race"]),
        },
        "missing_rate": {
            "image_by_site": _rates(no_image, df["site"]), "image_by_race": _rates(no_image, df["race"]),
            "note_by_race": _rates(no_note, df["race"]), "labs_by_sex": _rates(no_labs, df["sex"]),
        },
        "site_by_race": {str(g): {s: round(float((df.loc[df["race"] == g, "site"] == s).mean()), 4)
                                  for s in SITES} for g in sorted(df["race"].unique())},
    }


def write_cohort(cohort: SimulatedCohort, out: str | Path, *, splits: tuple[str, ...] = SPLITS) -> dict[str, Path]:
    """Write the manifests of ``splits``, their images and ``cohort.json`` under ``out``.

    Returns
    -------
    dict
        Split name -> manifest path.
    """
    from PIL import Image

    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ConfigError(f"splits must be among {', '.join(SPLITS)}; got {', '.join(splits) or 'none'}.")
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    written = {}
    for split in splits:
        rows = cohort.studies[cohort.studies["split"] == split]
        for sid, rel in zip(rows["study_id"], rows["image_path"], strict=True):
            if rel:
                Image.fromarray(cohort.images[sid], mode="L").save(root / rel, optimize=True)
        path = root / f"{split}.csv"
        rows.to_csv(path, index=False, encoding="utf-8")
        written[split] = path
    meta = {
        "description": "Synthetic multimodal cohort written by 'fairaudit sample-data' (fairaudit.data.simulate).",
        "label": "diagnosis (recorded; see planted_biases for the missed diagnoses)",
        "files": {s: f"{s}.csv" for s in splits},
        "config": cohort.config.to_dict(),
        **cohort.truth,
    }
    (root / "cohort.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return written
