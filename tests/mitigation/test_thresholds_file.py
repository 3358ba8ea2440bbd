"""The group-thresholds file (:mod:`fairaudit.group_thresholds`)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from fairaudit.errors import ConfigError
from fairaudit.group_thresholds import FILE_FORMAT, GroupThresholds, fitted_rows_overlap
from fairaudit.mitigation import thresholds


def test_estimator_module_re_exports_the_file_names() -> None:
    assert thresholds.GroupThresholds is GroupThresholds
    assert thresholds.fitted_rows_overlap is fitted_rows_overlap
    assert thresholds.FILE_FORMAT == FILE_FORMAT


def test_save_writes_through_io_with_the_usual_mode(tmp_path: Path) -> None:
    gt = GroupThresholds("race", {"a": 0.4, "b": np.float64(0.6)}, 0.5,
                         provenance={"x": np.float32(0.25), "gap": float("nan"), "n": np.int64(3)})
    old = os.umask(0o022)
    try:
        path = gt.save(tmp_path / "new" / "thr.json")
    finally:
        os.umask(old)
    assert path == tmp_path / "new" / "thr.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text(encoding="utf-8") == gt.to_json()
    assert json.loads(gt.to_json())["provenance"] == {"x": 0.25, "gap": None, "n": 3}
    assert [p.name for p in path.parent.iterdir()] == ["thr.json"]  # no temporary file left
    assert GroupThresholds.load(path).thresholds == {"a": 0.4, "b": 0.6}


def test_save_refuses_a_directory_target(tmp_path: Path) -> None:
    (tmp_path / "thr.json").mkdir()
    with pytest.raises(ConfigError):
        GroupThresholds("race", {"a": 0.4}, 0.5).save(tmp_path / "thr.json")


def test_fitted_rows_overlap_warns_only_for_the_fitted_rows() -> None:
    prov = {"fitted_rows": {"data_sha256": "abc", "selection": "split", "split_column": "split",
                            "split_values": ["val"], "n_rows": 10}}
    assert fitted_rows_overlap(prov, "abc:split=test") is None
    assert "include the 10 rows" in fitted_rows_overlap(prov, "abc:split=val")
    assert fitted_rows_overlap(prov, "other") is None
