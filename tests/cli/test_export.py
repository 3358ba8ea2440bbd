"""`fairaudit export`: the shipped model's classifier path to TorchScript and ONNX, audited back
through the adapters: the same scores (within 1e-5) as the built-in path with
``--impute fallback``, the same decisions and criteria at the checkpoint's threshold; and
`mitigate --method threshold` with an exported model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_data" / "model"
COHORT = ROOT / "sample_data" / "cohort"
runner = CliRunner()


def _subset(name: str, n: int, out: Path) -> Path:
    """The first ``n`` rows of a shipped split, with absolute image paths."""
    frame = pd.read_csv(COHORT / f"{name}.csv").head(n)
    has = frame["image_path"].notna()
    frame.loc[has, "image_path"] = [str(COHORT / p) for p in frame.loc[has, "image_path"]]
    frame.to_csv(out / f"{name}.csv", index=False)
    return out / f"{name}.csv"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    test = _subset("test", 300, out)
    _subset("validation", 240, out)
    frame = pd.read_csv(test)
    labs = [c for c in frame if c.startswith("lab_")]
    # Every modality is missing somewhere, so the absent tokens are exercised.
    assert frame["image_path"].isna().any() and frame["note"].isna().any()
    assert frame[labs].isna().all(axis=1).any()
    return out


def _audit(loaded):
    from fairaudit.api import audit_dataset

    return audit_dataset(loaded.dataset, threshold=loaded.threshold, n_bootstrap=200,
                         n_permutations=0, seed=1, model_adapter=loaded.model_adapter)


@pytest.fixture(scope="module")
def builtin(cohort: Path):
    """The built-in path with the absent tokens (no diffusion): scores and audit."""
    from fairaudit.api import load_audit_data

    loaded = load_audit_data(data=cohort / "test.csv", model=MODEL, label="diagnosis",
                             sensitive="sex,race", predict_options={"impute": "fallback"})
    return loaded, _audit(loaded)


def _export(fmt: str, out: Path) -> Path:
    name = "model.pt" if fmt == "torchscript" else "model.onnx"
    res = runner.invoke(app, ["export", "--model", str(MODEL), "--format", fmt, "--out",
                              str(out / name), "-q"])
    assert res.exit_code == 0, res.output
    assert (out / "model.toml").is_file() and (out / "model.vocab.txt").is_file()
    return out / name


def _round_trip(fmt: str, tmp_path: Path, cohort: Path, builtin) -> None:
    from fairaudit.api import load_audit_data

    path = _export(fmt, tmp_path)
    ref, ref_result = builtin
    got = load_audit_data(data=cohort / "test.csv", model=path, model_config=tmp_path / "model.toml",
                          label="diagnosis", sensitive="sex,race")
    assert np.abs(got.dataset.scores - ref.dataset.scores).max() < 1e-5
    assert got.threshold == ref.threshold  # carried in model.toml's [output] threshold
    result = _audit(got)
    assert np.array_equal(got.dataset.scores >= got.threshold, ref.dataset.scores >= ref.threshold)
    assert result.criteria == ref_result.criteria
    assert result.run.model_adapter == fmt and ref_result.run.model_adapter == "built-in"
    # The mask input's modalities are counted per group, as the built-in model's are.
    renamed = {"tokens": "note"}
    for g, r in zip(result.groups, ref_result.groups, strict=True):
        assert {renamed.get(k, k): v for k, v in g.missing_modalities.items()} == r.missing_modalities


def test_torchscript_round_trip(tmp_path: Path, cohort: Path, builtin) -> None:
    _round_trip("torchscript", tmp_path, cohort, builtin)


@pytest.mark.slow
def test_onnx_round_trip(tmp_path: Path, cohort: Path, builtin) -> None:
    _round_trip("onnx", tmp_path, cohort, builtin)


def test_export_errors_are_exit_2_and_write_nothing(tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", "--model", str(tmp_path / "none"), "--format", "torchscript",
                              "--out", str(tmp_path / "m.pt")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["export", "--model", str(MODEL), "--format", "torchscript",
                              "--out", str(tmp_path / "m.pt"), "--config-out", str(MODEL / "model.json")])
    assert res.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_mitigate_threshold_with_an_exported_model(tmp_path: Path, cohort: Path) -> None:
    path = _export("torchscript", tmp_path)
    out = tmp_path / "mitigated"
    args = ["mitigate", "--model", str(path), "--model-config", str(tmp_path / "model.toml"),
            "--data", str(cohort), "--label", "diagnosis", "--sensitive", "sex", "-B", "0", "-q",
            "--out", str(out)]
    res = runner.invoke(app, [*args, "--method", "reweighting"])
    assert res.exit_code == 2 and "fine-tune the built-in model" in res.output
    res = runner.invoke(app, [*args, "--method", "threshold"])
    assert res.exit_code == 0, res.output
    comparison = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    baseline = comparison["variants"][0]
    assert baseline["provenance"]["model_adapter"] == "torchscript"
    assert (out / "thresholds.json").is_file()


def test_model_config_with_the_built_in_checkpoint_is_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "model.toml"
    cfg.write_text("[model]\n", encoding="utf-8")
    res = runner.invoke(app, ["audit", "--model", str(MODEL), "--model-config", str(cfg), "--data",
                              str(COHORT / "test.csv"), "--label", "diagnosis", "--sensitive", "sex"])
    assert res.exit_code == 2 and "carries its own preprocessing" in res.output


def test_onnx_export_without_the_extra_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxscript", None)
    res = runner.invoke(app, ["export", "--model", str(MODEL), "--format", "onnx", "--out",
                              str(tmp_path / "m.onnx")])
    assert res.exit_code == 2 and 'pip install "fairaudit-med[onnx]"' in res.output
    assert list(tmp_path.iterdir()) == []
