"""The JSON Schemas of an audit result and of a comparison, shipped inside the package.

``audit-result.schema.json`` (draft 2020-12) describes what ``fairaudit audit --format json``
writes; ``fairaudit schema`` prints it. ``compare-result.schema.json`` describes
``compare.json`` of ``fairaudit compare`` (``fairaudit schema --compare``; :func:`validate_compare`). :func:`validate_result` checks a parsed result against it
and turns the first violation into one :class:`~fairaudit.errors.InputError` line that names the
JSON path and the offending value.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from fairaudit.errors import InputError

SCHEMA_FILE = "audit-result.schema.json"
COMPARE_SCHEMA_FILE = "compare-result.schema.json"


def schema_text(name: str = SCHEMA_FILE) -> str:
    """A schema file's text, exactly as shipped (default: the audit result's)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _compare_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_text(COMPARE_SCHEMA_FILE)))


def validate_compare(data: Any, source: str = "comparison") -> None:
    """Check a parsed ``compare.json`` against the shipped compare schema (one-line InputError)."""
    from jsonschema.exceptions import best_match

    error = best_match(_compare_validator().iter_errors(data))
    if error is not None:
        raise InputError(f"{source} is not a valid fairaudit comparison: {error.json_path} "
                         f"{_explain(error)} (see `fairaudit schema --compare`).")


@functools.cache
def _schema() -> dict[str, Any]:
    return json.loads(schema_text())


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_schema())


def load_schema() -> dict[str, Any]:
    """The schema as a (fresh) dictionary."""
    return json.loads(json.dumps(_schema()))


def validate_result(data: Any, source: str = "result") -> None:
    """Check a parsed audit result against the shipped schema.

    Parameters
    ----------
    data : Any
        The parsed JSON (``json.loads`` of a saved result).
    source : str
        How the input is named in the error message (e.g. the file name).

    Raises
    ------
    InputError
        On the first violation (the most relevant one, as ``jsonschema.exceptions.best_match``
        ranks them): the JSON path, the value found and what is allowed, on one line.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    raise InputError(
        f"{source} is not a valid fairaudit result: {error.json_path} {_explain(error)} "
        f"(see `fairaudit schema`)."
    )


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(error: Any) -> str:
    """What was found and what the schema allows, for the keywords the schema uses."""
    found = f"is {_short(error.instance)}"
    expected = error.validator_value
    explanations = {
        "minimum": f"must be at least {expected}",
        "maximum": f"must be at most {expected}",
        "exclusiveMinimum": f"must be greater than {expected}",
        "exclusiveMaximum": f"must be less than {expected}",
        "minItems": f"must have at least {expected} items",
        "maxItems": f"must have at most {expected} items",
        "pattern": f"must match {expected}",
        "const": f"must be {_short(expected)}",
    }
    if error.validator == "required":
        missing = [k for k in expected if isinstance(error.instance, dict) and k not in error.instance]
        return f"lacks the required key {', '.join(repr(k) for k in missing) or '?'}"
    if error.validator == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        return f"{found}; expected {' or '.join(kinds)}"
    if error.validator == "enum":
        return f"{found}; expected one of {', '.join(_short(v) for v in expected)}"
    if error.validator in explanations:
        return f"{found}; it {explanations[error.validator]}"
    return f"{found}; {' '.join(error.message.split())[:160]}"
