"""Writing output files safely, and making what is written reproducible (layer 0).

Every command that writes a file goes through :func:`write_files` (or :func:`write_file`):

* the paths are checked first, and can be checked before any work with :func:`check_outputs`:
  the parent is a writable directory (missing folders are created in the nearest existing
  one, and removed again if the write fails); an existing target is a regular file (never a
  device, FIFO, socket or directory); no output is an input of the same run; no two outputs are
  the same file;
* a symbolic link is written through: its target gets the new content, the link stays;
* all files of one command are written to temporary files beside their targets first and
  renamed into place only when every one was written, so a failure leaves none behind;
* every file gets the same mode, ``0666`` less the umask (as ``open()`` would give it).

It imports only the standard library and :mod:`fairaudit.errors`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def file_mode() -> int:
    """The mode a new file gets: ``0o666`` less the process umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


class _Resolved(list):
    """Input files already resolved by :func:`_input_files` (checked once for many outputs)."""


def _input_files(inputs: Iterable[tuple[str, str | Path | None]]) -> _Resolved:
    """Resolved paths of the input files; a directory input stands for the files directly in it."""
    out = _Resolved()
    for what, path in inputs:
        if path is None:
            continue
        real = Path(os.path.realpath(path))
        if real.is_dir():
            try:
                out.extend((what, Path(os.path.realpath(c))) for c in real.iterdir() if c.is_file())
            except OSError:
                continue
        elif real.exists():
            out.append((what, real))
    return out


_SPECIAL = ("/dev/", "/proc/", "/sys/")


