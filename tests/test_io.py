"""fairaudit._io: checked paths, writes through links, all or nothing, one file mode."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from fairaudit import _io
from fairaudit.errors import ConfigError


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_new_files_get_0666_less_the_umask(tmp_path: Path, umask_027) -> None:
    written = _io.write_files([("a", tmp_path / "a.json", "{}"), ("b", tmp_path / "b.bin", b"\x00")])
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert (tmp_path / "a.json").read_text() == "{}"


def test_a_symlink_is_written_through_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert _io.write_file(link, "new") == target.resolve()
    assert link.is_symlink()
    assert target.read_text() == "new"


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "made.json")
    _io.write_file(link, "x")
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "x"


def test_a_fifo_is_refused_and_left_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"--output '.*pipe' is a FIFO \(named pipe\), not a regular file"):
        _io.write_file(fifo, "x", "--output")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_character_device_is_refused_and_left_alone(tmp_path: Path) -> None:
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    link = tmp_path / "link"
    link.symlink_to(dev)
    for path in (dev, link):
        with pytest.raises(ConfigError, match="is a character device"):
            _io.write_file(path, "x", "-o")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        _io.check_output(tmp_path, "--html")


def test_missing_folders_are_made_and_removed_again_on_failure(tmp_path: Path, monkeypatch) -> None:
    assert _io.write_file(tmp_path / "a" / "b" / "x.json", "x").read_text() == "x"
    monkeypatch.setattr(_io.os, "fchmod", lambda fd, mode: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(ConfigError, match="I/O error"):
        _io.write_file(tmp_path / "c" / "d" / "y.json", "y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_unwritable_parent_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for path in (tmp_path / "file" / "x.json", tmp_path / "file" / "sub" / "x.json"):
        with pytest.raises(ConfigError, match="file is not a directory"):
            _io.check_output(path, "--output")
    for special in ("/proc/fairaudit-result.json", "/dev/stdout", "/dev/fd/1"):
        with pytest.raises(ConfigError, match="is a device or process file"):
            _io.check_output(special, "--output")


def read_only(folder: Path, monkeypatch) -> None:
    """Make ``folder`` unwritable: by its mode, or for root (who may write anyway) by refusing
    to create files in it, as a read-only mount does."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = _io.tempfile.mkstemp

        def refuse(*args, **kwargs):
            if Path(kwargs.get("dir", "")) == folder:
                raise PermissionError(13, "Permission denied")
            return real(*args, **kwargs)

        monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)


