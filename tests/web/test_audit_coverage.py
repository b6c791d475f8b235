"""Issue 13's audit gaps: every page and API view of a patient's record is audited (checked by
walking the app's own routes, so a new page cannot be forgotten), searches record the query and
the patients shown, and refused attempts are audited with who, from where, which route and why."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent
from pathway.services.replies import receive_reply
from tests.web.conftest import Browser
from tests.web.test_pages_audit import ADDR, Both, _last_id, _written

# GET pages that show no patient's record, so write no view row. Every other GET page must.
# The schedule import form shows no one until a file is sent (the import itself is audited).
NO_PATIENT = {"/login", "/patients/new", "/patients/import", "/admin/users", "/admin/tokens", "/healthz"}
# Not staff pages: a calendar link's feed, fetched by the patient's (or a staff feed's) calendar app with
# the link's token and no sign-in, polled often; the link's issue and revocation are audited instead.
NO_SIGN_IN = ("/ical/",)
# Pages of figures about many patients that name none (the outcomes report, its CSV): they must
# still write their view row, with the filters asked for.
AGGREGATE = {"/holds/to-sign", "/outcomes", "/outcomes.csv"}
# Pages for clinicians and admins only.
CLINICIANS_AND_ADMINS = {"/outcomes", "/outcomes.csv"}


@pytest.fixture
def both(web_app: Any, session: Any, env: Any) -> Both:
    return Both(web_app, session, env)


@pytest.fixture
def record(make_episode: Any, make_patient: Any, session: Any, env: Any) -> dict[str, int]:
    e = make_episode(procedure_at="2027-02-05T08:00", holds=[{"drug": "warfarin"}])
    # A reply from a number two patients share: its page shows both, so its view names them.
    make_patient(phone=e.patient.phone)
    reply = receive_reply(session, env, from_number=e.patient.phone, body="who is this for?",
                          provider_id="SMaudit1").reply_id
    session.flush()
    assert reply is not None
    return {"patient_id": e.patient_id, "episode_id": e.id, "hold_id": e.holds[0].id, "reply_id": reply}


def _names_patient(rows: list[tuple[Any, ...]], patient_id: int) -> bool:
    return any(r[3] == patient_id or patient_id in ((r[6] or {}).get("patient_ids") or []) for r in rows)


def _page_urls(app: Any, ids: dict[str, int]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if ("GET" not in (rule.methods or ()) or rule.rule in NO_PATIENT or "<path:filename>" in rule.rule
                or rule.rule.startswith(("/api/", "/webhooks", *NO_SIGN_IN))):
            continue
        urls.append(_fill(rule.rule, ids))
    return sorted(urls)


def _fill(rule: str, ids: dict[str, int]) -> str:
    for name, value in ids.items():
        rule = rule.replace(f"<int:{name}>", str(value))
    assert "<" not in rule, f"no id to fill in {rule}: add it to the fixture"
    return rule


def test_every_page_that_shows_a_patient_audits_the_view_naming_them(
    both: Both, record: dict[str, int], web_app: Any
) -> None:
    urls = _page_urls(web_app, record)
    # The pages issue 13 found unaudited are among those walked.
    for named in ("/", "/board", "/messages", f"/patients/{record['patient_id']}/episodes/new",
                  f"/episodes/{record['episode_id']}/reschedule", f"/patients/{record['patient_id']}/edit"):
        assert named in urls
    missing = []
    clinician = Browser(web_app).login_as("clinician")
    for url in urls:
        # The search page is walked with a query that finds the patient (without one it shows no one).
        if url in CLINICIANS_AND_ADMINS:  # walked as a clinician (a coordinator is refused, audited elsewhere)
            since = _last_id(both.session)
            assert clinician.get(url, environ_base={"REMOTE_ADDR": ADDR}).status_code == 200, url
            rows = _written(both.session, since)
        else:
            rows = both.page_rows("GET", url + ("?q=Example" if url == "/patients" else ""))
        mine = [r for r in rows if r[4] is not None and r[5] == ADDR]
        # The holds to sign list only holds awaiting a signature (none here): it must still audit.
        if not mine or (url not in AGGREGATE and not _names_patient(mine, record["patient_id"])):
            missing.append((url, rows))
    assert missing == []


def test_every_api_read_of_patients_audits_the_view(both: Both, record: dict[str, int]) -> None:
    p, e = record["patient_id"], record["episode_id"]
    for url in (f"/api/v1/patients/{p}", f"/api/v1/episodes/{e}", "/api/v1/worklist", "/api/v1/followups",
                "/api/v1/patients?q=Example", "/api/v1/patients"):
        rows = both.api_rows("GET", url)
        assert rows and _names_patient(rows, p), (url, rows)
    rows = both.api_rows("GET", "/api/v1/holds?status=unsigned")
    assert [r[0] for r in rows] == ["holds.unsigned.view"]


def test_a_search_records_the_query_and_the_patients_shown(both: Both, record: dict[str, int], session: Any) -> None:
    (row,) = both.page_rows("GET", "/patients?q=Example")
    assert row[0] == "patient.search" and row[6]["query"] == "Example"
    assert record["patient_id"] in row[6]["patient_ids"] and row[6]["results"] == len(row[6]["patient_ids"])
    (none,) = both.page_rows("GET", "/patients?q=Nobody%20Here")
    assert none[6] == {"query": "Nobody Here", "results": 0, "patient_ids": []}
    # The reply page's search for whom a reply concerns is audited the same way.
    rows = both.page_rows("GET", f"/replies/{record['reply_id']}?q=Example")
    assert ("patient.search", "Example") in [(r[0], (r[6] or {}).get("query")) for r in rows]


def _denied(session: Any, since: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.id > since, AuditEvent.action == "access.denied")
                                .order_by(AuditEvent.id)))


def test_a_page_a_role_may_not_open_is_audited_as_denied_naming_the_patient(
    as_role: Any, record: dict[str, int], session: Any, staff: Any
) -> None:
    admin = as_role("admin")
    since = _last_id(session)
    r = admin.get(f"/patients/{record['patient_id']}", environ_base={"REMOTE_ADDR": ADDR})
    assert r.status_code == 403  # says the role is wrong; the same answer for a missing record
    (row,) = _denied(session, since)
    assert row.user_id == staff["admin"].user_id and row.remote_addr == ADDR
    assert row.patient_id == record["patient_id"]
    assert row.detail == {"method": "GET", "route": "/patients/<int:patient_id>",
                          "ids": {"patient_id": record["patient_id"]},
                          "reason": "needs the coordinator or clinician role"}
    since = _last_id(session)
    assert as_role("coordinator").get("/admin/users").status_code == 403
    (row,) = _denied(session, since)
    assert row.detail["route"] == "/admin/users" and row.patient_id is None
    assert row.detail["reason"] == "needs the admin role"


def test_a_missing_patient_is_denied_without_naming_anyone(as_role: Any, session: Any) -> None:
    since = _last_id(session)
    assert as_role("admin").get("/patients/999999").status_code == 403
    (row,) = _denied(session, since)
    assert row.patient_id is None and row.detail["ids"] == {"patient_id": 999999}


def test_an_action_the_role_may_not_take_is_audited_as_denied_and_changes_nothing(
    as_role: Any, record: dict[str, int], session: Any
) -> None:
    coordinator = as_role("coordinator")
    since = _last_id(session)
    url = f"/episodes/{record['episode_id']}/holds/{record['hold_id']}/clearance"
    r = coordinator.post(url, {"status": "approved", "by": "Dr. O"})
    assert r.status_code == 302
    (row,) = _denied(session, since)
    assert row.detail["reason"] == "needs the clinician role" and row.detail["ids"]["hold_id"] == record["hold_id"]
    assert [a.action for a in session.scalars(select(AuditEvent).where(AuditEvent.id > since))] == ["access.denied"]


def test_the_api_audits_a_403(both: Both, web_app: Any, record: dict[str, int], session: Any, env: Any) -> None:
    from pathway.services.base import SYSTEM
    from pathway.services.users import create_token

    admin_token = create_token(session, env, SYSTEM, "admin@example.test")
    session.flush()
    client = web_app.test_client()
    since = _last_id(session)
    r = client.get(f"/api/v1/episodes/{record['episode_id']}", headers={"Authorization": f"Bearer {admin_token}"},
                   environ_base={"REMOTE_ADDR": ADDR})
    assert r.status_code == 403
    (row,) = _denied(session, since)
    assert row.remote_addr == ADDR and row.detail["route"] == "/api/v1/episodes/<int:episode_id>"
    assert row.detail["ids"] == {"episode_id": record["episode_id"]}
    since = _last_id(session)
    r = client.post(f"/api/v1/holds/{record['hold_id']}/clearance", json={"status": "approved", "by": "Dr. O"},
                    headers={"Authorization": f"Bearer {both.token}"})
    assert r.status_code == 403
    (row,) = _denied(session, since)
    assert row.detail["reason"] == "needs the clinician role"
    assert _written(session, since)[0][0] == "access.denied" and len(_written(session, since)) == 1


def test_an_unsigned_webhook_is_audited_as_denied(web_app: Any, session: Any) -> None:
    since = _last_id(session)
    r = web_app.test_client().post("/webhooks/twilio/inbound", data={"From": "+12125550001", "Body": "STOP"},
                                   environ_base={"REMOTE_ADDR": ADDR})
    assert r.status_code == 403
    (row,) = _denied(session, since)
    assert row.actor == "webhook:unsigned" and row.remote_addr == ADDR and row.user_id is None
    assert "STOP" not in str(row.detail) and "+1212" not in str(row.detail)
