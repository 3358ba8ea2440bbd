"""Shared fixtures: seeded prediction tables with string, integer and categorical groups."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


def make_predictions(seed: int = 0, n: int = 4000, *, tied: bool = False) -> pd.DataFrame:
    """A predictions table whose error rates differ by group (so criteria are non-trivial)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["White", "Black", "Asian", "Mixed"], n, p=[0.7, 0.12, 0.12, 0.06])
    site = rng.integers(1, 4, n)  # integer-coded group column
    age = pd.Categorical(rng.choice(["<40", "40-65", ">65"], n), categories=["<40", "40-65", ">65"])
    prevalence = np.where(race == "Black", 0.45, 0.3)
    y = (rng.random(n) < prevalence).astype(int)
    shift = np.where(race == "Mixed", 0.25, 0.0) + np.where(sex == "F", 0.05, 0.0)
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.0 * y - 1.0 - 2 * shift * y)))
    if tied:
        score = np.round(score, 2)
    return pd.DataFrame({"y": y, "score": score, "sex": sex, "race": race, "site": site, "age": age})


def write_split_table(path: Path, n_val: int, n_test: int) -> Path:
    """A predictions CSV with a ``split`` column: ``n_val`` rows "val" then ``n_test`` "test"."""
    val = make_predictions(1, n=n_val).assign(split="val")
    test = make_predictions(2, n=n_test).assign(split="test")
    pd.concat([val, test]).to_csv(path, index=False)
    return path


@pytest.fixture
def predictions() -> pd.DataFrame:
    return make_predictions(0)


@pytest.fixture
def predictions_csv(tmp_path: Path, predictions: pd.DataFrame) -> Path:
    path = tmp_path / "predictions.csv"
    predictions.to_csv(path, index=False)
    return path
