"""Every command's outputs: checked before any work, through links, never onto devices or
inputs, all or nothing, one file mode, byte-identical under SOURCE_DATE_EPOCH."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app

runner = CliRunner()


def audit(predictions: Path, *extra: str, env: dict | None = None):
    args = ["audit", "-p", str(predictions), "-l", "y", "-a", "sex,race", "-B", "0",
            "--permutations", "0", "-q", *extra]
    return runner.invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the audit computation starts."""
    import fairaudit.api

    def boom(*args, **kwargs):
        raise AssertionError("the audit ran before its outputs were checked")

    monkeypatch.setattr(fairaudit.api, "load_audit_data", boom)


def test_symlinked_output_writes_the_target_and_keeps_the_link(predictions_csv: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    res = audit(predictions_csv, "-f", "json", "-o", str(link))
    assert res.exit_code == 0, res.output
    assert link.is_symlink()
    assert json.loads(target.read_text())["tool"]["name"] == "fairaudit"


def test_fifo_output_is_refused_before_any_work(predictions_csv: Path, tmp_path: Path, no_work) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    res = audit(predictions_csv, "--html", str(fifo))
    assert res.exit_code == 2
    assert "--html" in res.stderr and "FIFO" in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_character_device_output_is_refused(predictions_csv: Path, tmp_path: Path, no_work) -> None:
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    res = audit(predictions_csv, "-o", str(dev))
    assert res.exit_code == 2 and "character device" in res.stderr
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


@pytest.mark.parametrize("option", ["-o", "--html", "--junit"])
def test_an_input_is_never_an_output(predictions_csv: Path, option: str, no_work) -> None:
    before = predictions_csv.read_bytes()
    res = audit(predictions_csv, option, str(predictions_csv))
    assert res.exit_code == 2
    assert "is the input --predictions of this run" in res.stderr
    assert predictions_csv.read_bytes() == before


def test_policy_file_is_an_input_too(predictions_csv: Path, tmp_path: Path, no_work) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[criterion]]\nname = "demographic_parity_difference"\nmax = 0.1\n')
    res = audit(predictions_csv, "--policy", str(policy), "--junit", str(policy))
    assert res.exit_code == 2 and "input --policy" in res.stderr


@pytest.mark.parametrize(
    ("where", "message"),
    [("file/x.json", "file is not a directory"), ("/proc/x.json", "is a device or process file")],
)
def test_bad_output_directory_fails_before_work_and_leaves_nothing(
        predictions_csv: Path, tmp_path: Path, where: str, message: str, no_work) -> None:
    (tmp_path / "file").write_text("")
    good = tmp_path / "good.html"
    bad = where if where.startswith("/") else str(tmp_path / where)
    res = audit(predictions_csv, "--html", str(good), "-o", bad)
    assert res.exit_code == 2 and message in res.stderr
    assert "internal error" not in res.stderr
    assert not good.exists()


def test_read_only_output_folder_is_an_input_error_not_an_internal_one(
        predictions_csv: Path, tmp_path: Path, monkeypatch, no_work) -> None:
    from tests.test_io import read_only

    folder = tmp_path / "ro"
    folder.mkdir()
    read_only(folder, monkeypatch)
    res = audit(predictions_csv, "--html", str(tmp_path / "good.html"), "-o", str(folder / "x.json"))
    folder.chmod(0o755)
    assert res.exit_code == 2 and "cannot write in the directory" in res.stderr
    assert "internal error" not in res.stderr and not (tmp_path / "good.html").exists()


def test_a_write_failure_after_the_audit_leaves_no_output(predictions_csv: Path, tmp_path: Path, monkeypatch) -> None:
    import fairaudit._io as io_module

    calls = []

    def failing_fchmod(fd, mode):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return os.fchmod(fd, mode)

    monkeypatch.setattr(io_module.os, "fchmod", failing_fchmod)
    res = audit(predictions_csv, "--html", str(tmp_path / "r.html"), "--junit", str(tmp_path / "r.xml"),
                "-f", "json", "-o", str(tmp_path / "r.json"))
    assert res.exit_code == 2 and "No space left on device" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]


