"""The base of every input and answer model, and the 422 shape of a failed validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pydantic
from pydantic import BaseModel, ConfigDict, model_validator

from pathway.schemas.fields import Context, fail


class InvalidInput(Exception):
    """Bad input: ``errors`` maps every bad field (``holds[0].drug``) to what to fix."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# The deepest nesting any input may have: the deepest real body (a hold in an episode) is 3 levels.
MAX_DEPTH = 32


def _escaped(key: str) -> str:
    """A key as it may be shown back: unprintable characters written as escapes."""
    return "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else
                   ch.encode("unicode_escape", "backslashreplace").decode("ascii") for ch in key)


def _string_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\u0000); remove it"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "contains an unpaired surrogate (like \\ud800), which is not text; send valid UTF-8"
    return None


def unsafe_values(data: Any) -> dict[str, str]:
    """What no field of any input may hold, by field name (``holds[0].drug``): a NUL character or an
    unpaired surrogate in a string or a key (the database refuses both), a number that is not finite
    (``1e309`` is read as infinity, ``NaN``), or nesting deeper than ``MAX_DEPTH``. Walked without
    recursion, so no input is too deep to be named."""
    errors: dict[str, str] = {}
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        name = field_name(loc)
        if len(loc) > MAX_DEPTH:  # named by the field it starts from
            errors.setdefault(field_name(loc[:1]), f"nested too deeply (more than {MAX_DEPTH} levels)")
            continue
        if isinstance(value, str):
            problem = _string_problem(value)
            if problem:
                errors.setdefault(name, problem)
        elif isinstance(value, float) and not math.isfinite(value):
            errors.setdefault(name, "must be a finite number (1e309 is beyond range; NaN and Infinity are not numbers)")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                key_text = str(key)
                problem = _string_problem(key_text)
                if problem:
                    errors.setdefault(field_name((*loc, _escaped(key_text))), f"this name {problem}")
                    continue
                stack.append(((*loc, key_text), item))
        elif isinstance(value, list | tuple):
            stack.extend(((*loc, i), item) for i, item in enumerate(value))
    return dict(sorted(errors.items()))


class InputModel(BaseModel):
    """A request body or a form. A field that is absent is read as ``None`` by its own type,
    so each type says itself whether it is required and what to write (a form sends "" for an
    empty box, a JSON body may leave the key out: both mean the same). Unknown keys are ignored
    unless the model forbids them."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    # A partial model (a change of some fields) leaves absent fields absent: see ``model_fields_set``.
    partial: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _absent_is_none(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise fail(f"must be an object with {', '.join(cls.model_fields)}")
        if cls.partial:
            return data
        return {**{name: None for name in cls.model_fields}, **data}

    @classmethod
    def read(cls, data: Mapping[str, Any] | Self, context: Context | None = None) -> Self:
        """Validate ``data``; raise ``InvalidInput`` naming every bad field."""
        if isinstance(data, cls):
            return data
        unsafe = unsafe_values(data)
        if unsafe:
            raise InvalidInput(unsafe)
        try:
            return cls.model_validate(data, context=context or Context())
        except pydantic.ValidationError as exc:
            raise InvalidInput(field_errors(cls, exc)) from None


def field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def field_errors(model: type[BaseModel], exc: pydantic.ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors(include_url=False):
        name = field_name(tuple(e["loc"]))
        if e["type"] == "extra_forbidden":
            message = f"cannot be changed here; send only {', '.join(model.model_fields)}"
        else:
            message = e["msg"]
        errors.setdefault(name, message)
    return errors


class AnswerModel(BaseModel):
    """An answer: every field is always written (``null`` when absent), by its alias."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