def test_a_read_only_directory_is_refused(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    read_only(folder, monkeypatch)
    with pytest.raises(ConfigError, match=r"-o '.*r.json': cannot write in the directory .*ro \(Permission denied\)"):
        _io.check_output(folder / "r.json", "-o")
    folder.chmod(0o755)


def test_an_input_is_never_overwritten(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("y\n1\n")
    link = tmp_path / "alias.csv"
    link.symlink_to(data)
    for path in (data, link, tmp_path / "." / "data.csv"):
        with pytest.raises(ConfigError, match="is the input --predictions of this run"):
            _io.write_file(path, "x", "-o", inputs=[("--predictions", data)])
    assert data.read_text() == "y\n1\n"
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{}")
    with pytest.raises(ConfigError, match="input --model"):
        _io.check_output(model / "model.json", "--html", [("--model", model)])


def test_two_outputs_may_not_be_the_same_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--junit and --html are the same file"):
        _io.check_outputs([("--html", tmp_path / "r"), ("--junit", tmp_path / "r")])


def test_a_failure_leaves_no_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    calls = {"n": 0}
    real = _io.tempfile.mkstemp

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(_io.tempfile, "mkstemp", failing)
    monkeypatch.setattr(_io, "_check_directory", lambda parent, where: None)
    with pytest.raises(ConfigError, match="No space left on device"):
        _io.write_files([("a", tmp_path / "a.html", "A"), ("b", tmp_path / "b.json", "B")])
    assert list(tmp_path.iterdir()) == []


def test_to_jsonable_cleans_numpy_and_non_finite_values() -> None:
    @dataclasses.dataclass
    class D:
        x: float
        y: tuple

    out = _io.to_jsonable({1: D(math.nan, (np.float64(0.5), np.int64(3), math.inf)), "z": [np.bool_(True)]})
    assert out == {"1": {"x": None, "y": [0.5, 3, None]}, "z": [True]}
    assert type(out["1"]["y"][1]) is int


def test_timestamp_follows_source_date_epoch(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert _io.timestamp() == "2023-11-14T22:13:20+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH must be a whole number"):
        _io.timestamp()
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert _io.timestamp().endswith("+00:00")


def _reference_json(obj: object, indent: int | None = 2) -> str:
    """The standard library's spelling that :func:`_io.json_text` must reproduce byte for byte."""
    return json.dumps(_io.to_jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False) + "\n"


class _Colour(enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


class _Tag(str):
    pass


def _random_value(rng: np.random.Generator, depth: int = 0) -> object:
    """A random nest of every kind of value the audit results hold (and some they do not)."""
    leaves = [
        lambda: float(rng.normal()), lambda: float(rng.choice([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1e300])),
        lambda: int(rng.integers(-10**6, 10**6)), lambda: None, lambda: bool(rng.integers(2)),
        lambda: str(rng.choice(["", "plain", "é ü ✓", 'quote " back \\ slash', "tab\tnew\nline\x01", "\u2028"])),
        lambda: np.float64(rng.normal()), lambda: np.float32(0.1), lambda: np.int64(rng.integers(9)),
        lambda: np.bool_(rng.integers(2)), lambda: np.float64(math.nan), _Level.HIGH, lambda: _Tag("tag"),
        lambda: 2**70,
    ]
    if depth > 3 or rng.random() < 0.4:
        leaf = leaves[int(rng.integers(len(leaves)))]
        return leaf() if callable(leaf) else leaf
    kind = int(rng.integers(6))
    n = int(rng.integers(0, 6))
    if kind == 0:  # a numeric sequence (the curves): floats, ints and None
        return tuple(rng.choice([float(rng.random()), None, 3, math.nan]) for _ in range(n))
    if kind == 1:
        return [_random_value(rng, depth + 1) for _ in range(n)]
    if kind == 2:
        return tuple(_random_value(rng, depth + 1) for _ in range(n))
    if kind == 3:  # keys that to_jsonable spells with str()
        keys = ["a", 1, 1.5, True, None, "1", "ü"]
        return {keys[int(rng.integers(len(keys)))]: _random_value(rng, depth + 1) for _ in range(n)}
    if kind == 4:
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(n)}
    return _Pair(_random_value(rng, depth + 1), _random_value(rng, depth + 1))


@dataclasses.dataclass(frozen=True)
class _Pair:
    first: object
    second: object


@pytest.mark.parametrize("indent", [2, 0, 4])
def test_json_text_spells_random_values_as_the_standard_encoder(indent: int) -> None:
    rng = np.random.default_rng(indent)
    for _ in range(300):
        value = _random_value(rng)
        assert _io.json_text(value, indent=indent) == _reference_json(value, indent)


def test_json_text_writes_indented_json_without_the_pure_python_encoder(monkeypatch) -> None:
    value = {"curves": [(0.1, None, 2, math.nan)] * 3, "d": _Pair(np.float64(0.5), {1: "x"})}
    expected = _reference_json(value)
    monkeypatch.setattr(_io.json, "dumps", None)  # the fast walk must not fall back
    assert _io.json_text(value) == expected


def test_json_text_leaves_unknown_values_and_no_indent_to_the_standard_encoder() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        _io.json_text({"a": [1, Path("x")]})
    with pytest.raises(TypeError, match="not JSON serializable"):
        _io.json_text(_Colour.RED)
    with pytest.raises(ValueError):
        _io.json_text({"a": np.zeros(2)})  # an array is not a scalar, as before
    value = {"a": (1.5, None), "b": _Pair(1, "é")}
    assert _io.json_text(value, indent=None) == _reference_json(value, None)
