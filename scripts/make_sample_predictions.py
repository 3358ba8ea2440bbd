"""Regenerate sample_data/predictions.csv: a seeded predictions table of a hypothetical model.

The scores are simulated so that one group (race = "Black") has more missed diagnoses at the
same threshold, and one small group ("Mixed") is below the minimum size for most intersections.
Run: python scripts/make_sample_predictions.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def main(n_patients: int = 2500, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n_patients)
    race = rng.choice(["White", "Asian", "Black", "Mixed", "Other"], n_patients,
                      p=[0.78, 0.08, 0.07, 0.03, 0.04]).astype(object)
    race[rng.random(n_patients) < 0.02] = None  # missing demographics become "unknown"
    age = rng.integers(18, 90, n_patients)
    studies = rng.choice([1, 1, 1, 2, 3], n_patients)
    rows = []
    for pid in range(n_patients):
        base = rng.normal(0, 1)
        for k in range(studies[pid]):
            p = 0.25 + 0.1 * (age[pid] > 65)
            y = int(rng.random() < p)
            signal = 2.2 if race[pid] != "Black" else 1.3  # planted under-diagnosis
            logit = -1.4 + signal * y + 0.5 * base + rng.normal(0, 0.9)
            rows.append({
                "patient_id": f"P{pid:05d}", "study_id": f"P{pid:05d}-S{k}",
                "sex": sex[pid], "race": race[pid],
                "age_band": "18-39" if age[pid] < 40 else "40-64" if age[pid] < 65 else "65+",
                "y": y, "score": round(float(1 / (1 + np.exp(-logit))), 6),
            })
    out = Path(__file__).resolve().parents[1] / "sample_data" / "predictions.csv"
    pd.DataFrame(rows).to_csv(out, index=False)
    print(f"wrote {out} ({len(rows)} studies)")


if __name__ == "__main__":
    main()