def _hops(path: Path, limit: int = 40) -> list[Path]:
    """``path`` and every link it goes through, as absolute paths (``/dev/stdout`` -> ``/proc/...``)."""
    hops = [Path(os.path.abspath(path))]
    while hops[-1].is_symlink() and len(hops) < limit:
        hops.append(Path(os.path.abspath(hops[-1].parent / os.readlink(hops[-1]))))
    return hops


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a == b or os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: str | Path, option: str = "output", inputs: Iterable[tuple[str, str | Path | None]] = ()
) -> Path:
    """Check that ``path`` can be written; return the file that will be written (links resolved).

    Parameters
    ----------
    path : str or Path
        The output path as the user gave it.
    option : str
        How the path is named in messages (e.g. ``"--html"``).
    inputs : iterable of (str, path)
        The inputs of the same run, named (e.g. ``("--predictions", path)``); none may be
        overwritten.

    Raises
    ------
    ConfigError
        One line naming the option, the path and the problem.
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    via = f" (a link to {real})" if real != given.absolute() and given.is_symlink() else ""
    where = f"{option} '{given}'{via}"
    if any(str(hop).startswith(_SPECIAL) for hop in _hops(given)):
        stdout = " (leave out --output to write to standard output)" if option in ("-o", "--output") else ""
        raise ConfigError(f"{where} is a device or process file, not a regular file{stdout}.")
    try:
        st = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be used: {exc.strerror}.") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"{where} is a directory; give a file path.")
        if not stat.S_ISREG(st.st_mode):
            stdout = " (leave out --output to write to standard output)" if option in ("-o", "--output") else ""
            raise ConfigError(
                f"{where} is {_kind(st.st_mode)}, not a regular file; fairaudit writes only "
                f"regular files{stdout}."
            )
        if not os.access(real, os.W_OK):
            raise ConfigError(f"{where} is read-only; remove it or choose another path.")
        for what, inp in _input_files(inputs) if not isinstance(inputs, _Resolved) else inputs:
            if _same_file(real, inp):
                raise ConfigError(
                    f"{where} is the input {what} of this run; writing it would destroy the "
                    "input. Choose another path."
                )
    _check_directory(real.parent, where)
    return real


def _check_directory(parent: Path, where: str) -> None:
    """``parent`` is a writable directory, or can be made in the nearest one that exists."""
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{where}: {existing} is not a directory.")
    try:  # the only reliable test (os.access ignores read-only mounts and lies for root)
        fd, probe = tempfile.mkstemp(prefix=".fairaudit-probe.", dir=existing)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot write in the directory {existing} ({exc.strerror}).") from None
    os.close(fd)
    os.unlink(probe)


def check_outputs(
    outputs: Iterable[tuple[str, str | Path | None]],
    inputs: Iterable[tuple[str, str | Path | None]] = (),
) -> dict[str, Path]:
    """Check several outputs of one run (see :func:`check_output`); ``None`` paths are skipped.

    Returns
    -------
    dict
        Option name to the resolved file that will be written.

    Raises
    ------
    ConfigError
        An output cannot be written, is an input, or two outputs are the same file.
    """
    resolved = _input_files(inputs)
    checked: dict[str, Path] = {}
    for option, path in outputs:
        if path is None:
            continue
        real = check_output(path, option, resolved)
        for other, seen in checked.items():
            if real == seen:
                raise ConfigError(f"{option} and {other} are the same file '{path}'; give each its own path.")
        checked[option] = real
    return checked


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """Check that ``path`` is a writable directory, or can be created in the nearest one that exists.

    Nothing is created here; :func:`write_files` creates the directory when it writes into it.
    """
    p = Path(path)
    where = f"{option} '{p}'"
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{where} is a file; give a folder.")
        _check_directory(p, where)
    else:
        _check_directory(Path(os.path.realpath(p)).parent, where)
    return p


def write_files(
    files: Sequence[tuple[str, str | Path, str | bytes]],
    inputs: Iterable[tuple[str, str | Path | None]] = (),
) -> list[Path]:
    """Write several files all or nothing.

    Parameters
    ----------
    files : sequence of (option, path, content)
        ``option`` names the file in messages; text is written as UTF-8.
    inputs : iterable of (str, path)
        Inputs of the same run, which no output may overwrite.

    Returns
    -------
    list of Path
        The files written (symbolic links resolved).
    """
    targets = check_outputs(((opt, path) for opt, path, _ in files), inputs)
    mode = file_mode()
    temps: list[tuple[str, Path]] = []
    made: list[Path] = []
    real = Path()
    try:
        for real in targets.values():
            made.extend(_make_parents(real.parent))
        for option, _, content in files:
            real = targets[option]
            fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
            temps.append((tmp, real))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content.encode("utf-8") if isinstance(content, str) else content)
        for tmp, real in temps:
            os.replace(tmp, real)
        made.clear()  # written: the new folders stay
    except OSError as exc:
        raise ConfigError(f"cannot write {real}: {exc.strerror or exc}.") from None
    finally:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        for folder in reversed(made):  # a failed write leaves no new folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()
    return [targets[option] for option, _, _ in files]


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir()
    return list(reversed(missing))


def write_file(
    path: str | Path,
    content: str | bytes,
    option: str = "output",
    inputs: Iterable[tuple[str, str | Path | None]] = (),
) -> Path:
    """Write one file safely (see :func:`write_files`); returns the file written."""
    return write_files([(option, path, content)], inputs)[0]


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values: dataclasses and mappings become dicts (string keys), sequences lists,
    numpy scalars Python numbers, and NaN or infinite floats ``None``."""
    if type(obj) in _PLAIN:  # the common leaves first: same result, no attribute lookups
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return to_jsonable(obj.item())
    return obj


_PLAIN = frozenset({str, int, bool, type(None)})
"""Types :func:`to_jsonable` returns unchanged (exact types: subclasses take the long way)."""


def json_text(obj: Any, indent: int | None = 2) -> str:
    """The one JSON spelling of fairaudit's files: :func:`to_jsonable`, strict (no NaN), UTF-8
    characters kept, a final newline.

    With an integer ``indent`` the text is written by :class:`_IndentedJSON` in one walk, the
    bytes ``json.dumps(to_jsonable(obj), indent=indent, ensure_ascii=False)`` gives (the
    standard library's indented encoder is pure Python: a 1 MB audit took a third of a
    second); anything that walk does not know takes that standard path.
    """
    if isinstance(indent, int) and not isinstance(indent, bool):
        try:
            return _IndentedJSON(indent).text(obj)
        except _NotPlain:
            pass
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False) + "\n"


