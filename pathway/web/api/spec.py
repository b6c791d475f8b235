"""The route table of /api/v1 and the OpenAPI 3.1 document generated from it.

Each view is registered with ``@operation(...)``, which adds its Flask rule and records the
models it reads (body, query) and answers. The document, served without a token at
``/api/v1/openapi.json``, is built from those records and the models' own JSON schemas, so a
field, a bound or a route exists in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from pathway.schemas import answers as out
from pathway.schemas.base import InputModel
from pathway.services.base import MAX_ID
from pathway.web.api import bp

Schema = dict[str, Any]
READ = (401, 403, 404)
CHANGE = (401, 403, 404, 409, 422)

ERRORS: dict[int, tuple[str, type[BaseModel]]] = {
    401: ("No token, or an unknown, revoked, expired or deactivated one (see WWW-Authenticate).", out.Error),
    403: ("Your role may not do this (admins manage users only; approvals need a clinician).", out.Error),
    404: ("No such record.", out.Error),
    409: ("The record's state forbids this (e.g. the episode is cancelled), or a record stored at the "
          "same moment by another request conflicts (reload and retry), or the change was made from an older "
          "`version` (or `If-Match`) of the patient or episode than the stored one (`Stale`: someone else changed "
          "it; nothing was changed).", out.Error),
    422: ("Bad input: every bad field is named in `errors`. Nothing was stored.", out.ValidationError),
}


@dataclass(frozen=True)
class Operation:
    rule: str  # the Flask rule under /api/v1, e.g. /episodes/<int:episode_id>
    method: str
    endpoint: str
    summary: str
    tag: str
    answers: tuple[type[BaseModel], ...]  # several: the answer is one of them; none: any object
    answer_text: str
    status: int = 200
    body: type[InputModel] | None = None
    query: type[InputModel] | None = None
    errors: tuple[int, ...] = CHANGE
    public: bool = False
    description: str = ""
    # A 409 answered with more than `message` (e.g. a move's holds at risk): (text, schema).
    conflict: tuple[str, type[BaseModel]] | None = None
    # Other success codes with the same answers (e.g. 200 for a ?preview=1 of a route that creates: 201).
    also: tuple[int, ...] = ()
    many: bool = False  # the answer is a JSON array of `answers[0]`
    # The success answer's media type (the FHIR export answers application/fhir+json).
    media_type: str = "application/json"

    @property
    def path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.rule)


OPERATIONS: list[Operation] = []


def operation(
    rule: str, method: str, *, summary: str, tag: str, answers: tuple[type[BaseModel], ...], answer_text: str,
    status: int = 200, body: type[InputModel] | None = None, query: type[InputModel] | None = None,
    errors: tuple[int, ...] = CHANGE, public: bool = False, description: str = "",
    conflict: tuple[str, type[BaseModel]] | None = None, also: tuple[int, ...] = (), many: bool = False,
    media_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on the blueprint and describe it in the OpenAPI document."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, view_func=view, methods=[method])
        OPERATIONS.append(Operation(rule, method.lower(), view.__name__, summary, tag, answers, answer_text,
                                    status, body, query, errors, public, description, conflict, also, many,
                                    media_type))
        return view

    return register


def _ref(model: type[BaseModel]) -> Schema:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: Schema, description: str, media_type: str = "application/json") -> Schema:
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _components() -> dict[str, Schema]:
    inputs = {op.body for op in OPERATIONS if op.body is not None}
    pairs: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)]
    pairs += [(m, "serialization") for m in out.ANSWERS]
    _, defs = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Schema] = _nullable(defs.get("$defs", {}))
    return schemas


def _nullable(node: Any) -> Any:
    """Write pydantic's ``anyOf: [X, null]`` as X with ``null`` among its types, so a validator
    names the rule that failed (``is not a 'date-time'``) rather than "not valid under any"."""
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (other,) = [o for o in options if o != {"type": "null"}]
        kind = other.get("type")
        if isinstance(kind, str):
            merged = {**other, "type": [kind, "null"]}
            if "enum" in merged:
                merged["enum"] = [*merged["enum"], None]
            del node["anyOf"]
            return {**merged, **node}
    return node


# Answers that carry a patient, an episode, or a hold or step of one: they have an ETag.
VERSIONED = (out.Patient, out.Episode, out.Hold, out.Milestone)
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "the ETag of the record's last answer (`\"v3\"`): the change is made from that version, "
                           "as if the body said `\"version\": 3`, and answers 409 `Stale` if the record changed "
                           "since; `*` checks nothing"}
ETAG = {"schema": {"type": "string"}, "description": "the record's version, `\"v<n>\"` (the episode's for a hold or a "
                                                      "step): send it back as `If-Match` with a change"}


def _versioned(op: Operation) -> bool:
    return any(m is not None and "version" in m.model_fields for m in (op.body, op.query))


def _parameters(op: Operation) -> list[Schema]:
    params: list[Schema] = [IF_MATCH] if _versioned(op) else []
    if op.query is None:
        return params
    props = op.query.model_json_schema()["properties"]
    for name, prop in props.items():
        schema = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
        params.append({"name": name, "in": "query", "required": False, "schema": schema,
                       "description": prop.get("description", name)})
    return params


def _operation(op: Operation) -> Schema:
    doc: Schema = {"operationId": op.endpoint, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        doc["description"] = op.description
    if op.public:
        doc["security"] = []
    params = _parameters(op)
    if params:
        doc["parameters"] = params
    if op.body is not None:
        required = bool(op.body.model_json_schema().get("required"))
        doc["requestBody"] = {"required": required, "content": {"application/json": {"schema": _ref(op.body)}}}
    if not op.answers:
        schema: Schema = {"type": "object"}
    elif op.many:
        schema = {"type": "array", "items": _ref(op.answers[0])}
    elif len(op.answers) == 1:
        schema = _ref(op.answers[0])
    else:
        schema = {"oneOf": [_ref(m) for m in op.answers]}
    ok = _json(schema, op.answer_text, op.media_type)
    if op.status == 201:
        ok["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the new record's URL"}}
    if any(issubclass(m, VERSIONED) for m in op.answers):
        ok.setdefault("headers", {})["ETag"] = ETAG
    doc["responses"] = {str(op.status): ok}
    for code in op.also:
        doc["responses"][str(code)] = _json(schema, op.answer_text, op.media_type)
    for code in op.errors:
        doc["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
    if op.conflict is not None:
        text, model = op.conflict
        doc["responses"]["409"] = _json(_stale_or(model), text + " Or `Stale`: made from an older `version`.")
    doc["responses"]["default"] = {"$ref": "#/components/responses/Default"}
    return doc


def _paths() -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for op in OPERATIONS:
        item = paths.setdefault(op.path, {})
        names = re.findall(r"\{([a-z_]+)\}", op.path)
        if names:
            item["parameters"] = [
                {"name": n, "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                 "description": f"the {n.removesuffix('_id')}'s id"} for n in names]
        item[op.method] = _operation(op)
    return paths


def _stale_or(model: type[BaseModel]) -> Schema:
    """A 409's schema: the route's own conflict, or a stale version (anyOf: a Stale also reads as an Error)."""
    return {"anyOf": [_ref(model), _ref(out.Stale)]}


def _responses() -> dict[str, Schema]:
    responses = {f"E{code}": _json(_stale_or(model) if code == 409 else _ref(model), text)
                 for code, (text, model) in ERRORS.items()}
    responses["E401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                                         "description": "Bearer realm=\"pathway\"…"}}
    responses["Default"] = _json(_ref(out.Error), "Any other error (405; 413, a body over [web] max_request_bytes; "
                                                  "500): nothing was stored.")
    return responses


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once, after every view is registered)."""
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "pathway API",
            "version": "1",
            "description": (
                "Care-pathway tracking around the MILD procedure. Authenticate with "
                "`Authorization: Bearer <token>` (`pathway token create --email ...`). Coordinators and "
                "clinicians see and change patients; admins manage users only and get 403 here. "
                "Every instant is ISO 8601 with an offset (UTC); timeline instants also come as "
                "`<name>_local` with the patient's own offset. Fields may be added, never renamed. "
                "Patients and episodes carry a `version` (and an `ETag`): send it back as `version` or "
                "`If-Match` with a change, which answers 409 `Stale` and changes nothing if someone else "
                "changed the record meanwhile."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": n} for n in ("patients", "episodes", "holds", "milestones", "lists", "calendars", "reports",
                                       "meta")],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API token from `pathway token create`"}},
            "schemas": _components(),
            "responses": _responses(),
        },
    }
