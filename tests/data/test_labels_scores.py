"""Scores and labels as users have them: logits (--score-type logit) and text labels (--pos-label)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit.data import from_frame
from fairaudit.data.dataset import logit_to_probability, validate_labels, validate_scores
from fairaudit.errors import ConfigError, InputError


def test_logistic_function_is_stable_and_exact() -> None:
    x = np.array([-1e6, -700.0, -30.0, 0.0, 2.5, 30.0, 800.0, 1e6, -np.inf, np.inf])
    with np.errstate(over="raise"):  # the naive 1 / (1 + exp(-x)) overflows at -1e6
        p = logit_to_probability(x)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p[1:6], 1 / (1 + np.exp(-x[1:6])), rtol=1e-15)
    assert p[0] == 0.0 and p[-1] == 1.0 and p[1] > 0.0


def test_logit_scores_equal_sigmoid_probabilities() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 400)
    y = (rng.random(400) < 1 / (1 + np.exp(-logits))).astype(int)
    sex = rng.choice(["F", "M"], 400)
    frame = pd.DataFrame({"y": y, "logit": logits, "p": 1 / (1 + np.exp(-logits)), "sex": sex})
    kw = {"label": "y", "sensitive": "sex", "n_bootstrap": 0, "n_permutations": 0, "threshold": 0.3}
    a = fairaudit.audit(frame, score="logit", score_type="logit", **kw)
    b = fairaudit.audit(frame, score="p", **kw)
    assert a.dataset.score_type == "logit" and b.dataset.score_type == "probability"
    for ga, gb in zip(a.groups, b.groups, strict=True):
        for name, est in ga.metrics.items():
            assert est.value == pytest.approx(gb.metrics[name].value, abs=1e-12), name


def test_out_of_range_probabilities_hint_at_score_type_logit() -> None:
    with pytest.raises(InputError, match=r"pass --score-type logit \(score_type='logit' in Python\)"):
        validate_scores(np.array([-2.0, 0.3, 4.0]), "t", "s")
    with pytest.raises(InputError, match="needs a logit"):
        validate_scores(np.array([0.1, np.nan]), "t", "s", "logit")
    with pytest.raises(ConfigError, match="`score_type` must be one of probability, logit"):
        validate_scores(np.array([0.1]), "t", "s", "odds")


@pytest.mark.parametrize(("values", "pos", "expected"), [
    (["yes", "no", "yes"], "yes", [1, 0, 1]),
    (["disease", "healthy", " disease "], "disease", [1, 0, 1]),
    ([2, 1, 2], "2", [1, 0, 1]),
    ([0, 1, 1], 0, [1, 0, 0]),
    (["yes", "yes"], "yes", [1, 1]),
])
def test_pos_label(values, pos, expected) -> None:
    assert validate_labels(pd.Series(values), "t", "y", pos).tolist() == expected


def test_pos_label_errors_name_the_values_found() -> None:
    with pytest.raises(InputError, match=r"has 3 distinct values \('maybe', 'no', 'yes'\); a binary label has two"):
        validate_labels(pd.Series(["yes", "no", "maybe"]), "t", "y", "yes")
    with pytest.raises(InputError, match=r"positive label 'Yes' does not occur in label column 'y' in t; "
                                         r"its values are: 'no', 'yes'"):
        validate_labels(pd.Series(["yes", "no"]), "t", "y", "Yes")
    with pytest.raises(InputError, match=r"name it with --pos-label"):
        validate_labels(pd.Series(["yes", "no"]), "t", "y")


def test_pos_label_is_recorded() -> None:
    frame = pd.DataFrame({"dx": ["disease", "healthy"] * 20, "score": 0.4, "sex": ["F"] * 20 + ["M"] * 20})
    ds = from_frame(frame, label="dx", sensitive="sex", score="score", pos_label="disease")
    assert ds.labels.sum() == 20 and ds.pos_label == "disease"
    result = fairaudit.audit(frame, label="dx", sensitive="sex", pos_label="disease",
                             n_bootstrap=0, n_permutations=0)
    assert result.dataset.pos_label == "disease" and result.overall.n_pos == 20


def test_score_type_with_a_model_names_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"^`score_type` 'logit' describes the score column of `predictions`"):
        fairaudit.audit(model=object(), data="m.csv", label="y", sensitive="sex", score_type="logit")
