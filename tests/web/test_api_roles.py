"""The role matrix: every API route x every role (anonymous, coordinator, clinician, admin).

For each route the expected status is checked on a record that exists and on one that does
not. A caller whose role may not use a route gets the same answer for both (403 before any
lookup, so a refusal never says whether a record exists), and nothing is stored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.web.conftest_api import MISSING_ID, PREFIX, Harness

UTC = UTC
CALLERS = ("anonymous", "coordinator", "clinician", "admin")
STAFF = ("coordinator", "clinician")


def _patient(api: Harness) -> int:
    return int(api.patient()["id"])


def _episode(api: Harness) -> int:
    return int(api.episode()["id"])


def _hold(api: Harness) -> int:
    return int(api.episode(holds=[{"drug": "clopidogrel"}])["holds"][0]["id"])


def _milestone(api: Harness) -> int:
    """A 72-hour check that is due (a step cannot be marked done before it is due)."""
    e = api.episode(procedure_at="2027-02-02T08:00")
    api.clock.set(datetime(2027, 2, 5, 14, 0, tzinfo=UTC))
    return next(int(m["id"]) for m in e["milestones"] if m["kind"] == "check_72h")


def _ended_episode(api: Harness) -> int:
    e = api.episode(procedure_at="2027-02-02T08:00")
    api.clock.set(datetime(2027, 2, 2, 16, 0, tzinfo=UTC))
    return int(e["id"])


def _unmatched_reply(api: Harness, body: str = "who is this?") -> int:
    """A reply from a number that matches no patient (issue 11)."""
    from pathway.services.replies import receive_reply

    with api.runtime.unit_of_work() as (session, env):
        return receive_reply(session, env, from_number="+13055550142", body=body,
                             provider_id=f"SM{uuid.uuid4().hex}").reply_id


def _red_flag_task(api: Harness) -> int:
    from sqlalchemy import select

    from pathway.models import Task

    reply_id = _unmatched_reply(api, "I have a fever")
    with api.runtime.unit_of_work() as (session, _):
        return int(session.scalars(select(Task.id).where(Task.reply_id == reply_id)).one())


def _hold_not_stopped(api: Harness) -> int:
    """A hold whose patient says they have not stopped it (issue 11): a clinician must decide."""
    e = api.episode(holds=[{"drug": "clopidogrel"}])
    hold_id = int(e["holds"][0]["id"])
    made = api.post(f"/episodes/{e['id']}/observations", {"code": "stopped_medicine", "value": 0, "hold_id": hold_id})
    assert made.status == 201, made
    return hold_id


def _feed(api: Harness) -> int:
    return int(api.post("/calendar-feeds", {"kind": "facility", "name": f"North {api.tag}"}).json["id"])


FEEDS = ("coordinator", "admin")  # staff calendar feeds (issue 14)


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # with {id} where the record's id goes
    ok: int
    setup: Callable[[Harness], int] | None = None
    body: Callable[[Harness], Any] | None = None
    allowed: tuple[str, ...] = STAFF
    query: str = ""
    public: bool = False
    tags: tuple[str, ...] = field(default=())

    def url(self, record_id: int | None) -> str:
        path = self.path.replace("{id}", str(record_id)) if record_id is not None else self.path
        return path + self.query

    def expected(self, caller: str, exists: bool) -> int:
        if self.public:
            return self.ok
        if caller == "anonymous":
            return 401
        if caller not in self.allowed:
            return 403
        return self.ok if exists or self.setup is None else 404


ROUTES = [
    Route("enrol patient", "POST", "/patients", 201, body=lambda api: api.patient_data()),
    Route("find patients", "GET", "/patients", 200, query="?q=ruiz%20ana"),
    Route("get patient", "GET", "/patients/{id}", 200, setup=_patient),
    Route("edit patient", "PATCH", "/patients/{id}", 200, setup=_patient, body=lambda api: {"language": "es"}),
    Route("preview patient edit", "PATCH", "/patients/{id}", 200, setup=_patient,
          body=lambda api: {"timezone": "America/Chicago"}, query="?preview=1"),
    Route("schedule episode", "POST", "/patients/{id}/episodes", 201, setup=_patient,
          body=lambda api: {"procedure_at": "2027-03-10T08:00", "holds": [{"drug": "apixaban"}]}),
    Route("get episode", "GET", "/episodes/{id}", 200, setup=_episode),
    Route("reschedule", "PATCH", "/episodes/{id}", 200, setup=_episode,
          body=lambda api: {"procedure_at": "2027-03-17T08:00"}),
    Route("reschedule preview", "PATCH", "/episodes/{id}", 200, setup=_episode, query="?preview=1",
          body=lambda api: {"procedure_at": "2027-03-17T08:00"}),
    Route("cancel", "POST", "/episodes/{id}/cancel", 200, setup=_episode, body=lambda api: {"reason": "unwell"}),
    Route("procedure end", "POST", "/episodes/{id}/procedure-end", 200, setup=_ended_episode,
          body=lambda api: {"ended_at": "2027-02-02T08:45"}),
    Route("book follow-up", "POST", "/episodes/{id}/follow-up", 200, setup=_episode,
          body=lambda api: {"appointment_at": "2027-03-18T10:00"}),
    Route("book PT", "POST", "/episodes/{id}/pt-start", 200, setup=_episode,
          body=lambda api: {"appointment_at": "2027-03-25T10:00"}),
    Route("clearance requested", "POST", "/holds/{id}/clearance", 200, setup=_hold,
          body=lambda api: {"status": "requested"}),
    Route("clearance approved", "POST", "/holds/{id}/clearance", 200, setup=_hold, allowed=("clinician",),
          body=lambda api: {"status": "approved", "by": "Dr. Ortiz"}),
    Route("clearance declined", "POST", "/holds/{id}/clearance", 200, setup=_hold, allowed=("clinician",),
          body=lambda api: {"status": "declined", "by": "Dr. Ortiz"}),
    Route("record INR", "POST", "/holds/{id}/inr", 200, setup=_hold, body=lambda api: {"value": "1.1"}),
    Route("holds to sign", "GET", "/holds", 200, query="?status=unsigned"),
    Route("complete milestone", "POST", "/milestones/{id}/complete", 200, setup=_milestone,
          body=lambda api: {"result": {"pain": 2}}),
    Route("worklist", "GET", "/worklist", 200),
    Route("follow-up board", "GET", "/followups", 200),
    Route("overdue follow-ups", "GET", "/followups", 200, query="?status=overdue&limit=50&offset=0"),
    Route("openapi", "GET", "/openapi.json", 200, public=True),
    # Editing an episode after saving (issue 10): details, adding and removing a hold.
    Route("edit details", "PATCH", "/episodes/{id}", 200, setup=_episode,
          body=lambda api: {"facility": "Northside", "tried_pt": True}),
    Route("add hold", "POST", "/episodes/{id}/holds", 201, setup=_episode, body=lambda api: {"drug": "apixaban"}),
    Route("add hold preview", "POST", "/episodes/{id}/holds", 200, setup=_episode, query="?preview=1",
          body=lambda api: {"drug": "apixaban"}),
    Route("remove hold", "DELETE", "/holds/{id}", 200, setup=_hold),
    Route("remove hold preview", "DELETE", "/holds/{id}", 200, setup=_hold, query="?preview=1"),
    Route("label hold", "PATCH", "/holds/{id}", 200, setup=_hold, body=lambda api: {"patient_label": "Plavix"}),
    Route("label hold preview", "PATCH", "/holds/{id}", 200, setup=_hold, query="?preview=1",
          body=lambda api: {"patient_label": "Plavix"}),
    Route("link reply", "POST", "/replies/{id}/link", 200, setup=_unmatched_reply,
          body=lambda api: {"patient_id": api.patient()["id"]}),
    Route("dismiss reply", "POST", "/replies/{id}/dismiss", 200, setup=_unmatched_reply,
          body=lambda api: {"note": "wrong number"}),
    Route("resolve task", "POST", "/tasks/{id}/resolve", 200, setup=_red_flag_task,
          body=lambda api: {"resolution": "called, advised to come in"}),
    # Observations (issue 11).
    Route("list observations", "GET", "/episodes/{id}/observations", 200, setup=_episode),
    Route("record observation", "POST", "/episodes/{id}/observations", 201, setup=_episode,
          body=lambda api: {"code": "nprs", "value": 6, "time_point": "baseline"}),
    # Outcomes (issue 12): coordinators (the follow-up calls) and clinicians (the visit) record them.
    Route("list outcomes", "GET", "/episodes/{id}/outcomes", 200, setup=_episode),
    Route("record outcome", "POST", "/episodes/{id}/outcomes", 201, setup=_episode,
          body=lambda api: {"time_point": "visit", "measure": "odi", "value": 38, "source": "visit"}),
    Route("stop decision", "POST", "/holds/{id}/stop-decision", 200, setup=_hold_not_stopped, allowed=("clinician",),
          body=lambda api: {"note": "spoke to the prescriber: postpone"}),
    # Acting on replies (issue 11): the conversation and a one-off text.
    Route("thread", "GET", "/episodes/{id}/thread", 200, setup=_episode),
    # Interop (issue 14): the episode as a FHIR R4 Bundle.
    Route("FHIR bundle", "GET", "/episodes/{id}/fhir", 200, setup=_episode),
    Route("one-off text", "POST", "/episodes/{id}/messages", 201, setup=_episode,
          body=lambda api: {"body": "Please call the clinic when you can.", "urgent": False}),
    # Calendars (issue 14): a patient's private link; staff feeds by an admin or a coordinator.
    Route("reissue calendar link", "POST", "/patients/{id}/calendar", 200, setup=_patient),
    Route("revoke calendar link", "DELETE", "/patients/{id}/calendar", 200, setup=_patient),
    Route("list calendar feeds", "GET", "/calendar-feeds", 200, allowed=FEEDS),
    Route("create calendar feed", "POST", "/calendar-feeds", 201, allowed=FEEDS,
          body=lambda api: {"kind": "proceduralist", "name": "Dr. Lee"}),
    Route("revoke calendar feed", "DELETE", "/calendar-feeds/{id}", 200, setup=_feed, allowed=FEEDS),
    # The outcomes report (issue 12): clinicians and admins.
    Route("outcomes report", "GET", "/reports/outcomes", 200, allowed=("clinician", "admin"),
          query="?from=2026-01-01&to=2027-12-31"),
]


def _template(path: str) -> str:
    return re.sub(r"\{id\}", "{}", path)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_role_matrix(api: Harness, route: Route, caller: str) -> None:
    role = None if caller == "anonymous" else caller
    record_id = route.setup(api) if route.setup else None
    body = route.body(api) if route.body else None
    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    existing = api.call(route.method, route.url(record_id), role=role, json_body=body)
    assert existing.status == route.expected(caller, exists=True), existing
    if existing.status in (401, 403):
        assert api.snapshot(exclude=("audit_events",)) == before, "a refused request stored something"
        # ... but its own audit row (issue 13: denied attempts are audited).
        refusals = ["access.denied"] if existing.status == 403 else []
        assert [a[0] for a in api.audit_actions()[audited:]] == refusals
    if route.setup is None:
        return
    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    missing = api.call(route.method, route.url(MISSING_ID), role=role, json_body=body)
    assert missing.status == route.expected(caller, exists=False), missing
    assert api.snapshot(exclude=("audit_events",)) == before
    assert all(a[0] == "access.denied" for a in api.audit_actions()[audited:])
    if existing.status in (401, 403):
        # The same refusal, word for word: a wrong role cannot probe which ids exist.
        assert (missing.status, missing.json) == (existing.status, existing.json)
        if existing.status == 401:
            assert missing.headers["WWW-Authenticate"] == existing.headers["WWW-Authenticate"]


def test_the_matrix_covers_every_live_api_route_and_method(api: Harness) -> None:
    live = set()
    for rule in api.app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX):
            path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "{}", rule.rule[len(PREFIX):])
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                live.add((method, path))
    covered = {(r.method, _template(r.path)) for r in ROUTES}
    assert live == covered


def test_admin_is_refused_the_same_way_on_every_patient_route(api: Harness) -> None:
    answers = {
        api.call(r.method, r.url(MISSING_ID), role="admin", json_body=r.body(api) if r.body else None).json["message"]
        for r in ROUTES
        if not r.public and "admin" not in r.allowed and r.allowed == STAFF
    }
    assert answers == {"needs the coordinator or clinician role"}
