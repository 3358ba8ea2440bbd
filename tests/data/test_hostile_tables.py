"""Tables built to mislead: duplicated headers, other delimiters, compression, Parquet folders,
percentages for probabilities, and a literal "unknown" next to missing values."""

from __future__ import annotations

import pandas as pd
import pytest

from fairaudit.data import load_table_dataset, read_table
from fairaudit.data.dataset import UNKNOWN_MISSING, encode_groups, validate_scores
from fairaudit.errors import InputError

FRAME = pd.DataFrame({"y": [0, 1, 1, 0], "score": [0.1, 0.9, 0.7, 0.2], "sex": ["F", "M", "F", "M"]})


def test_duplicated_column_names_are_refused(tmp_path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("y,score,sex,score,sex,age\n0,0.1,F,0.2,F,3\n1,0.9,M,0.8,M,4\n")
    with pytest.raises(InputError, match=r"duplicated column names: 'score', 'sex'; give every column"):
        read_table(path)


def test_a_column_named_like_pandas_renames_is_not_a_duplicate(tmp_path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("score,score.1\n0.1,0.2\n")
    assert list(read_table(path).columns) == ["score", "score.1"]


def test_semicolon_separated_csv_gets_a_delimiter_hint(tmp_path) -> None:
    path = tmp_path / "semi.csv"
    FRAME.to_csv(path, sep=";", index=False)
    with pytest.raises(InputError, match="separated by semicolons .*re-save it with commas"):
        read_table(path, "predictions file")
    european = tmp_path / "eu.csv"  # decimal commas make the rows ragged: a parser error
    european.write_text("y;score;sex\n0;0,1;F\n1;0,9,5;M\n")
    with pytest.raises(InputError, match="separated by semicolons"):
        read_table(european)


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".tsv.xz"])
def test_compressed_tables_are_read(tmp_path, suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    FRAME.to_csv(path, sep="\t" if ".tsv" in suffix else ",", index=False)
    ds = load_table_dataset(path, label="y", sensitive="sex", score="score")
    assert ds.n_rows == 4 and list(ds.scores) == [0.1, 0.9, 0.7, 0.2]


def test_a_parquet_folder_is_read(tmp_path) -> None:
    folder = tmp_path / "preds.parquet"
    folder.mkdir()
    FRAME.iloc[:2].to_parquet(folder / "part-0.parquet", index=False)
    FRAME.iloc[2:].to_parquet(folder / "part-1.parquet", index=False)
    ds = load_table_dataset(folder, label="y", sensitive="sex", score="score")
    assert ds.n_rows == 4 and len(ds.sha256) == 64
    with pytest.raises(InputError, match="is a directory"):
        read_table(tmp_path)


def test_percentage_scores_say_divide_by_100() -> None:
    with pytest.raises(InputError) as info:
        validate_scores(pd.Series([12.5, 62.6451, 0.0, 100.0]), "predictions file 'p.csv'", "score")
    message = str(info.value)
    assert "found 12.5 at data row 1" in message and "percentages? divide by 100" in message
    assert "np.float64" not in message and "logit" not in message
    with pytest.raises(InputError, match=r"found -2.3 .*logits or log-odds\? apply a sigmoid"):
        validate_scores(pd.Series([0.5, -2.3, 4.0]), "p", "score")


def test_literal_unknown_is_not_merged_with_missing_values() -> None:
    codes, names, n_missing = encode_groups(pd.Series(["F", "unknown", None, "", "unknown", "M"]))
    assert names == ("F", "M", "unknown", UNKNOWN_MISSING)
    assert [names[c] for c in codes] == ["F", "unknown", UNKNOWN_MISSING, UNKNOWN_MISSING, "unknown", "M"]
    assert n_missing == 2
    # without a literal "unknown" the missing values keep the usual name
    _, names, _ = encode_groups(pd.Series(["F", None]))
    assert names == ("F", "unknown")
    with pytest.raises(InputError, match="holds the value 'unknown \\(missing\\)'"):
        encode_groups(pd.Series(["unknown (missing)", None], name="race"))


def test_the_warning_names_the_group_of_missing_values() -> None:
    from fairaudit import audit

    frame = pd.concat([FRAME] * 30, ignore_index=True)
    frame["race"] = ["unknown", None, "A", "B"] * 30
    result = audit(frame, label="y", sensitive="race", n_bootstrap=0, n_permutations=0, threshold=0.5)
    assert any("they form the group 'unknown (missing)'" in w for w in result.warnings)
    assert {g.group for g in result.groups_of("race")} == {"A", "B", "unknown", "unknown (missing)"}
