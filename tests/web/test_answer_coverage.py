"""Every answer field is declared, and every declared answer field is answered.

A realistic scenario is driven through the real API (test client) until it has produced every
answer model; each answer is then walked beside the schema its operation documents in the
generated OpenAPI document. A field an answer carries that its schema does not declare fails,
and so does a field a schema declares that no answer carried.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from pathway.schemas import answers as out
from pathway.services.replies import receive_reply
from pathway.web.api.spec import document
from tests.web.conftest_api import CONTRACT, T0, Harness

Recorded = list[tuple[str, str, int, Any]]  # method, URL, status, body
Field = tuple[str, str]  # schema name, property


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = doc["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _answer_schema(doc: dict[str, Any], method: str, url: str, status: int) -> dict[str, Any]:
    op = CONTRACT.operation(method, url)
    documented = op["responses"].get(str(status), op["responses"]["default"])
    schema: dict[str, Any] = _resolve(doc, documented)["content"]["application/json"]["schema"]
    return schema


def coverage(doc: dict[str, Any], answers: Recorded) -> tuple[set[Field], set[Field]]:
    """(fields answered but not declared, answer fields declared but never answered)."""
    schemas = doc["components"]["schemas"]
    seen: set[Field] = set()
    undeclared: set[Field] = set()

    def walk(schema: dict[str, Any], value: Any, owner: str) -> None:
        if value is None:  # a null (e.g. a re-plan with no notice) carries no fields to check
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            walk(schemas[name], value, name)
            return
        options = schema.get("oneOf") or schema.get("anyOf")
        if options:  # the alternative whose fields are exactly the answer's
            for option in options:
                target = schemas[option["$ref"].rsplit("/", 1)[1]] if "$ref" in option else option
                if isinstance(value, dict) and set(value) == set(target.get("properties", {})):
                    walk(option, value, owner)
                    return
            raise AssertionError(f"no alternative of {owner} has exactly the fields {sorted(value)}")
        if isinstance(value, dict) and "properties" in schema:
            for key, item in value.items():
                if key not in schema["properties"]:
                    undeclared.add((owner, key))
                else:
                    seen.add((owner, key))
                    walk(schema["properties"][key], item, owner)
        elif isinstance(value, list) and "items" in schema:
            for item in value:
                walk(schema["items"], item, owner)

    for method, url, status, body in answers:
        walk(_answer_schema(doc, method, url, status), body, "(answer)")
    declared = {(m.__name__, name) for m in out.ANSWERS
                for name in schemas[m.__name__].get("properties", {})}
    return undeclared, declared - seen


def _scenario(api: Harness) -> Recorded:
    """One patient's pathway through the API, producing every kind of answer."""
    answers: Recorded = []

    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        answer = api.call(method, path, json_body=body, **kw)
        answers.append((method, path if path.startswith("/api") else "/api/v1" + path, answer.status, answer.json))
        return answer

    api.clock.set(datetime(2027, 1, 10, 15, 0, tzinfo=UTC))
    patient = call("POST", "/patients", api.patient_data()).json
    episode = call("POST", f"/patients/{patient['id']}/episodes", {
        "procedure_at": "2027-01-20T08:00", "proceduralist": f"Dr. Coverage {api.tag}",
        "holds": [{"drug": "clopidogrel", "prescriber_name": "Dr. C"}, {"drug": "apixaban"}]}).json
    eid = episode["id"]
    # A step whose hold reference went stale: the next re-plan drops it and adds the right one.
    clearance = next(m for m in episode["milestones"] if m["kind"] == "hold_clearance")
    with api.runtime.engine.begin() as conn:
        conn.execute(text("UPDATE milestones SET ref = 'h0' WHERE id = :id"), {"id": clearance["id"]})
    call("PATCH", f"/episodes/{eid}?preview=1", {"procedure_at": "2027-01-21T08:00"})
    call("PATCH", f"/episodes/{eid}", {"procedure_at": "2027-01-21T08:00"})
    hold = episode["holds"][0]
    call("POST", f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. C"}, role="clinician")
    call("POST", f"/holds/{hold['id']}/clearance", {"status": "maybe"}, role="clinician")  # 422
    call("PATCH", f"/episodes/{eid}", {"procedure_at": "2027-01-19T08:00"})  # 409: breaks the signed hold
    api.clock.set(datetime(2027, 1, 21, 16, 0, tzinfo=UTC))
    call("POST", f"/episodes/{eid}/procedure-end", {"ended_at": "2027-01-21T09:00"})
    call("POST", f"/episodes/{eid}/follow-up", {"appointment_at": "2027-01-31T10:00"})
    done = call("POST", f"/episodes/{eid}/pt-start", {"appointment_at": "2027-02-03T10:00"}).json
    check = next(m for m in done["milestones"] if m["kind"] == "check_72h")
    api.clock.set(datetime(2027, 1, 24, 16, 0, tzinfo=UTC))
    call("POST", f"/milestones/{check['id']}/complete", {"result": {"pain": 3}})
    api.clock.set(T0)
    call("GET", f"/episodes/{eid}")
    # Observations (issue 11): a staff-recorded score, a bad one, the list.
    call("POST", f"/episodes/{eid}/observations", {"code": "nprs", "value": 4, "time_point": "baseline"})
    call("POST", f"/episodes/{eid}/observations", {"code": "nprs", "value": 11})  # 422
    call("GET", f"/episodes/{eid}/observations")
    call("POST", f"/episodes/{eid}/outcomes", {"time_point": "6w", "measure": "odi", "value": 30, "source": "visit"})
    call("POST", f"/episodes/{eid}/outcomes", {"time_point": "6w", "measure": "odi", "value": 28, "source": "phone"})
    call("POST", f"/episodes/{eid}/outcomes", {"time_point": "9w", "measure": "odi", "value": 28, "source": "x"})  # 422
    call("GET", f"/episodes/{eid}/outcomes")
    call("GET", f"/patients/{patient['id']}")
    # The patient search (issue 15): by name (why each matched), and with no query the active patients.
    call("GET", "/patients?" + urlencode({"q": f"{patient['family_name']}, {patient['given_name']}"}))
    call("GET", "/patients?limit=5")
    other = call("POST", f"/patients/{patient['id']}/episodes", {"procedure_at": "2027-02-09T08:00",
                                                                   "holds": [{"drug": "rivaroxaban"}]}).json
    call("POST", f"/holds/{other['holds'][0]['id']}/clearance", {"status": "requested"})
    call("POST", f"/holds/{other['holds'][0]['id']}/inr", {"value": "1.0"})
    # The patient has not stopped it: a clinician decides.
    call("POST", f"/episodes/{other['id']}/observations",
         {"code": "stopped_medicine", "value": 0, "hold_id": other["holds"][0]["id"]})
    call("POST", f"/holds/{other['holds'][0]['id']}/stop-decision", {"note": "spoke to the prescriber: go ahead"},
         role="clinician")
    call("GET", "/holds?status=unsigned")
    # Editing the patient re-plans the open episode's texts (preview, then applied).
    call("PATCH", f"/patients/{patient['id']}?preview=1", {"timezone": "America/Chicago", "language": "es"})
    call("PATCH", f"/patients/{patient['id']}", {"timezone": "America/Chicago", "language": "es"})
    # A change made from the episode as first answered (version 1): its clearance changed it since (409 Stale).
    call("POST", f"/episodes/{other['id']}/cancel", {"reason": "patient asked", "version": other["version"]})
    call("POST", f"/episodes/{other['id']}/cancel", {"reason": "patient asked"})
    # Replies from a number two patients share and from one that matches no patient (issue 11).
    spouse = call("POST", "/patients", api.patient_data(phone=patient["phone"])).json
    call("POST", f"/patients/{spouse['id']}/episodes", {"procedure_at": "2027-02-16T08:00"})
    with api.runtime.unit_of_work() as (session, env):
        shared = receive_reply(session, env, from_number=patient["phone"], body="who is this for?",
                               provider_id=f"SMcov1{uuid.uuid4().hex}").reply_id
        stranger = receive_reply(session, env, from_number="+12125559876", body="my mom has a fever of 102",
                                 provider_id=f"SMcov2{uuid.uuid4().hex}").reply_id
    listed = call("GET", "/worklist").json
    call("POST", f"/replies/{shared}/dismiss", {"note": ""})  # 422: the note is required
    call("POST", f"/replies/{shared}/dismiss", {"note": "a neighbour's phone; told them the clinic's number"})
    call("POST", f"/replies/{stranger}/link", {"patient_id": patient["id"]})
    red = next(i for i in call("GET", "/worklist").json["items"] if i["reply_id"] == stranger)
    call("POST", f"/tasks/{red['task_id']}/resolve", {"resolution": ""})  # 422: say what was done
    call("POST", f"/tasks/{red['task_id']}/resolve", {"resolution": "Called: advised to go to the ED"})
    assert any(i["candidates"] for i in listed["items"])
    # A one-off text, and the conversation: texts with their history, replies, the red flag's note.
    call("POST", f"/episodes/{eid}/messages", {"body": "Please call us when you can.", "urgent": True})
    call("POST", f"/episodes/{eid}/messages", {"body": ""})  # 422 naming body
    call("GET", f"/episodes/{eid}/thread")
    call("GET", f"/followups?proceduralist=Dr. Coverage {api.tag}")
    # Calendars (issue 14): a patient's link re-issued and revoked; a staff feed made, listed, revoked.
    call("POST", f"/patients/{spouse['id']}/calendar")
    call("DELETE", f"/patients/{spouse['id']}/calendar")
    feed = call("POST", "/calendar-feeds", {"kind": "proceduralist", "name": f"Dr. Coverage {api.tag}"}).json
    call("DELETE", f"/calendar-feeds/{feed['id']}")
    call("GET", "/calendar-feeds")
    # The outcomes report (issue 12): for clinicians and admins.
    call("GET", f"/reports/outcomes?proceduralist=Dr. Coverage {api.tag}&from=2027-01-01", role="clinician")
    call("GET", "/worklist", role=None)  # 401
    call("GET", "/episodes/987654321")  # 404
    return answers


@pytest.fixture
def scenario(api: Harness) -> Recorded:
    return _scenario(api)


def test_every_answer_field_is_declared_and_every_declared_field_is_answered(scenario: Recorded) -> None:
    undeclared, unanswered = coverage(document(), scenario)
    assert undeclared == set(), f"answers carry fields their schemas do not declare: {sorted(undeclared)}"
    assert unanswered == set(), f"schemas declare fields no answer carries: {sorted(unanswered)}"


def test_the_check_fails_on_an_answer_with_an_undeclared_field(scenario: Recorded) -> None:
    doctored = copy.deepcopy(scenario)
    body = next(a[3] for a in doctored if a[1].endswith("/clearance") and a[2] == 200)
    body["colour"] = "red"
    undeclared, _ = coverage(document(), doctored)
    assert undeclared == {("Hold", "colour")}


def test_the_check_fails_on_a_declared_field_no_answer_carries(scenario: Recorded) -> None:
    doctored = copy.deepcopy(scenario)
    for _, _, _, body in doctored:
        if isinstance(body, dict) and "rows" in body:
            for row in body["rows"]:
                del row["red_flag"]
    _, unanswered = coverage(document(), doctored)
    assert unanswered == {("BoardRow", "red_flag")}


def test_the_check_fails_on_a_schema_field_that_no_answer_has() -> None:
    doc = copy.deepcopy(document())
    doc["components"]["schemas"]["CheckItem"]["properties"]["colour"] = {"type": "string"}
    _, unanswered = coverage(doc, [])
    assert ("CheckItem", "colour") in unanswered
