"""Model loops report progress to the caller's callback and never draw themselves."""

from __future__ import annotations

import numpy as np

from fairaudit.cli.progress import RichProgress
from fairaudit.models.progress import track
from tests.conftest import RecordingProgress


def test_inference_reports_every_row(trained, test_set, capsys) -> None:
    rec = RecordingProgress()
    with_progress = trained.predict_proba(test_set, progress=rec, batch_size=64)
    assert rec.events[0] == ("start", "inference", test_set.n_rows)
    assert rec.events[-1][0] == "stop"
    assert sum(n for kind, n, _ in rec.events if kind == "advance") == test_set.n_rows
    assert np.array_equal(with_progress, trained.predict_proba(test_set, batch_size=64))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # the model printed nothing


def test_track_without_progress_does_nothing() -> None:
    with track(None, 3, "x") as t:
        t.advance(1)
        t.describe("y")
    rec = RecordingProgress()
    with track(rec, 3, "x") as t:
        t.describe("x (epoch 1)")
    assert rec.events == [("start", "x", 3), ("advance", 0, "x (epoch 1)"), ("stop", None, None)]


def test_rich_progress_stays_silent_off_a_terminal(capsys) -> None:
    bar = RichProgress()
    bar.start("bootstrap", 10)
    bar.advance(5)
    bar.stop()
    assert capsys.readouterr().err == ""


def test_rich_progress_draws_on_a_terminal(capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = RichProgress()
    bar.start("training", 4)
    bar.advance(2, "training (epoch 2, val 0.800)")
    bar.stop()
    assert "training" in capsys.readouterr().err
