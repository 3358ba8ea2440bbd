"""Reading policy TOML: locating tables and keys for one-line messages, and typed field readers.

Every rule table of a policy file (``[[criterion]]``, ``[[change]]``, ``[[stress]]``, ...) is
read with these, so every message names the file, the line, the table and the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fairaudit.errors import ConfigError

ALL = "*"
"""``attributes = "*"``: every attribute (the default)."""

_C = TypeVar("_C", bound=str)


@dataclass(frozen=True)
class Bound:
    """``value <= max`` and/or ``value >= min``; at least one is set."""

    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


# -- locating keys in the source, for messages that name the line ------------------------------

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-]+)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


class Locator:
    """Maps (table, occurrence, key) to the line it is written on (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, int, str | None], int] = {}
        table, index = "", 0
        counts: dict[str, int] = {}
        for lineno, line in enumerate(text.splitlines(), start=1):
            header = _HEADER_RE.match(line)
            if header:
                table = header.group(2)
                if header.group(1) == "[[":
                    index = counts.get(table, 0)
                    counts[table] = index + 1
                else:
                    index = 0
                self.lines.setdefault((table, index, None), lineno)
                continue
            key = _KEY_RE.match(line)
            if key:
                self.lines.setdefault((table, index, key.group(1)), lineno)

    def line(self, table: str, index: int, key: str | None) -> int | None:
        return self.lines.get((table, index, key)) or self.lines.get((table, index, None))


class PolicyReader:
    """Validates one table of the policy, raising messages that name file, line and key."""

    def __init__(self, path: str, locator: Locator) -> None:
        self.path = path
        self.locator = locator

    def where(self, table: str, index: int, key: str | None = None) -> str:
        """``file:line`` of a table (or of one of its keys), or the file alone if not found."""
        line = self.locator.line(table, index, key)
        return f"{self.path}:{line}" if line else self.path

    def fail(self, table: str, index: int, key: str | None, message: str, array: bool) -> ConfigError:
        where = self.where(table, index, key)
        label = f"[[{table}]] #{index + 1}" if array else f"[{table}]"
        if not table:
            label = "top level"
        key_part = f" key '{key}'" if key else ""
        return ConfigError(f"{where}: policy {label}{key_part}: {message}")


def show_value(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut short: a hostile policy must not make a message of kilobytes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def table_fields(
    reader: PolicyReader, table: str, index: int, data: Any, allowed: tuple[str, ...], array: bool
) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise reader.fail(table, index, None, f"must be a table, got {type_name(data)}", array)
    for key in data:
        if key not in allowed:
            raise reader.fail(
                table, index, key, f"unknown key; allowed keys are {', '.join(allowed)}", array
            )
    return data


def number_field(reader: PolicyReader, table: str, index: int, data: Mapping[str, Any], key: str, array: bool) -> float | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise reader.fail(table, index, key, f"must be a finite number, got {show_value(value)}", array)
    return float(value)


def bound_field(reader: PolicyReader, table: str, index: int, data: Mapping[str, Any], array: bool) -> Bound:
    low = number_field(reader, table, index, data, "min", array)
    high = number_field(reader, table, index, data, "max", array)
    if low is None and high is None:
        raise reader.fail(table, index, None, "needs 'max' and/or 'min' (the bound to check)", array)
    if low is not None and high is not None and low > high:
        raise reader.fail(table, index, "min", f"min {low:g} is greater than max {high:g}", array)
    return Bound(min=low, max=high)


def choice_field(
    reader: PolicyReader, table: str, index: int, data: Mapping[str, Any], key: str,
    choices: tuple[_C, ...], default: _C, array: bool,
) -> _C:
    value = data.get(key, default)
    if value not in choices:
        raise reader.fail(
            table, index, key, f"must be one of {', '.join(repr(c) for c in choices)}, got {show_value(value)}", array
        )
    return value


def attributes_field(reader: PolicyReader, table: str, index: int, data: Mapping[str, Any], array: bool) -> tuple[str, ...]:
    value = data.get("attributes", ALL)
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise reader.fail(
            table, index, "attributes",
            f"must be \"*\" (every attribute and intersection), an attribute name, or a non-empty "
            f"list of names such as [\"race\", \"sex & race\"]; got {show_value(value)}",
            array,
        )
    if ALL in value:
        return (ALL,)
    return tuple(dict.fromkeys(value))


def rule_id_field(reader: PolicyReader, table: str, index: int, data: Mapping[str, Any], default: str) -> str:
    value = data.get("id", default)
    if not isinstance(value, str) or not value.strip():
        raise reader.fail(table, index, "id", f"must be a non-empty string, got {show_value(value)}", True)
    return value


def array_field(reader: PolicyReader, doc: Mapping[str, Any], table: str) -> list[Any]:
    value = doc.get(table, [])
    if not isinstance(value, list):
        raise reader.fail(
            table, 0, None, f"must be written as an array of tables, [[{table}]], one per rule", False
        )
    return value
