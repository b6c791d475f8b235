"""The JSON API tests' harness and contract (the fixtures ``api`` and ``api_module`` live in conftest.py).

One migrated database (SQLite file, or PostgreSQL under ``PATHWAY_TEST_DATABASE_URL``) per test
module, built with the real migrations; the app is the real ``create_app`` with a FixedClock
injected through ``Runtime.build``, so every time-dependent answer is deterministic. Requests
commit for real; tests make their own patients (unique MRNs) and never assume empty tables.

Every answer the harness sees is validated against the served OpenAPI document (jsonschema,
Draft 2020-12), strictly: an answer with a field the document does not name fails, as does a
status code the operation does not document.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from pathway import migrate
from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.models import Base
from pathway.runtime import Runtime
from pathway.services.base import SYSTEM
from pathway.services.users import create_token, create_user
from pathway.timeline.vocabulary import Role
from pathway.web.api.spec import document
from tests.conftest import ScratchDatabase

try:  # in the test extras; without it the API tests still run, unvalidated (test_api_openapi skips)
    import jsonschema
except ImportError:  # pragma: no cover
    jsonschema = None

UTC = UTC
T0 = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
ROLES = tuple(Role)
MISSING_ID = 987_654_321
PREFIX = "/api/v1"


# --- the contract ----------------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """Close every object schema that lists its properties: undocumented fields then fail."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out and out.get("type") == "object":
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _format_checker() -> Any:
    if jsonschema is None:  # pragma: no cover
        return None
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _instant(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = datetime.fromisoformat(value)
        return parsed.tzinfo is not None and "T" in value  # an instant always carries its offset

    @checker.checks("date", raises=ValueError)
    def _date(value: object) -> bool:
        return not isinstance(value, str) or (bool(date.fromisoformat(value)) and len(value) == 10)

    return checker


class Contract:
    """The served OpenAPI document, made strict, with a way to find an operation by URL."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = _strict(copy.deepcopy(doc))
        self.components = self.doc["components"]
        self.checker = _format_checker()
        self.routes = []
        for template in self.doc["paths"]:
            pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", r"[^/]+", re.escape(template)) + "$"
            self.routes.append((re.compile(pattern), template))

    def template(self, path: str) -> str:
        rel = path.split("?", 1)[0]
        assert rel.startswith(PREFIX), path
        rel = rel[len(PREFIX):]
        found = [t for rx, t in self.routes if rx.match(rel)]
        assert found, f"{rel} is not a documented path"
        return found[0]

    def operation(self, method: str, path: str) -> dict[str, Any]:
        item = self.doc["paths"][self.template(path)]
        assert method.lower() in item, f"{method} {path} is not documented"
        op: dict[str, Any] = item[method.lower()]
        return op

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
            node = self.components["responses"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def validate(self, schema: dict[str, Any], instance: Any, where: str) -> None:
        if jsonschema is None:  # pragma: no cover
            return
        root = {**schema, "components": self.components}
        validator = jsonschema.Draft202012Validator(root, format_checker=self.checker)
        problems = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if problems:
            lines = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in problems[:10]]
            raise AssertionError(f"{where} does not match the OpenAPI document:\n" + "\n".join(lines))

    def check_response(self, method: str, path: str, status: int, body: Any, content_type: str) -> None:
        media = self._media_type(method, path, status)
        assert content_type.split(";")[0] == media, f"{method} {path} {status}: {content_type}"
        if status == 405 and method.lower() not in self.doc["paths"][self.template(path)]:
            self.validate({"$ref": "#/components/schemas/Error"}, body, f"{method} {path} -> 405")
            return
        op = self.operation(method, path)
        responses = op["responses"]
        key = str(status)
        if key not in responses:
            assert status in (405, 413, 500) and "default" in responses, \
                f"{method} {path} answered {status}, which its operation does not document"
            key = "default"
        documented = self._resolve(responses[key])
        schema = documented["content"][media]["schema"]
        self.validate(schema, body, f"{method} {path} -> {status}")

    def _media_type(self, method: str, path: str, status: int) -> str:
        """The documented media type of this answer: application/json unless the operation says
        otherwise (the FHIR export's application/fhir+json)."""
        try:
            responses = self.operation(method, path)["responses"]
        except AssertionError:  # an undocumented method (405): an Error
            return "application/json"
        documented = self._resolve(responses.get(str(status), responses["default"]))
        (media,) = documented["content"]
        return str(media)

    def check_request(self, method: str, path: str, body: Any) -> None:
        op = self.operation(method, path)
        if "requestBody" in op and body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            self.validate(schema, body, f"request body of {method} {path}")


CONTRACT = Contract(document())


# --- the harness -------------------------------------------------------------------------------


class Answer:
    def __init__(self, response: Any) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers
        self.json: Any = response.get_json(silent=True)

    @property
    def errors(self) -> dict[str, str]:
        assert self.json is not None and "errors" in self.json, (self.status, self.json)
        errs: dict[str, str] = self.json["errors"]
        return errs

    def __repr__(self) -> str:
        return f"<Answer {self.status} {json.dumps(self.json)[:400] if self.json is not None else ''}>"


_mrns = itertools.count(1)


class Harness:
    """The app, its clock, a token per role, and helpers that call the API as a script would."""

    def __init__(self, scratch: ScratchDatabase) -> None:
        self.scratch = scratch
        self.clock = FixedClock(T0)
        config = load_config(env={}, overrides={"database": {"url": scratch.url}})
        migrate.upgrade(scratch.url)
        self.runtime = Runtime.build(config, clock=self.clock)
        self.app = create_app(runtime=self.runtime, TESTING=True)
        self.client = self.app.test_client()
        self.tokens: dict[str, str] = {}
        self.user_ids: dict[str, int] = {}
        self.tag = uuid.uuid4().hex[:6]
        with self.runtime.unit_of_work() as (session, env):
            for role in ROLES:
                user = create_user(session, env, SYSTEM, f"{role}-{self.tag}@example.test", role,
                                   "correct horse battery", role.title())
                session.flush()
                self.user_ids[role] = user.id
                self.tokens[role] = create_token(session, env, SYSTEM, user.email)
        self.seen: set[tuple[str, str, int]] = set()

    # -- calling ----------------------------------------------------------------------------

    def call(self, method: str, path: str, *, role: str | None = "coordinator", json_body: Any = None,
             raw: bytes | str | None = None, headers: dict[str, str] | None = None,
             token: str | None = None) -> Answer:
        url = path if path.startswith(PREFIX) else PREFIX + path
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        elif role is not None:
            hdrs["Authorization"] = f"Bearer {self.tokens[role]}"
        kwargs: dict[str, Any] = {"headers": hdrs, "environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
        if raw is not None:
            kwargs["data"] = raw
            kwargs["content_type"] = "application/json"
        elif json_body is not None:
            kwargs["json"] = json_body
        response = self.client.open(url, method=method, **kwargs)
        answer = Answer(response)
        CONTRACT.check_response(method, url, answer.status, answer.json, response.content_type or "")
        if 200 <= answer.status < 300 and raw is None:
            CONTRACT.check_request(method, url, json_body)
        self.seen.add((CONTRACT.template(url), method.upper(), answer.status))
        return answer

    def get(self, path: str, **kw: Any) -> Answer:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, json_body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("PATCH", path, json_body=body, **kw)

    # -- builders (through the API, like a clinic's script) ------------------------------------

    def patient_data(self, **overrides: Any) -> dict[str, Any]:
        n = next(_mrns)
        data = {"mrn": f"A{self.tag}{n:05d}", "given_name": "Pat", "family_name": f"Example{n}",
                "birth_date": "1950-04-30", "phone": f"+1 646 555 {n % 10000:04d}",
                "timezone": "America/New_York", "language": "en", "sms_consent": True}
        data.update(overrides)
        return data

    def patient(self, **overrides: Any) -> dict[str, Any]:
        answer = self.post("/patients", self.patient_data(**overrides))
        assert answer.status == 201, answer
        result: dict[str, Any] = answer.json
        return result

    def episode(self, patient_id: int | None = None, role: str = "coordinator", **overrides: Any) -> dict[str, Any]:
        patient_id = patient_id or self.patient()["id"]
        data = {"procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center",
                "proceduralist": "Dr. Lee", "levels": "L4-L5", "holds": []}
        data.update(overrides)
        answer = self.post(f"/patients/{patient_id}/episodes", data, role=role)
        assert answer.status == 201, answer
        result: dict[str, Any] = answer.json
        return result

    # -- looking at the database ------------------------------------------------------------

    def snapshot(self, *, exclude: tuple[str, ...] = ()) -> str:
        """A digest of every row of every table: equal before and after means nothing stored."""
        digest = hashlib.sha256()
        with self.runtime.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                if table.name in exclude:
                    continue
                order = list(table.primary_key.columns)
                for row in conn.execute(select(table).order_by(*order)):
                    digest.update(repr(tuple(row)).encode())
                digest.update(f"|{table.name}|".encode())
        return digest.hexdigest()

    def audit_actions(self, **where: Any) -> list[tuple[Any, ...]]:
        clauses = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
        with self.runtime.engine.connect() as conn:
            rows = conn.execute(text(
                f"SELECT action, entity_type, entity_id, patient_id, user_id, remote_addr FROM audit_events "
                f"WHERE {clauses} ORDER BY id"), where)
            return [tuple(r) for r in rows]

    def close(self) -> None:
        self.runtime.engine.dispose()


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
