"""Checkpoints: exact round trips, safetensors + JSON only, one-line errors for bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fairaudit.errors import ModelError
from fairaudit.models import Predictor
from fairaudit.models.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    checkpoint_sha256,
    load_model,
    save_model,
)


def test_round_trip_gives_identical_outputs(trained, saved, test_set) -> None:
    loaded = load_model(saved)
    assert isinstance(loaded, Predictor)
    for impute in ("diffusion", "fallback"):
        assert np.array_equal(trained.predict_proba(test_set, impute=impute),
                              loaded.predict_proba(test_set, impute=impute))
    assert loaded.threshold == trained.threshold
    assert loaded.threshold_rule == trained.threshold_rule
    assert loaded.sha256 == checkpoint_sha256(saved) == trained.sha256
    assert loaded.preprocessing == trained.preprocessing
    info = json.loads((saved / CONFIG_FILE).read_text())["info"]
    assert len(info["training_data"]["train_sha256"]) == 64 and info["seed"] == 3
    # Loading accepts either file of the checkpoint too.
    assert load_model(saved / CONFIG_FILE).sha256 == loaded.sha256


def test_loading_never_unpickles(saved, monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle-based loading was called")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr("pickle.load", forbidden)
    monkeypatch.setattr("pickle.loads", forbidden)
    load_model(saved)


def _copy(saved: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ckpt"
    shutil.copytree(saved, dst)
    return dst


def _truncate(p: Path) -> None:
    w = p / WEIGHTS_FILE
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])


def _flip_byte(p: Path) -> None:
    w = p / WEIGHTS_FILE
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF
    w.write_bytes(bytes(data))


def _truncate_json(p: Path) -> None:
    c = p / CONFIG_FILE
    c.write_text(c.read_text()[:100])


def _mismatch(p: Path) -> None:
    c = p / CONFIG_FILE
    cfg = json.loads(c.read_text())
    cfg["network"]["hidden"] = cfg["network"]["hidden"] * 2
    c.write_text(json.dumps(cfg))


def _remove_weights(p: Path) -> None:
    (p / WEIGHTS_FILE).unlink()


def _other_format(p: Path) -> None:
    c = p / CONFIG_FILE
    cfg = json.loads(c.read_text())
    cfg["format_version"] = 99
    c.write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_truncate, "SHA-256"),
        (_flip_byte, "SHA-256"),
        (_truncate_json, "not valid JSON"),
        (_mismatch, "does not match its architecture"),
        (_remove_weights, "has no model.safetensors"),
        (_other_format, "format_version"),
    ],
)
def test_damaged_checkpoints_raise_model_error(saved, tmp_path, damage, words) -> None:
    p = _copy(saved, tmp_path)
    damage(p)
    with pytest.raises(ModelError) as exc:
        load_model(p)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_truncated_weights_with_matching_hash_still_fail(saved, tmp_path) -> None:
    # A consistent but cut-off file (hash updated too) is caught by the safetensors reader.
    p = _copy(saved, tmp_path)
    _truncate(p)
    import hashlib

    c = p / CONFIG_FILE
    cfg = json.loads(c.read_text())
    cfg["weights_sha256"] = hashlib.sha256((p / WEIGHTS_FILE).read_bytes()).hexdigest()
    c.write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(p)


def test_missing_checkpoint(tmp_path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope")


def test_save_refuses_a_file_path(trained, tmp_path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ModelError):
        save_model(trained, f)


def test_cli_bad_checkpoint_exit_2(saved, cohort_dir, tmp_path) -> None:
    from typer.testing import CliRunner

    from fairaudit.cli.app import app

    p = _copy(saved, tmp_path)
    _flip_byte(p)
    res = CliRunner().invoke(app, ["audit", "--model", str(p), "--data", str(cohort_dir / "test.csv"),
                                   "--label", "diagnosis", "--sensitive", "race"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "SHA-256" in lines[0] and "Traceback" not in res.output