def test_every_output_has_the_same_mode(predictions_csv: Path, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        res = audit(predictions_csv, "--html", str(tmp_path / "r.html"), "--junit", str(tmp_path / "r.xml"),
                    "-f", "json", "-o", str(tmp_path / "r.json"))
        assert res.exit_code == 0, res.output
        report = runner.invoke(app, ["report", str(tmp_path / "r.json"), "--format", "markdown",
                                     "--out", str(tmp_path / "r.md")])
        assert report.exit_code == 0, report.output
    finally:
        os.umask(old)
    for name in ("r.html", "r.xml", "r.json", "r.md"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_report_refuses_to_overwrite_its_input(predictions_csv: Path, tmp_path: Path) -> None:
    saved = tmp_path / "r.json"
    assert audit(predictions_csv, "-f", "json", "-o", str(saved)).exit_code == 0
    before = saved.read_bytes()
    res = runner.invoke(app, ["report", str(saved), "--format", "junit", "--out", str(saved)])
    assert res.exit_code == 2 and "is the input RESULT.json of this run" in res.stderr
    assert saved.read_bytes() == before


def test_mitigate_checks_its_folder_before_work(predictions_csv: Path, tmp_path: Path, monkeypatch) -> None:
    import fairaudit.workflows.mitigate as pipeline

    monkeypatch.setattr(pipeline, "mitigate", lambda **kw: (_ for _ in ()).throw(AssertionError("ran")))
    base = ["mitigate", "-p", str(predictions_csv), "-l", "y", "-a", "race", "--method", "threshold"]
    (tmp_path / "file").write_text("")
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "file" / "such")])
    assert res.exit_code == 2 and "file is not a directory" in res.stderr
    out = tmp_path / "o"
    out.mkdir()
    os.mkfifo(out / "comparison.html")
    res = runner.invoke(app, [*base, "--out", str(out)])
    assert res.exit_code == 2 and "comparison.html" in res.stderr and "FIFO" in res.stderr


def test_mitigate_files_get_the_usual_mode(tmp_path: Path) -> None:
    from tests.conftest import make_predictions

    frame = make_predictions(3, n=3000)
    frame["split"] = ["val" if i % 2 else "test" for i in range(len(frame))]
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    old = os.umask(0o022)
    try:
        res = runner.invoke(app, ["mitigate", "-p", str(path), "-l", "y", "-a", "race", "--method",
                                  "threshold", "--out", str(tmp_path / "o"), "-B", "0", "-q"])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    files = sorted((tmp_path / "o").iterdir())  # the folder is made
    assert [f.name for f in files] == ["comparison.html", "comparison.json", "comparison.md", "thresholds.json"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}


def test_train_checks_its_folder_before_training(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    res = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "file" / "m")])
    assert res.exit_code == 2 and "file is not a directory" in res.stderr
    res = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path), "--seed", "-1"])
    assert res.exit_code == 2 and "--seed must be a whole number, 0 or more" in res.stderr


def test_same_command_and_seed_give_identical_files(predictions_csv: Path, tmp_path: Path) -> None:
    """Two processes (different hash seeds, so set orders differ) write the same bytes."""
    import subprocess
    import sys

    outputs = []
    for run, hash_seed in (("a", "1"), ("b", "2")):
        folder = tmp_path / run
        folder.mkdir()
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", PYTHONHASHSEED=hash_seed,
                   PYTHONPATH=str(Path(__file__).resolve().parents[2]), MPLBACKEND="Agg")
        proc = subprocess.run([
            sys.executable, "-m", "fairaudit", "audit", "-p", str(predictions_csv), "-l", "y",
            "-a", "sex,race", "-B", "100", "--permutations", "100", "--seed", "5", "-f", "json",
            "-o", "r.json", "--html", "r.html", "--junit", "r.xml", "-q",
        ], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outputs.append({name: (folder / name).read_bytes() for name in ("r.json", "r.html", "r.xml")})
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0]["r.json"])["run"]["created"] == "2023-11-14T22:13:20+00:00"
    assert b"2023-11-14" in outputs[0]["r.html"]
