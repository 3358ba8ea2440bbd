"""fairaudit.data.tables: formats by suffix, hashing, and one-line errors for bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from fairaudit.data.tables import check_file, file_sha256, read_table, require_columns, table_format
from fairaudit.errors import InputError


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.CSV.gz", "csv"), ("a.tsv.xz", "tsv"), ("a.parquet", "parquet"),
     ("a.pq", "parquet"), ("a.parquet.gz", ""), ("a.txt", ""), ("noext", "")],
)
def test_table_format_follows_the_suffix(name: str, fmt: str) -> None:
    assert table_format(name) == fmt


def test_read_table_reads_plain_and_compressed_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"y": [0, 1], "score": [0.2, 0.9], "sex": ["F", "M"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with gzip.open(tmp_path / "t.csv.gz", "wt", encoding="utf-8") as fh:
        frame.to_csv(fh, index=False)
    for name in ("t.csv", "t.csv.gz"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame)


def test_file_sha256_is_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    p = tmp_path / "t.csv"
    p.write_bytes(b"y,score\n1,0.5\n")
    assert file_sha256(p, chunk=3) == hashlib.sha256(b"y,score\n1,0.5\n").hexdigest()


def test_missing_directory_and_wrong_suffix_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="predictions file '.*nope.csv' does not exist"):
        check_file(tmp_path / "nope.csv", "predictions file")
    with pytest.raises(InputError, match="is a directory"):
        check_file(tmp_path)
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(InputError, match=r"suffix '\.json'; expected one of \.csv"):
        read_table(tmp_path / "t.json")


def test_empty_and_header_only_tables_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("y,score\n")
    with pytest.raises(InputError, match="is empty"):
        read_table(tmp_path / "empty.csv")
    with pytest.raises(InputError, match="has a header but no data rows"):
        read_table(tmp_path / "header.csv")


def test_require_columns_names_the_missing_one_and_the_option() -> None:
    frame = pd.DataFrame({"y": [1], "score": [0.5]})
    require_columns(frame, ["y", "score"], "p.csv")
    with pytest.raises(InputError, match=r"column 'sex' \(given by sensitive\) not found in p.csv; "
                                         r"the columns are: y, score\."):
        require_columns(frame, ["y", "sex"], "p.csv", option="sensitive")
