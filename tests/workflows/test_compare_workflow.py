"""The compare workflow as a library call: parameter names in messages, all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.errors import FairauditError
from fairaudit.workflows.compare import OUT_FILES, CompareOutputs, SideSpec, run_compare
from tests.conftest import RecordingProgress


def _table(path: Path, n: int = 500, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pd.DataFrame({"id": np.arange(n), "sex": rng.choice(["F", "M"], n), "y": y,
                  "score": np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)}).to_csv(path, index=False)
    return path


def test_run_compare_writes_every_view_and_reports_progress(tmp_path):
    base = _table(tmp_path / "a.csv")
    rec = RecordingProgress()
    run = run_compare(SideSpec(base, threshold=0.5), SideSpec(base, threshold=0.6), label="y",
                      sensitive="sex", outputs=CompareOutputs(out_dir=tmp_path / "out"),
                      progress=rec, n_bootstrap=100)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUT_FILES.values())
    assert run.exit_code == 0 and run.payload.startswith("fairaudit compare: NOT RUN")
    assert rec.events[0] == ("start", "paired bootstrap", 100) and rec.events[-1] == ("stop", None, None)
    assert sum(e[1] for e in rec.events if e[0] == "advance") == 100


def test_library_messages_name_parameters_and_nothing_is_written(tmp_path):
    base = _table(tmp_path / "a.csv")
    other = _table(tmp_path / "b.csv", seed=1)
    with pytest.raises(FairauditError, match="give `id_column` to pair the rows"):
        run_compare(SideSpec(base), SideSpec(other), label="y", sensitive="sex",
                    outputs=CompareOutputs(out_dir=tmp_path / "out"), n_bootstrap=0)
    assert not (tmp_path / "out").exists()
