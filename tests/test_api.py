"""fairaudit.api: the Python entry points (audit, load_audit_data, audit_dataset) and checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit.api import (
    DEFAULT_THRESHOLD,
    DEFAULT_THRESHOLD_WARNING,
    audit,
    audit_dataset,
    check_resamples,
    check_seed,
    load_audit_data,
)
from fairaudit.data import from_frame
from fairaudit.errors import ConfigError, InputError
from fairaudit.gate import parse_policy
from fairaudit.result import AuditResult
from tests.conftest import make_predictions

FAST = {"n_bootstrap": 0, "n_permutations": 0}
POLICY = """
[[criterion]]
name = "equalized_odds_difference"
max = 0.99
"""


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_predictions(3, n=1500)


def test_audit_of_a_dataframe_is_a_frozen_result(frame: pd.DataFrame) -> None:
    result = audit(frame, label="y", score="score", sensitive=["sex", "race"], **FAST)
    assert isinstance(result, AuditResult)
    assert result.dataset.attributes == ("sex", "race")
    assert result.dataset.intersections == ("sex & race",)
    assert result.overall.n == len(frame) and result.overall.n_pos == int(frame["y"].sum())
    assert result.gate.status == "not_run"
    assert fairaudit.audit is audit  # the package's lazy export is this function


def test_without_a_threshold_the_default_is_used_and_warned_about(frame: pd.DataFrame) -> None:
    result = audit(frame, label="y", score="score", sensitive="sex", **FAST)
    assert result.threshold.value == DEFAULT_THRESHOLD
    assert DEFAULT_THRESHOLD_WARNING in result.warnings
    given = audit(frame, label="y", score="score", sensitive="sex", threshold=0.4, **FAST)
    assert given.threshold.value == 0.4 and given.threshold.source == "given"
    assert DEFAULT_THRESHOLD_WARNING not in given.warnings


def test_a_policy_object_or_file_gates_the_result(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(POLICY, encoding="utf-8")
    kwargs = dict(label="y", score="score", sensitive="race", threshold=0.5, n_bootstrap=100,
                  n_permutations=0, seed=1)
    from_file = audit(frame, policy=path, **kwargs)
    from_object = audit(frame, policy=parse_policy(POLICY, source=str(path)), **kwargs)
    assert from_file.gate == from_object.gate
    assert from_file.gate.status == "pass" and from_file.gate.rules


def test_the_same_seed_gives_the_same_result(frame: pd.DataFrame) -> None:
    kwargs = dict(label="y", score="score", sensitive="sex", threshold=0.5, n_bootstrap=100,
                  n_permutations=100)
    a = audit(frame, seed=7, **kwargs)
    b = audit(frame, seed=7, **kwargs)
    c = audit(frame, seed=8, **kwargs)
    strip = {"created"}
    assert {k: v for k, v in a.to_dict()["groups"][0].items() if k not in strip} == \
        {k: v for k, v in b.to_dict()["groups"][0].items() if k not in strip}
    assert a.groups[0].metrics["tpr"].ci != c.groups[0].metrics["tpr"].ci


def test_load_then_audit_dataset_is_audit(frame: pd.DataFrame) -> None:
    loaded = load_audit_data(frame, label="y", score="score", sensitive="race")
    assert loaded.dataset.n_rows == len(frame) and loaded.model_sha256 is None
    direct = audit_dataset(loaded.dataset, threshold=0.5, **FAST)
    via = audit(frame, label="y", score="score", sensitive="race", threshold=0.5, **FAST)
    assert direct.groups == via.groups and direct.criteria == via.criteria


def test_a_model_object_scores_a_manifest(cohort_dir: Path) -> None:
    class AlwaysPositive:
        """Any object with predict_proba(dataset) is a model."""

        threshold = 0.5

        def predict_proba(self, dataset) -> np.ndarray:
            return np.full(dataset.n_rows, 0.75)

    result = audit(data=cohort_dir / "test.csv", model=AlwaysPositive(), label="diagnosis",
                   sensitive="sex", **FAST)
    assert result.overall.metrics["selection_rate"].value == 1.0
    assert result.threshold.value == 0.5


def test_audit_dataset_needs_scores(frame: pd.DataFrame) -> None:
    unscored = from_frame(frame.drop(columns=["score"]), label="y", sensitive="sex")
    with pytest.raises(InputError, match="carries no scores"):
        audit_dataset(unscored, **FAST)


@pytest.mark.parametrize("value", [-1, 1, 99, 2.5, True])
def test_resample_counts_are_0_or_at_least_100(value) -> None:
    with pytest.raises(ConfigError, match="0 \\(off\\) or at least 100"):
        check_resamples(value, "n_bootstrap")
    check_resamples(0, "n_bootstrap")
    check_resamples(100, "n_bootstrap")


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_seeds_are_whole_numbers_from_0(seed) -> None:
    with pytest.raises(ConfigError, match="whole number, 0 or more"):
        check_seed(seed)
    check_seed(0)
    check_seed(np.int64(3))


def test_bad_settings_are_config_errors(frame: pd.DataFrame) -> None:
    base = dict(label="y", score="score", sensitive="sex", **FAST)
    with pytest.raises(ConfigError, match="threshold"):
        audit(frame, threshold=1.5, **base)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        audit(frame, confidence_level=1.0, **base)