class _NotPlain(Exception):
    """A value :class:`_IndentedJSON` leaves to the standard encoder (and its errors)."""


_NUMBER_TEXT_FIX = {"None": "null", "nan": "null", "inf": "null", "-inf": "null"}
_NUMBERS = frozenset({float, int, type(None)})


class _IndentedJSON:
    """``json.dumps(to_jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False)``,
    converting and writing in one walk; sequences of plain numbers are spelt in bulk."""

    def __init__(self, indent: int) -> None:
        self.step = " " * indent
        self.string = json.encoder.encode_basestring  # ensure_ascii=False, C-accelerated
        self.fields: dict[type, tuple[str, ...]] = {}

    def text(self, obj: Any) -> str:
        out: list[str] = []
        self.value(obj, out, "\n")
        out.append("\n")
        return "".join(out)

    def value(self, obj: Any, out: list[str], nl: str) -> None:
        """Append the text of ``obj``; ``nl`` is a newline and the indent of its own level."""
        t = type(obj)
        if t is str:
            out.append(self.string(obj))
        elif t is float:
            out.append(float.__repr__(obj) if math.isfinite(obj) else "null")
        elif t is int:
            out.append(int.__repr__(obj))
        elif obj is None:
            out.append("null")
        elif t is bool:
            out.append("true" if obj else "false")
        elif t is list or t is tuple:
            self.sequence(obj, out, nl)
        elif t is dict and all(type(k) is str for k in obj):
            self.mapping(obj.items(), out, nl)
        else:
            self.other(obj, out, nl)

    def other(self, obj: Any, out: list[str], nl: str) -> None:
        """The rest of :func:`to_jsonable`'s cases, in its order."""
        names = self.fields.get(type(obj))
        if names is None and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            names = self.fields[type(obj)] = tuple(f.name for f in dataclasses.fields(obj))
        if names is not None:
            self.mapping([(n, getattr(obj, n)) for n in names], out, nl)
        elif isinstance(obj, Mapping):
            self.mapping({str(k): v for k, v in obj.items()}.items(), out, nl)
        elif isinstance(obj, list | tuple):
            self.sequence(obj, out, nl)
        elif isinstance(obj, float):
            out.append(float.__repr__(obj) if math.isfinite(obj) else "null")
        elif hasattr(obj, "item") and callable(obj.item):
            self.value(obj.item(), out, nl)
        elif isinstance(obj, str):
            out.append(self.string(obj))
        elif isinstance(obj, int):
            out.append("true" if obj is True else "false" if obj is False else int.__repr__(obj))
        else:
            raise _NotPlain

    def sequence(self, seq: Sequence[Any], out: list[str], nl: str) -> None:
        if not seq:
            out.append("[]")
            return
        inner = nl + self.step
        if _NUMBERS.issuperset(map(type, seq)):  # exact types: repr is json's spelling
            texts = list(map(repr, seq))
            if float in map(type, seq) or None in seq:
                texts = [_NUMBER_TEXT_FIX.get(x, x) for x in texts]
            out.append("[" + inner + ("," + inner).join(texts) + nl + "]")
            return
        out.append("[" + inner)
        for i, v in enumerate(seq):
            if i:
                out.append("," + inner)
            self.value(v, out, inner)
        out.append(nl + "]")

    def mapping(self, items: Iterable[tuple[str, Any]], out: list[str], nl: str) -> None:
        inner = nl + self.step
        first = True
        for k, v in items:
            out.append(("{" if first else ",") + inner + self.string(k) + ": ")
            first = False
            self.value(v, out, inner)
        out.append("{}" if first else nl + "}")


def timestamp() -> str:
    """Now in UTC (ISO 8601, seconds), or ``SOURCE_DATE_EPOCH`` when it is set.

    ``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds convention) makes files
    that record their creation time byte-identical from run to run.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    try:
        seconds = int(raw.strip())
        return _dt.datetime.fromtimestamp(seconds, _dt.UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01; got {raw!r}."
        ) from None
