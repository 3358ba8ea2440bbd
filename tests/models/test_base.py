"""fairaudit.models.base: the Predictor protocol the audit needs from any model."""

from __future__ import annotations

import numpy as np

from fairaudit.models.base import Predictor


class Constant:
    sha256 = None
    threshold = 0.5

    def predict_proba(self, dataset) -> np.ndarray:
        return np.full(dataset.n_rows, 0.5)


def test_any_object_with_the_attributes_is_a_predictor(trained) -> None:
    assert isinstance(Constant(), Predictor)
    assert isinstance(trained, Predictor)
    assert not isinstance(object(), Predictor)
