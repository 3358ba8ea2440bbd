"""`--method threshold-fairlearn`: fairlearn's ThresholdOptimizer as a reference variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.workflows.mitigate import ThresholdSettings, mitigate, parse_methods
from tests.conftest import make_predictions


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    val = make_predictions(1, n=2500).assign(split="val")
    test = make_predictions(2, n=2000).assign(split="test")
    path = tmp_path_factory.mktemp("fl") / "preds.csv"
    pd.concat([val, test]).to_csv(path, index=False)
    return path


def test_reference_variant_is_fairlearns_own_decisions(tmp_path: Path, table: Path) -> None:
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.base import BaseEstimator, ClassifierMixin

    result = mitigate(label="y", sensitive="race", out_dir=tmp_path, predictions=table,
                      methods="threshold,threshold-fairlearn", n_bootstrap=100, seed=3,
                      thresholds=ThresholdSettings(objective="equal_opportunity"))
    names = [v.name for v in result.comparison.variants]
    assert names == ["baseline", "threshold (equal_opportunity)",
                     "fairlearn ThresholdOptimizer (equal_opportunity)"]
    fl = result.comparison.variant(names[2])
    assert fl.method == "threshold-fairlearn" and fl.overall_auc is None and fl.worst_group_auc is None
    assert fl.provenance["constraints"] == "true_positive_rate_parity"
    metrics = {c.metric for c in result.comparison.changes_of(names[2])}
    assert metrics == {"tpr", "fpr", "ppv"}  # no AUC of 0/1 decisions

    # An independent fairlearn run with the same data and random_state gives the same TPRs.
    class Passthrough(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):  # noqa: ANN001, ANN201, N803
            self.classes_ = np.array([0, 1])
            return self

        def predict(self, X):  # noqa: ANN001, ANN201, N803
            return np.asarray(X)[:, 0]

    frame = pd.read_csv(table)
    val, test = frame[frame["split"] == "val"], frame[frame["split"] == "test"]
    opt = ThresholdOptimizer(estimator=Passthrough().fit(None, None), constraints="true_positive_rate_parity",
                             objective="accuracy_score", prefit=True, predict_method="predict")
    opt.fit(val[["score"]].to_numpy(), val["y"].to_numpy(), sensitive_features=val["race"].to_numpy())
    pred = opt.predict(test[["score"]].to_numpy(), sensitive_features=test["race"].to_numpy(), random_state=3)
    audit = result.comparison.audits[names[2]]
    for g in ("Asian", "Black", "Mixed", "White"):
        m = (test["race"] == g).to_numpy() & (test["y"] == 1).to_numpy()
        assert audit.group("race", g).metrics["tpr"].value == pytest.approx(float(pred[m].mean()), abs=1e-12)


def test_method_parsing_and_unsupported_objective(tmp_path: Path, table: Path) -> None:
    assert "threshold-fairlearn" not in parse_methods("all")
    assert parse_methods("all,threshold-fairlearn")[-1] == "threshold-fairlearn"
    res = CliRunner().invoke(app, [
        "mitigate", "-p", str(table), "-l", "y", "-a", "race", "--method", "threshold-fairlearn",
        "--objective", "sensitivity_floor", "--sensitivity-floor", "0.9", "--out", str(tmp_path / "o"),
        "--bootstrap", "100",
    ])
    assert res.exit_code == 2 and "fairlearn has no 'sensitivity_floor'" in res.output
    assert "Traceback" not in res.output
