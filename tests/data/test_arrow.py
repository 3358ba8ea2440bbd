"""fairaudit.data.arrow: the pandas-free reader gives the pandas path's dataset, or declines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.data import load_table_dataset
from fairaudit.data.arrow import PANDAS_NA_TEXT, arrow_dataset
from fairaudit.data.dataset import from_frame
from fairaudit.data.lazy_frame import TableReader
from fairaudit.data.tables import file_sha256, read_table
from tests.conftest import ROOT, make_predictions

FIELDS = ("root", "source", "label_column", "attributes", "group_names", "sha256", "score_column",
          "unknown_counts", "score_type", "pos_label", "metadata", "n_unmatched_metadata", "bins",
          "clusters", "modalities")


def _pandas_path(p: Path, sensitive: str, score_type: str = "probability"):
    return from_frame(read_table(p, "predictions file"), label="y", sensitive=sensitive, score="score",
                      source=f"predictions file '{p}'", root=p.resolve().parent, sha256=file_sha256(p),
                      score_type=score_type)


def _assert_same(fast, slow) -> None:
    for name in FIELDS:
        assert getattr(fast, name) == getattr(slow, name), name
    for name in ("labels", "scores", "group_codes"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


def _awkward_table(n: int = 600) -> pd.DataFrame:
    """Missing and blank group values, padded text, a literal 'unknown', integer codes with gaps."""
    df = make_predictions(3, n=n).drop(columns="age")
    rng = np.random.default_rng(3)
    race = df["race"].astype(object).to_numpy().copy()
    race[rng.random(n) < 0.05] = None
    race[rng.random(n) < 0.05] = "  "
    race[rng.random(n) < 0.05] = " Asian "
    df["race"] = race
    df["sex"] = np.where(rng.random(n) < 0.05, "unknown", df["sex"])
    site = pd.array(df["site"].to_numpy() * 10 - 25, dtype="Int64")
    site[rng.random(n) < 0.05] = pd.NA
    df["site"] = site
    df["y"] = df["y"].astype(bool) if n % 2 else df["y"].astype(np.int8)
    return df


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".tsv"])
@pytest.mark.parametrize("score_type", ["probability", "logit"])
def test_the_fast_reader_gives_the_pandas_datasets_values(tmp_path: Path, suffix: str, score_type: str) -> None:
    df = _awkward_table(601 if suffix == ".csv" else 600)
    if score_type == "logit":
        df["score"] = np.log(df["score"] / (1 - df["score"]))
    p = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        df.to_parquet(p, index=False, row_group_size=150)  # several chunks, one dictionary each
    else:
        df.to_csv(p, index=False, sep="\t" if suffix == ".tsv" else ",")
    fast = arrow_dataset(p, label="y", sensitive="sex,race,site", score="score", what="predictions file",
                         score_type=score_type)
    assert fast is not None
    slow = _pandas_path(p, "sex,race,site", score_type)
    _assert_same(fast, slow)
    assert "unknown" in fast.group_names[1] and "unknown" in fast.group_names[0]
    assert isinstance(fast.__dict__["_frame"], TableReader)  # not read yet
    pd.testing.assert_frame_equal(fast.frame, slow.frame)  # read on first use
    assert isinstance(fast.__dict__["_frame"], pd.DataFrame)


def test_the_frame_of_a_file_changed_since_it_was_read_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "t.parquet"
    make_predictions(1, n=200).to_parquet(p, index=False)
    ds = load_table_dataset(p, label="y", sensitive="sex,race", score="score")
    make_predictions(2, n=200).to_parquet(p, index=False)
    with pytest.raises(Exception, match="changed while it was being audited"):
        ds.frame  # noqa: B018


def _write(tmp_path: Path, df: pd.DataFrame, suffix: str = ".parquet") -> Path:
    p = tmp_path / f"x{suffix}"
    df.to_parquet(p, index=False) if suffix == ".parquet" else df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize("change", [
    lambda df: df.assign(y=np.where(np.arange(len(df)) == 3, 2, df["y"])),  # not binary
    lambda df: df.assign(y=df["y"].where(np.arange(len(df)) != 3)),  # a missing label
    lambda df: df.assign(y=df["y"].map({0: "no", 1: "yes"})),  # text labels
    lambda df: df.assign(score=df["score"] * 100),  # out of range
    lambda df: df.assign(score=df["score"].where(np.arange(len(df)) != 5)),  # a missing score
    lambda df: df.assign(race=df["site"] + 0.5),  # a float attribute
    lambda df: df.assign(race=np.arange(len(df)) % 25),  # more than 20 groups
    lambda df: df.assign(race=np.where(df["race"] == "Black", "unknown (missing)", None)),
    lambda df: df.iloc[:0],  # no rows
    lambda df: df.drop(columns="score"),  # a missing column
])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_the_fast_reader_declines_what_the_pandas_path_explains(tmp_path: Path, change, suffix: str) -> None:
    p = _write(tmp_path, change(make_predictions(4, n=300)), suffix)
    assert arrow_dataset(p, label="y", sensitive="sex,race", score="score", what="predictions file") is None


def test_a_categorical_parquet_column_is_left_to_pandas(tmp_path: Path) -> None:
    df = make_predictions(4, n=300)
    p = _write(tmp_path, df.assign(race=pd.Categorical(df["race"], categories=["White", "Mixed", "Black", "Asian"])))
    assert arrow_dataset(p, label="y", sensitive="sex,race", score="score", what="f") is None  # its order


def test_a_csv_with_dates_or_repeated_names_is_left_to_pandas(tmp_path: Path) -> None:
    df = make_predictions(5, n=100)
    p = _write(tmp_path, df.assign(when="2024-01-02 10:00:00"), ".csv")
    assert arrow_dataset(p, label="y", sensitive="sex", score="score", what="f") is None
    p.write_text("y,score,sex,sex\n1,0.5,F,M\n0,0.2,M,F\n")
    assert arrow_dataset(p, label="y", sensitive="sex", score="score", what="f") is None
    p.write_bytes(b"y,score,sex,note\n1,0.5,F,caf\xe9\n0,0.2,M,ok\n")  # not UTF-8: bytes
    assert arrow_dataset(p, label="y", sensitive="sex", score="score", what="f") is None
    p.write_bytes(b"y,score,sex,note\n1,0.5,F,cafe\n0,0.2,M,ok\n")
    assert arrow_dataset(p, label="y", sensitive="sex", score="score", what="f") is not None


def test_the_csv_missing_values_are_pandas_defaults() -> None:
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(PANDAS_NA_TEXT) == set(STR_NA_VALUES)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_an_audit_of_a_file_imports_neither_pandas_nor_scipy(tmp_path: Path, suffix: str) -> None:
    """Both cost a cold command line a tenth of a second or more. SciPy is the fallback of the
    compiled kernels (beta quantiles, group sums), so it is absent only where they are built."""
    p = _write(tmp_path, make_predictions(6, n=500), suffix)
    code = (
        "import sys; from fairaudit.api import load_audit_data, audit_dataset\n"
        "from fairaudit.metrics import kernels\n"
        f"d = load_audit_data({str(p)!r}, label='y', sensitive='sex,race,site')\n"
        "r = audit_dataset(d.dataset, threshold=0.5, n_bootstrap=100, n_permutations=100)\n"
        "r.to_json(); assert 'pandas' not in sys.modules, 'pandas imported'\n"
        "assert 'scipy' not in sys.modules or not kernels.available(), 'scipy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
