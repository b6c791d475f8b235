"""Strict readers for clinician-edited TOML tables.

A typo in a data file ("stop_day = 7") must fail loudly at load time, naming the row and the
field, instead of silently dropping a hold. Each loader wraps these helpers and turns
`FieldError` into its own error type with the file name in front.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from datetime import time
from pathlib import Path
from typing import Any, TypeVar


class FieldError(ValueError):
    """One bad field in one row; `where` names the row (e.g. "drug 'clopidogrel'")."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        super().__init__(f"{where}: field '{field}' {problem}")
        self.where = where
        self.field = field


def check_fields(
    row: Mapping[str, Any], where: str, required: frozenset[str], optional: frozenset[str]
) -> None:
    """Reject unknown fields and report the first missing required one."""
    for name in row:
        if name not in required and name not in optional:
            known = ", ".join(sorted(required | optional))
            raise FieldError(where, name, f"is not a known field (known: {known})")
    for name in sorted(required):
        if name not in row:
            raise FieldError(where, name, "is required")


def text(row: Mapping[str, Any], where: str, field: str, default: str | None = None) -> str:
    """A string field; empty strings are allowed only when a default is given."""
    value = row.get(field, default)
    if not isinstance(value, str):
        raise FieldError(where, field, f"must be text, got {value!r}")
    if default is None and not value.strip():
        raise FieldError(where, field, "must not be empty")
    return value


def count(row: Mapping[str, Any], where: str, field: str) -> int | None:
    """An optional non-negative whole number (booleans are not numbers here)."""
    if field not in row:
        return None
    value = row[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(where, field, f"must be a whole number, got {value!r}")
    if value < 0:
        raise FieldError(where, field, f"must not be negative, got {value}")
    return value


def required_count(row: Mapping[str, Any], where: str, field: str) -> int:
    """A required non-negative whole number."""
    value = count(row, where, field)
    if value is None:
        raise FieldError(where, field, "is required")
    return value


def signed_int(row: Mapping[str, Any], where: str, field: str) -> int | None:
    """An optional whole number that may be negative (day offsets)."""
    if field not in row:
        return None
    value = row[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(where, field, f"must be a whole number, got {value!r}")
    return value


def flag(row: Mapping[str, Any], where: str, field: str) -> bool:
    """An optional true/false field, false when absent."""
    value = row.get(field, False)
    if not isinstance(value, bool):
        raise FieldError(where, field, f"must be true or false, got {value!r}")
    return value


def wall_time(row: Mapping[str, Any], where: str, field: str) -> time | None:
    """An optional "HH:MM" wall-clock time (strings are friendlier to edit than TOML times)."""
    if field not in row:
        return None
    value = row[field]
    if not isinstance(value, str):
        raise FieldError(where, field, f'must be "HH:MM", got {value!r}')
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise FieldError(where, field, f'must be "HH:MM", got {value!r}')
    hour, minute = int(parts[0]), int(parts[1])
    if hour > 23 or minute > 59:
        raise FieldError(where, field, f"is not a valid time of day: {value!r}")
    return time(hour, minute)


def table(doc: Mapping[str, Any], where: str, field: str) -> Mapping[str, Any]:
    """A required sub-table."""
    value = doc.get(field)
    if not isinstance(value, Mapping):
        raise FieldError(where, field, "must be a table")
    return value


def rows(doc: Mapping[str, Any], where: str, field: str) -> list[Mapping[str, Any]]:
    """A required, non-empty array of tables ([[field]])."""
    value = doc.get(field)
    if not isinstance(value, list) or not value:
        raise FieldError(where, field, f"must be a non-empty list of [[{field}]] tables")
    for item in value:
        if not isinstance(item, Mapping):
            raise FieldError(where, field, f"must hold only [[{field}]] tables")
    return value


T = TypeVar("T")


def load_file(source: Path, parse: Callable[[Mapping[str, Any]], T], error: type[ValueError]) -> T:
    """Read a TOML data file and parse it; any problem becomes ``error`` naming the file."""
    try:
        with source.open("rb") as fh:
            doc = tomllib.load(fh)
        return parse(doc)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source.name}: not valid TOML: {exc}") from exc
    except FieldError as exc:
        raise error(f"{source.name}: {exc}") from exc
