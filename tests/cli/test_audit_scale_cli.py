"""`fairaudit audit` on Parquet datasets: --engine, --bootstrap-method, --row-id, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from fairaudit.cli.app import app
from fairaudit.schema import load_schema

runner = CliRunner()


@pytest.fixture
def dataset(tmp_path: Path, predictions) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    frame = predictions.assign(rid=range(len(predictions)))
    frame.iloc[:2500].to_parquet(d / "a.parquet")
    frame.iloc[2500:].to_parquet(d / "b.parquet")
    frame.to_parquet(tmp_path / "one.parquet")
    return d


def audit(*args: str):
    return runner.invoke(app, ["audit", "--label", "y", "--sensitive", "sex,race", "--threshold", "0.5",
                               "--bootstrap", "100", "--permutations", "100", *args],
                         catch_exceptions=False)


def _bad(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_directory_is_streamed_and_conforms_to_the_contract(dataset, tmp_path):
    out = tmp_path / "a.json"
    res = audit("-p", str(dataset), "-f", "json", "-o", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, load_schema())
    assert doc["dataset"]["n_rows"] == 4000
    assert "computed from merged counts" in doc["run"]["p_value_method"]
    assert "multinomial bootstrap" in doc["run"]["interval_method"]


def test_poisson_with_a_row_id_is_the_same_for_a_glob_and_one_file(dataset, tmp_path):
    docs = []
    for source in (str(dataset / "*.parquet"), str(tmp_path / "one.parquet")):
        out = tmp_path / f"{len(docs)}.json"
        res = audit("-p", source, "--bootstrap-method", "poisson", "--row-id", "rid", "-f", "json",
                    "-o", str(out), "-q")
        assert res.exit_code == 0, res.output
        doc = json.loads(out.read_text())
        doc.pop("run")
        doc["dataset"].pop("source")
        docs.append(doc)
    assert docs[0] == docs[1]


def _patients_dir(tmp_path: Path, predictions, pid) -> tuple[Path, Path]:
    """A two-file Parquet directory and the same rows in one file, with patient ids ``pid``."""
    d = tmp_path / "by_patient"
    d.mkdir()
    frame = predictions.assign(pid=pid)
    frame.iloc[:1700].to_parquet(d / "a.parquet", row_group_size=400)
    frame.iloc[1700:].to_parquet(d / "b.parquet")
    frame.to_parquet(tmp_path / "patients.parquet")
    return d, tmp_path / "patients.parquet"


def _dataset_and_warnings(*args: str, out: Path) -> tuple[dict, list[str]]:
    res = audit(*args, "-f", "json", "-o", str(out), "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, load_schema())
    return doc["dataset"], doc["warnings"]


def test_merged_statistics_count_the_patients_like_the_in_memory_audit(tmp_path, predictions):
    rng = np.random.default_rng(8)
    pid = np.array([f"P{i:05d}" for i in rng.integers(0, 1500, len(predictions))])
    directory, one = _patients_dir(tmp_path, predictions, pid)
    merged, _ = _dataset_and_warnings("-p", str(directory), "--engine", "stream", "--partitions", "3",
                                      "--cluster", "pid", "--bootstrap-method", "poisson",
                                      out=tmp_path / "merged.json")
    memory, _ = _dataset_and_warnings("-p", str(one), "--cluster", "pid", out=tmp_path / "memory.json")
    assert merged["n_clusters"] == memory["n_clusters"] == len(set(pid))
    assert merged["n_clusters_estimated"] is None and memory["n_clusters_estimated"] is None
    rows, _ = _dataset_and_warnings("-p", str(directory), "--bootstrap-method", "poisson",
                                    "--row-id", "pid", out=tmp_path / "rows.json")
    assert rows["n_clusters"] is None  # a row id is not a patient


def test_fewer_than_20_patients_warn_on_the_merged_path_too(tmp_path, predictions):
    directory, one = _patients_dir(tmp_path, predictions, np.arange(len(predictions)) % 12)
    merged, warned = _dataset_and_warnings("-p", str(directory), "--cluster", "pid",
                                           "--bootstrap-method", "poisson", out=tmp_path / "m.json")
    memory, memory_warned = _dataset_and_warnings("-p", str(one), "--cluster", "pid",
                                                  out=tmp_path / "i.json")
    assert merged["n_clusters"] == memory["n_clusters"] == 12
    few = [w for w in warned if "fewer than 20 patients" in w]
    assert few == [w for w in memory_warned if "fewer than 20 patients" in w] and len(few) == 1
    assert "--cluster 'pid'" in few[0]


def test_option_errors_are_one_line(dataset, tmp_path):
    _bad(audit("-p", str(dataset), "--row-id", "rid"), "--row-id", "poisson")
    _bad(audit("-p", str(dataset), "--engine", "spark"), "--engine")
    _bad(audit("-p", str(dataset), "--cluster", "site"), "--bootstrap-method poisson")
    _bad(audit("-p", str(dataset), "--cross-check"), "--cross-check", "classic")
    _bad(audit("-p", str(dataset / "*.csv")), "matches no Parquet files")
    _bad(audit("-p", str(dataset), "--score", "nope"), "column 'nope'", "a.parquet")
    _bad(audit("-p", str(dataset), "--engine", "memory"), "memory engine reads one file")
