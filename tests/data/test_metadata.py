"""Demographics from a separate table: the join, unmatched rows as `unknown`, and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fairaudit
from fairaudit.data import from_frame, load_table_dataset
from fairaudit.data.metadata import join_metadata, key_text, parse_on
from fairaudit.errors import ConfigError, InputError


def _tables(seed: int = 0, n: int = 300, n_meta: int = 280):
    rng = np.random.default_rng(seed)
    pid = [f"P{i:04d}" for i in range(n)]
    y = rng.integers(0, 2, n)
    preds = pd.DataFrame({"patient_id": pid, "y": y,
                          "score": 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2 * y - 1)))})
    meta = pd.DataFrame({"patient_id": pid[:n_meta], "sex": rng.choice(["F", "M"], n_meta),
                         "race": rng.choice(["A", "B", "C"], n_meta)})
    return preds, meta.sample(frac=1.0, random_state=1).reset_index(drop=True)  # shuffled


@pytest.mark.parametrize(("on", "pair"), [("pid", ("pid", "pid")), (" a = b ", ("a", "b"))])
def test_parse_on(on, pair) -> None:
    assert parse_on(on) == pair


@pytest.mark.parametrize("on", [None, "", "a=", "=b", "a=b=c"])
def test_parse_on_refuses(on) -> None:
    with pytest.raises(ConfigError, match="`on`"):
        parse_on(on)


def test_join_keeps_rows_in_order_and_counts_unmatched() -> None:
    preds, meta = _tables()
    joined = join_metadata(preds, meta, "patient_id", columns=["sex", "race"], source="p")
    assert joined.n_unmatched == 20 and joined.info.columns == ("sex", "race")
    assert joined.frame["patient_id"].tolist() == preds["patient_id"].tolist()
    truth = meta.set_index("patient_id")
    matched = joined.frame.iloc[:280]
    assert (matched["sex"].to_numpy() == truth.loc[matched["patient_id"], "sex"].to_numpy()).all()
    assert joined.frame.iloc[280:][["sex", "race"]].isna().all().all()


def test_unmatched_rows_are_unknown_in_every_attribute() -> None:
    preds, meta = _tables()
    ds = from_frame(preds, label="y", sensitive="sex,race", score="score", metadata=meta, on="patient_id")
    assert ds.n_unmatched_metadata == 20 and ds.metadata is not None
    assert ds.unknown_counts == {"sex": 20, "race": 20}
    assert set(ds.group_labels("sex")[280:]) == {"unknown"}


def test_split_and_joined_back_audits_like_the_whole_table() -> None:
    preds, meta = _tables(n_meta=300)
    whole = preds.merge(meta, on="patient_id", how="left")
    kw = {"label": "y", "sensitive": "sex,race", "n_bootstrap": 0, "n_permutations": 0}
    a = fairaudit.audit(whole, **kw)
    b = fairaudit.audit(preds, metadata=meta, on="patient_id", **kw)
    assert [(g.attribute, g.group, g.n) for g in a.groups] == [(g.attribute, g.group, g.n) for g in b.groups]
    assert [c.value for c in a.criteria] == [c.value for c in b.criteria]
    assert b.dataset.n_unmatched_metadata == 0 and a.dataset.n_unmatched_metadata is None


def test_numeric_and_text_keys_match(tmp_path) -> None:
    preds = pd.DataFrame({"id": [7, 8, 9, 10], "y": [0, 1, 0, 1], "score": 0.5})
    meta = pd.DataFrame({"mrn": ["7", " 8", "9.0", "x"], "sex": ["F", "M", "F", "M"]})
    ds = from_frame(preds, label="y", sensitive="sex", score="score", metadata=meta, on="id=mrn")
    assert ds.group_labels("sex").tolist() == ["F", "M", "unknown", "unknown"]  # "9.0" is text, not 9
    assert key_text(pd.Series([9.0, np.nan, 2.5])).tolist() == ["9", pd.NA, "2.5"]


def test_parquet_metadata_and_a_categorical_column(tmp_path) -> None:
    preds, meta = _tables()
    meta["race"] = pd.Categorical(meta["race"], categories=["C", "B", "A"])
    meta.to_parquet(tmp_path / "patients.parquet")
    preds.to_csv(tmp_path / "p.csv", index=False)
    ds = load_table_dataset(tmp_path / "p.csv", label="y", sensitive="race", score="score",
                            metadata=tmp_path / "patients.parquet", on="patient_id")
    assert ds.group_names[0] == ("C", "B", "A", "unknown")  # category order kept
    assert ds.metadata.source == f"metadata file '{tmp_path / 'patients.parquet'}'"
    assert ds.metadata.sha256 is not None and len(ds.metadata.sha256) == 64


def test_cluster_column_can_come_from_the_metadata() -> None:
    preds, meta = _tables(n_meta=300)
    preds = preds.rename(columns={"patient_id": "study"})
    meta["family"] = meta["patient_id"].str[:4]
    ds = from_frame(preds, label="y", sensitive="sex", score="score", cluster="family",
                    metadata=meta, on="study=patient_id")
    assert ds.metadata.columns == ("sex", "family") and ds.clusters is not None


def test_duplicate_keys_list_the_first_few() -> None:
    preds, meta = _tables()
    dup = pd.concat([meta, meta.iloc[:7]], ignore_index=True)
    with pytest.raises(InputError, match=r"duplicate keys in 'patient_id': '.+' \(2 rows\), .+ and 2 more; "
                                         r"the metadata needs one row per key"):
        join_metadata(preds, dup, "patient_id", columns=["sex"], source="p")


@pytest.mark.parametrize(("on", "where"), [("pid", "predictions"), ("patient_id=pid", "metadata <DataFrame>")])
def test_missing_key_column_names_the_table_and_column(on, where) -> None:
    preds, meta = _tables()
    with pytest.raises(InputError, match=rf"key column 'pid' not found in {where}; the columns are"):
        join_metadata(preds, meta, on, columns=["sex"], source="predictions")


def test_a_column_in_both_tables_is_refused() -> None:
    preds, meta = _tables()
    preds["sex"] = "F"
    with pytest.raises(InputError, match=r"'sex' is in both p and metadata <DataFrame>; keep the "
                                         r"demographics in one table"):
        join_metadata(preds, meta, "patient_id", columns=["sex", "race"], source="p")


def test_metadata_rows_without_a_key_and_useless_metadata_are_refused() -> None:
    preds, meta = _tables()
    meta.loc[5, "patient_id"] = None
    with pytest.raises(InputError, match=r"1 rows without a 'patient_id' \(first at data row 6\)"):
        join_metadata(preds, meta, "patient_id", columns=["sex"], source="p")
    with pytest.raises(InputError, match=r"has none of the columns to join \('age'\)"):
        join_metadata(preds, meta.dropna(), "patient_id", columns=["age"], source="p")


def test_on_without_metadata_names_the_parameter() -> None:
    preds, _ = _tables()
    with pytest.raises(ConfigError, match=r"^`on` names the key of a `metadata` table; give `metadata`"):
        fairaudit.audit(preds, label="y", sensitive="patient_id", on="patient_id")


def test_manifest_takes_demographics_and_model_columns_from_the_metadata(tmp_path) -> None:
    from pathlib import Path

    from fairaudit.data.manifest import load_manifest

    cohort = Path(__file__).resolve().parents[2] / "sample_data" / "cohort"
    test = pd.read_csv(cohort / "test.csv").head(40)
    patients = test.drop_duplicates("patient_id")[["patient_id", "sex", "race"]].iloc[:-2]
    unmatched = int(test["patient_id"].isin(test["patient_id"].drop_duplicates().iloc[-2:]).sum())
    manifest = test.drop(columns=["sex", "race"]).assign(
        image_path=[str(cohort / p) if isinstance(p, str) else p for p in test["image_path"]])
    manifest.to_csv(tmp_path / "m.csv", index=False)
    patients.to_csv(tmp_path / "patients.csv", index=False)
    ds = load_manifest(tmp_path / "m.csv", label="diagnosis", sensitive="sex,race",
                       metadata=tmp_path / "patients.csv", on="patient_id")
    assert ds.n_unmatched_metadata == unmatched > 0
    assert ds.frame["sex"].iloc[:10].tolist() == test["sex"].iloc[:10].tolist()  # the model's input
    assert ds.unknown_counts == {"sex": unmatched, "race": unmatched}
    with pytest.raises(InputError, match=r"column 'sex' \(given by the manifest format\) not found"):
        load_manifest(tmp_path / "m.csv", label="diagnosis", sensitive="race",
                      metadata=tmp_path / "patients.csv", on="patient_id")


@settings(max_examples=40, deadline=None)
@given(
    pred_keys=st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=1, max_size=50),
    meta_keys=st.sets(st.integers(0, 30), min_size=1, max_size=25),
    text_keys=st.booleans(),
)
def test_property_join_equals_a_pandas_left_merge(pred_keys, meta_keys, text_keys) -> None:
    meta_keys = sorted(meta_keys)
    preds = pd.DataFrame({"k": pd.array(pred_keys, dtype="Int64")})
    meta = pd.DataFrame({"k": meta_keys, "g": [f"g{k % 4}" for k in meta_keys]})
    if text_keys:  # ids read as text in one table and as numbers in the other
        meta["k"] = meta["k"].astype(str)
    joined = join_metadata(preds, meta, "k", columns=["g"], source="p")
    merged = preds.assign(k=preds["k"].astype("Int64")).merge(
        meta.assign(k=meta["k"].astype("Int64")), on="k", how="left")
    merged.loc[preds["k"].isna().to_numpy(), "g"] = np.nan  # a missing key matches nothing
    assert joined.frame["g"].fillna("?").tolist() == merged["g"].fillna("?").tolist()
    assert joined.n_unmatched == int(merged["g"].isna().sum())
