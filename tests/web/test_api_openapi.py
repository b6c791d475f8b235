"""The OpenAPI 3.1 document against the live app, both ways.

Answers themselves are validated against the document by the harness in every API test
(tests/web/conftest_api.py); these tests check the document's own shape and its routes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pathway.web.api.spec import document
from tests.web.conftest_api import PREFIX, Harness

jsonschema = pytest.importorskip("jsonschema")

METHODS = {"get", "put", "post", "patch", "delete"}


def _live_routes(api: Harness) -> dict[str, set[str]]:
    """/api/v1 rules as OpenAPI paths ({name} for <int:name>) -> methods."""
    out: dict[str, set[str]] = {}
    for rule in api.app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len(PREFIX):])
        out.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return out


def _documented(doc: dict[str, Any]) -> dict[str, set[str]]:
    return {path: {m for m in item if m in METHODS} for path, item in doc["paths"].items()}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, m, op) for path, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


def test_every_live_route_is_documented_with_its_methods_and_every_documented_path_is_live(api: Harness) -> None:
    assert _live_routes(api) == _documented(document())


def test_each_operation_id_names_the_view_that_serves_it(api: Harness) -> None:
    endpoints = {}
    for rule in api.app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len(PREFIX):])
            for m in rule.methods - {"HEAD", "OPTIONS"}:
                endpoints[(path, m.lower())] = rule.endpoint
    ids = [op["operationId"] for _, _, op in _operations(document())]
    assert len(ids) == len(set(ids))
    for path, method, op in _operations(document()):
        assert endpoints[(path, method)] == f"api.{op['operationId']}"


def test_path_parameters_match_the_route_variables() -> None:
    for path, item in document()["paths"].items():
        names = set(re.findall(r"\{([a-z_]+)\}", path))
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert names == declared, path


def test_the_served_document_is_public_and_is_openapi_3_1(api: Harness) -> None:
    answer = api.get("/openapi.json", role=None)
    assert answer.status == 200
    doc = answer.json
    assert doc == document()
    assert doc["openapi"].startswith("3.1.") and doc["servers"] == [{"url": "/api/v1"}]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "an API token from `pathway token create`"}
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


def test_every_schema_is_valid_draft_2020_12_and_every_ref_resolves() -> None:
    doc = document()
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        assert ref.startswith("#/components/"), ref
        _, _, section, name = ref.split("/")
        assert name in doc["components"][section], ref


def test_every_operation_documents_its_errors() -> None:
    for path, method, op in _operations(document()):
        codes = set(op["responses"])
        assert "default" in codes, (method, path)
        assert any(c.startswith("2") for c in codes), (method, path)
        if op.get("security") == []:
            continue
        assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "requestBody" in op or op.get("parameters"):
            assert "422" in codes, (method, path)
        if method in {"post", "patch"} and "{" in path and path.startswith(("/episodes", "/holds", "/milestones")):
            assert "409" in codes, (method, path)


def test_error_answers_use_the_documented_error_schemas() -> None:
    doc = document()
    responses = doc["components"]["responses"]
    assert responses["E422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
    for code in ("E401", "E403", "E404", "Default"):
        assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    # A 409 is the route's conflict, or a change made from an older version (Stale).
    assert responses["E409"]["content"]["application/json"]["schema"] == {
        "anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/Stale"}]}
    assert "WWW-Authenticate" in responses["E401"]["headers"]


def test_the_harness_rejects_an_answer_the_document_does_not_describe() -> None:
    from tests.web.conftest_api import CONTRACT

    CONTRACT.check_response("GET", "/api/v1/patients/1", 404, {"message": "patient not found"}, "application/json")
    with pytest.raises(AssertionError, match="does not match"):
        CONTRACT.check_response("GET", "/api/v1/patients/1", 404, {"message": "x", "extra": 1}, "application/json")
    with pytest.raises(AssertionError, match="does not document"):
        CONTRACT.check_response("GET", "/api/v1/patients/1", 409, {"message": "x"}, "application/json")
    with pytest.raises(AssertionError, match="does not match"):
        CONTRACT.check_response("GET", "/api/v1/worklist", 200,
                                {"items": [], "count": 0, "limit": 1, "when": "2027-02-01T15:00"}, "application/json")


def test_the_harness_rejects_an_instant_without_an_offset() -> None:
    from tests.web.conftest_api import CONTRACT

    item = {"kind": "task", "priority": 50, "patient_id": 1, "episode_id": None, "subject_id": None, "title": "t",
            "detail": "d", "due_at": "2027-02-01T15:00:00+00:00", "action": "Open", "task_id": None,
            "patient_name": "A, B", "mrn": "1"}
    CONTRACT.check_response("GET", "/api/v1/worklist", 200, {"items": [item], "count": 1, "limit": 1},
                            "application/json")
    with pytest.raises(AssertionError, match="date-time"):
        CONTRACT.check_response("GET", "/api/v1/worklist", 200,
                                {"items": [{**item, "due_at": "2027-02-01T15:00"}], "count": 1, "limit": 1},
                                "application/json")
