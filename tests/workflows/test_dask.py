"""Streaming and Dask audits of Parquet datasets: the same numbers as in memory, whatever the
partitioning, and after a failed task is retried."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.metrics import AuditConfig
from fairaudit.report import render
from fairaudit.workflows import scale
from fairaudit.workflows.scale import audit_scaled

pytest.importorskip("dask.distributed")

CFG = AuditConfig(n_bootstrap=100, n_permutations=100, seed=11)


def table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    race = rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05])
    return pd.DataFrame({
        "y": y, "race": race, "site": rng.integers(1, 4, n),
        "score": np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0.0, 1.0),
        "pid": rng.integers(0, 800, n),
    })


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ds")
    df = table()
    (root / "dir").mkdir()
    df.iloc[:2200].to_parquet(root / "dir" / "a.parquet", row_group_size=550)
    df.iloc[2200:].to_parquet(root / "dir" / "b.parquet", row_group_size=450)
    df.iloc[:2200].to_parquet(root / "a.parquet", row_group_size=300)
    df.to_parquet(root / "whole.parquet")
    return {"dir": root / "dir", "a": root / "a.parquet", "whole": root / "whole.parquet"}


def numbers(scaled) -> dict:
    """The JSON without the run record and the data's description (which name the engine)."""
    out = json.loads(render(scaled.result, "json"))
    out.pop("run")
    out["dataset"].pop("source")
    return out


def run(path, **kw):
    kw.setdefault("bootstrap_method", "poisson")
    return audit_scaled(path, label="y", sensitive="race,site", threshold=0.5, config=CFG,
                        processes=False, **kw)


def test_dask_equals_streaming_equals_in_memory(data):
    memory = numbers(run(data["a"], engine="memory"))
    stream = numbers(run(data["a"], engine="stream", batch_rows=256))
    dask = numbers(run(data["a"], engine="dask", n_workers=2, n_partitions=4))
    assert memory == stream == dask
    assert memory["overall"]["n"] == 2200


def test_every_number_is_the_same_for_1_2_and_7_partitions(data):
    runs = [run(data["dir"], engine="dask", n_workers=2, n_partitions=k) for k in (1, 2, 7)]
    # Partitions are whole row groups and never span files: 1, 2, 7 asked give 2, 3, 8.
    assert [r.n_partitions for r in runs] == [2, 3, 8]
    first = numbers(runs[0])
    assert numbers(runs[1]) == first and numbers(runs[2]) == first
    assert numbers(run(data["dir"], engine="stream", n_partitions=5, batch_rows=200)) == first


def test_patients_as_poisson_keys_are_partition_free(data):
    a = run(data["dir"], engine="stream", cluster="pid", n_partitions=1)
    b = run(data["dir"], engine="dask", cluster="pid", n_partitions=7, n_workers=1)
    assert numbers(a) == numbers(b)
    assert a.result.run.bootstrap_unit == "patient (pid)"
    # The patients are counted exactly (and the same) however the rows were partitioned.
    n_patients = pd.concat([pd.read_parquet(f) for f in sorted(data["dir"].glob("*.parquet"))])["pid"].nunique()
    assert a.result.dataset.n_clusters == b.result.dataset.n_clusters == n_patients
    assert b.result.dataset.n_clusters_estimated is None
    assert numbers(a) != numbers(run(data["dir"], engine="stream", n_partitions=1))


def test_streaming_a_directory_equals_the_whole_table_in_memory(data):
    # Multinomial draws come from the merged cells alone, so any file layout gives the same.
    stream = numbers(run(data["dir"], engine="stream", bootstrap_method="multinomial"))
    memory = numbers(run(data["whole"], engine="memory", bootstrap_method="multinomial"))
    assert stream == memory
    assert stream["dataset"]["unknown_counts"]["race"] > 0


def test_a_failed_task_is_retried_and_the_result_is_unchanged(data, tmp_path, monkeypatch):
    marker = tmp_path / "failed-once"

    def flaky(part, opts):
        if part.row_groups == (0,) and part.name == "b.parquet" and not marker.exists():
            marker.write_text("x")
            raise OSError("worker lost its disk")
        return scale.reduce_part(part, opts)

    expected = numbers(run(data["dir"], engine="stream", n_partitions=7))
    real = scale.dask_stats
    monkeypatch.setattr(scale, "dask_stats", lambda *a, **k: real(*a, **{**k, "reduce": flaky}))
    got = numbers(run(data["dir"], engine="dask", n_partitions=7, n_workers=2))
    assert marker.exists()  # the failure happened
    assert got == expected


def test_bad_batches_are_one_line_errors_naming_the_file(tmp_path):
    from fairaudit.errors import InputError

    bad = table(300)
    bad.loc[120, "score"] = 1.5
    (tmp_path / "d").mkdir()
    bad.to_parquet(tmp_path / "d" / "x.parquet")
    with pytest.raises(InputError, match=r"x\.parquet.*probabilities in \[0, 1\]; found 1\.5 at data row 121"):
        run(tmp_path / "d", engine="stream")
    with pytest.raises(InputError, match="column 'nope'"):
        audit_scaled(tmp_path / "d", label="nope", sensitive="race", config=CFG)
    with pytest.raises(InputError, match="matches no Parquet files"):
        run(str(tmp_path / "d" / "*.csv"), engine="stream")
