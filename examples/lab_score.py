"""A Python entry point for ``fairaudit audit --model examples.lab_score:make``.

The smallest useful Predictor: anything with ``predict_proba(dataset) -> (n,) probabilities``
(and, optionally, ``threshold`` and ``sha256``). Here the "model" is a fixed logistic score of
two labs of the sample manifest, to show the interface; in practice ``make`` would load your
own model (any framework) and ``predict_proba`` would run it on ``dataset.frame`` (the manifest
rows, in order) and ``dataset.root`` (the folder image paths resolve against).

fairaudit imports this module and calls ``make()`` only because ``--model`` names it; the code
runs with your permissions, like any script you run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class LabScore:
    """P(disease) = sigmoid(b0 + b1 * CRP + b2 * WBC); a missing lab counts as its mean."""

    threshold = 0.5  # decision threshold; fairaudit uses it unless --threshold is given
    threshold_rule = "fixed for the example"

    def __init__(self, coef: tuple[float, float, float] = (-4.0, 0.25, 0.2)) -> None:
        self.coef = coef
        self.sha256 = None  # fairaudit then records the SHA-256 of this file

    def predict_proba(self, dataset) -> np.ndarray:
        frame = dataset.frame
        crp = pd.to_numeric(frame["lab_crp"], errors="coerce")
        wbc = pd.to_numeric(frame["lab_wbc"], errors="coerce")
        b0, b1, b2 = self.coef
        z = b0 + b1 * crp.fillna(crp.mean()).to_numpy() + b2 * wbc.fillna(wbc.mean()).to_numpy()
        return 1.0 / (1.0 + np.exp(-z))


def make() -> LabScore:
    """The factory fairaudit calls (with the --model-config path as its argument, if given)."""
    return LabScore()
