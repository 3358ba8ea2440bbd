"""fairaudit.data.stream: Parquet datasets cut into partitions and read as validated batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairaudit.data.stream import (
    MISSING,
    is_dataset,
    parquet_files,
    plan_partitions,
    read_batches,
    row_keys,
)
from fairaudit.errors import InputError


def _write(path: Path, n: int, first: int = 0, row_group_size: int = 10, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "y": np.arange(first, first + n) % 2,
        "p": np.linspace(0.0, 1.0, n),
        "site": [f"s{i % 3}" for i in range(n)],
        "pid": np.arange(first, first + n) // 2,
        **extra,
    })
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _read_all(parts, **kw):
    return [b for part in parts for b in read_batches(part, label="y", score="p", sensitive=("site",), **kw)]


def test_a_directory_is_searched_recursively_and_a_glob_keeps_its_fixed_root(tmp_path: Path) -> None:
    _write(tmp_path / "logs" / "b" / "2.parquet", 5)
    _write(tmp_path / "logs" / "a.parquet", 5)
    (tmp_path / "logs" / "notes.txt").write_text("not data")
    files, root = parquet_files(tmp_path / "logs")
    assert [f.relative_to(root).as_posix() for f in files] == ["a.parquet", "b/2.parquet"]
    files, root = parquet_files(str(tmp_path / "logs" / "**" / "*.parquet"))
    assert root == tmp_path / "logs" and len(files) == 2
    assert is_dataset(tmp_path / "logs") and is_dataset("x/*.parquet") and not is_dataset(files[0])


def test_missing_and_non_parquet_datasets_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        parquet_files(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="matches no Parquet files"):
        parquet_files(tmp_path / "empty")
    (tmp_path / "x.csv").write_text("y,p\n1,0.5\n")
    _write(tmp_path / "x.parquet", 3)
    with pytest.raises(InputError, match="x.csv', which is not a Parquet file"):
        parquet_files(str(tmp_path / "x.*"))


def test_partitions_are_whole_row_groups_of_one_file(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", 45)  # row groups of 10, 10, 10, 10, 5
    _write(tmp_path / "b.parquet", 12)
    files, root = parquet_files(tmp_path)
    default = plan_partitions(files, root)  # as many as files, of about equal rows (29)
    assert [(p.name, p.n_rows) for p in default] == [("a.parquet", 20), ("a.parquet", 25),
                                                     ("b.parquet", 12)]
    parts = plan_partitions(files, root, n_partitions=6)
    assert sum(p.n_rows for p in parts) == 57 and len(parts) > 2
    for p in parts:  # contiguous row groups, first_row where the groups start
        assert list(p.row_groups) == list(range(p.row_groups[0], p.row_groups[-1] + 1))
        assert p.first_row == 10 * p.row_groups[0]


def test_a_corrupt_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="bad.parquet' could not be read as Parquet"):
        plan_partitions([bad], tmp_path)


def test_rows_and_keys_do_not_depend_on_the_partitioning(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", 45)
    files, root = parquet_files(tmp_path)
    whole = _read_all(plan_partitions(files, root))
    cut = _read_all(plan_partitions(files, root, n_partitions=5), batch_rows=7)
    for field in ("labels", "scores", "keys"):
        np.testing.assert_array_equal(np.concatenate([getattr(b, field) for b in whole]),
                                      np.concatenate([getattr(b, field) for b in cut]))
    np.testing.assert_array_equal(whole[0].keys, row_keys("a.parquet", 0, 45))
    assert len(np.unique(whole[0].keys)) == 45
    assert not np.array_equal(row_keys("a.parquet", 0, 5), row_keys("b.parquet", 0, 5))


def test_patient_keys_are_the_same_for_a_patient_in_any_file(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", 6)
    _write(tmp_path / "b.parquet", 6)  # the same patients 0..2 again
    files, root = parquet_files(tmp_path)
    a, b = _read_all(plan_partitions(files, root), key_column="pid")
    np.testing.assert_array_equal(a.keys, b.keys)
    assert a.keys[0] == a.keys[1] != a.keys[2]


def test_missing_demographics_are_spelt_missing_and_whole_floats_as_integers(tmp_path: Path) -> None:
    table = pa.table({"y": [0, 1, 0, 1], "p": [0.1, 0.2, 0.3, 0.4],
                      "site": ["a", None, "  ", "a"], "age": [40.0, float("nan"), 41.5, None]})
    pq.write_table(table, tmp_path / "d.parquet")
    files, root = parquet_files(tmp_path)
    (batch,) = [b for part in plan_partitions(files, root)
                for b in read_batches(part, label="y", score="p", sensitive=("site", "age"))]
    site = [batch.names[0][c] for c in batch.codes[:, 0]]
    age = [batch.names[1][c] for c in batch.codes[:, 1]]
    assert site == ["a", MISSING, MISSING, "a"]
    assert age == ["40", MISSING, "41.5", MISSING]
    assert batch.numeric == (False, True)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("y", [0, 2, 1], "label column 'y' in predictions file '.*d.parquet' must be binary .*found 2 at data row 2"),
        ("y", [0, None, 1], "label column 'y' has missing values"),
        ("y", ["0", "1", "0"], "must be binary \\(0/1\\); found type string"),
        ("p", [0.5, 1.5, 0.2], "must hold probabilities in \\[0, 1\\]; found 1.5 at data row 2"),
        ("p", [0.5, float("nan"), 0.2], "found nan at data row 2"),
        ("p", ["a", "b", "c"], "score column 'p' .* must be numeric"),
    ],
)
def test_bad_values_name_the_file_the_column_and_the_row(tmp_path: Path, column: str, values: list,
                                                         message: str) -> None:
    data = {"y": [0, 1, 0], "p": [0.1, 0.2, 0.3], "site": ["a", "b", "a"], column: values}
    pq.write_table(pa.table(data), tmp_path / "d.parquet")
    files, root = parquet_files(tmp_path)
    with pytest.raises(InputError, match=message):
        _read_all(plan_partitions(files, root))


def test_a_missing_column_lists_the_columns_there_are(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", 4)
    files, root = parquet_files(tmp_path)
    with pytest.raises(InputError, match="column 'race' \\(given by `sensitive`\\) not found .*"
                                         "the columns are: y, p, site, pid"):
        list(read_batches(plan_partitions(files, root)[0], label="y", score="p", sensitive=("race",)))
