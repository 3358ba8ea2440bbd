"""fairaudit.cli.sample_data: `fairaudit sample-data` writes a seeded cohort, or exits 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from fairaudit.cli.app import app

runner = CliRunner()
ARGS = ["--patients", "60", "--image-size", "16", "--seed", "4"]


def test_writes_the_splits_and_is_a_function_of_the_seed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        res = runner.invoke(app, ["sample-data", "--out", str(out), *ARGS])
        assert res.exit_code == 0, res.output
    for split in ("train", "validation", "test"):
        left, right = pd.read_csv(a / f"{split}.csv"), pd.read_csv(b / f"{split}.csv")
        pd.testing.assert_frame_equal(left, right)
        assert {"patient_id", "diagnosis", "sex", "race", "image_path", "note"} <= set(left.columns)
    assert (a / "cohort.json").is_file()


def test_bad_options_exit_2_in_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["sample-data", "--out", str(tmp_path / "c"), "--patients", "1"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
