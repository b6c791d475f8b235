"""Calendars (issue 14): a patient's private calendar link and the staff feeds.

Through the real API and ``GET /ical/<token>.ics`` on the module's migrated database (SQLite, or
PostgreSQL under PATHWAY_TEST_DATABASE_URL); every feed is parsed with ``icalendar``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from icalendar import Calendar, Event
from sqlalchemy import select

from pathway.models import AuditEvent
from pathway.services.calendar import words
from pathway.timeline import load_catalogue, load_definition
from tests.web.conftest_api import Harness
from tests.web.loopback import LoopbackServer

NY, CHICAGO = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")
URL = re.compile(r"^https?://[^/]+/ical/[A-Za-z0-9_-]{43}\.ics$")


def _path(url: str) -> str:
    return urlsplit(url).path


def fetch(api: Harness, url: str) -> tuple[int, Calendar | None]:
    response = api.client.get(_path(url))
    if response.status_code != 200:
        return response.status_code, None
    assert response.content_type == "text/calendar; charset=utf-8"
    return 200, Calendar.from_ical(response.data)


def events(cal: Calendar | None) -> list[Event]:
    assert cal is not None
    return list(cal.walk("VEVENT"))


def by_summary(cal: Calendar | None, start: str) -> Event:
    found = [e for e in events(cal) if str(e["SUMMARY"]).startswith(start)]
    assert len(found) == 1, [str(e["SUMMARY"]) for e in events(cal)]
    return found[0]


def feed_text(api: Harness, url: str) -> str:
    response = api.client.get(_path(url))
    assert response.status_code == 200
    return Calendar.from_ical(response.data).to_ical().decode().replace("\r\n ", "")


def actions(api: Harness, patient_id: int | None = None) -> list[str]:
    with api.runtime.unit_of_work() as (session, _env):
        stmt = select(AuditEvent.action).where(AuditEvent.action.like("calendar%")).order_by(AuditEvent.id)
        if patient_id is not None:
            stmt = stmt.where(AuditEvent.patient_id == patient_id)
        return list(session.scalars(stmt))


# --- the patient's link ----------------------------------------------------------------------


def test_enrolment_gives_each_patient_a_private_link_on_the_patient_and_episode_answers(api: Harness) -> None:
    one, two = api.patient(), api.patient()
    assert URL.match(one["calendar_url"]) and URL.match(two["calendar_url"])
    assert one["calendar_url"] != two["calendar_url"]
    episode = api.episode(one["id"])
    assert episode["calendar_url"] == one["calendar_url"]
    assert api.get(f"/patients/{one['id']}").json["calendar_url"] == one["calendar_url"]
    assert api.get(f"/episodes/{episode['id']}").json["calendar_url"] == one["calendar_url"]
    status, cal = fetch(api, one["calendar_url"])
    assert status == 200 and len(events(cal)) == 1


def test_the_procedure_is_at_the_arrival_time_in_the_patients_zone_across_the_dst_change(api: Harness) -> None:
    # 14 March 2027 is the US change to daylight time: a procedure the day after is at -04:00 in
    # New York and -05:00 in Chicago, one the week before at -05:00 and -06:00.
    ny = api.patient(timezone="America/New_York")
    after = api.episode(ny["id"], procedure_at="2027-03-15T08:00", facility="Riverside Surgery Center",
                        facility_address="1200 N Main St")
    chicago = api.patient(timezone="America/Chicago")
    before = api.episode(chicago["id"], procedure_at="2027-03-08T08:00", facility="North Center",
                         arrival_at="2027-03-08T06:30")
    cal_ny = fetch(api, ny["calendar_url"])[1]
    ev = by_summary(cal_ny, "Arrive for your procedure")
    start, end = ev.decoded("DTSTART"), ev.decoded("DTEND")
    assert ev["DTSTART"].params["TZID"] == "America/New_York"
    assert start == datetime(2027, 3, 15, 7, 0, tzinfo=NY)  # the default arrival, 60 minutes before
    assert start.utcoffset() == timedelta(hours=-4)
    assert start.astimezone(UTC) == datetime.fromisoformat(after["arrival_at"])
    assert end == datetime(2027, 3, 15, 9, 0, tzinfo=NY)  # the procedure's end (60 minutes)
    assert str(ev["LOCATION"]) == after["place_in_text"] == "Riverside Surgery Center, 1200 N Main St"
    assert "7:00 AM" in str(ev["DESCRIPTION"]) and "8:00 AM" in str(ev["DESCRIPTION"])
    zones = {str(z["TZID"]) for z in cal_ny.walk("VTIMEZONE")}
    assert zones == {"America/New_York"}
    cal_chi = fetch(api, chicago["calendar_url"])[1]
    ev = by_summary(cal_chi, "Arrive for your procedure")
    assert ev["DTSTART"].params["TZID"] == "America/Chicago"
    assert ev.decoded("DTSTART") == datetime(2027, 3, 8, 6, 30, tzinfo=CHICAGO)  # the episode's own arrival
    assert ev.decoded("DTSTART").utcoffset() == timedelta(hours=-6)
    assert ev.decoded("DTSTART").astimezone(UTC) == datetime.fromisoformat(before["arrival_at"])
    # The VTIMEZONE says both offsets, so a calendar in another zone places the events right.
    chi_zone = next(z for z in cal_chi.walk("VTIMEZONE") if str(z["TZID"]) == "America/Chicago")
    offsets = {sub.decoded("TZOFFSETTO") for sub in chi_zone.subcomponents}
    assert {timedelta(hours=-6), timedelta(hours=-5)} <= offsets


def test_the_follow_up_and_pt_start_are_in_the_feed_in_spanish_for_a_spanish_patient(api: Harness) -> None:
    p = api.patient(language="es", timezone="America/Chicago")
    e = api.episode(p["id"], procedure_at="2027-03-10T08:00")
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    assert api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-18T10:00"}).status == 200
    assert api.post(f"/episodes/{e['id']}/pt-start", {"appointment_at": "2027-03-22T15:30"}).status == 200
    cal = fetch(api, p["calendar_url"])[1]
    assert str(cal["X-WR-CALNAME"]) == "Mis citas"
    proc = by_summary(cal, "Llegada para su procedimiento")
    assert "Llegue a las 07:00" in str(proc["DESCRIPTION"]) and "08:00" in str(proc["DESCRIPTION"])
    visit = by_summary(cal, "Cita de control")
    assert visit.decoded("DTSTART") == datetime(2027, 3, 18, 10, 0, tzinfo=CHICAGO)
    assert visit.decoded("DTSTART").utcoffset() == timedelta(hours=-5)  # after the change
    pt = by_summary(cal, "Empieza la terapia física")
    assert pt.decoded("DTSTART") == datetime(2027, 3, 22, 15, 30, tzinfo=CHICAGO)
    assert pt["DTSTART"].params["TZID"] == "America/Chicago"
    uids = [str(x["UID"]) for x in events(cal)]
    assert len(set(uids)) == 3 and all(f"-e{e['id']}-m" in u for u in uids)


def test_a_move_updates_the_event_with_the_same_uid_and_a_higher_sequence(api: Harness) -> None:
    p = api.patient()
    e = api.episode(p["id"], procedure_at="2027-03-12T08:00")  # before the change: -05:00
    first = by_summary(fetch(api, p["calendar_url"])[1], "Arrive")
    api.clock.set(T_LATER := datetime(2027, 2, 3, 15, 0, tzinfo=UTC))
    moved = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-15T08:00"})
    assert moved.status == 200, moved
    cal = fetch(api, p["calendar_url"])[1]
    assert len(events(cal)) == 1  # updated, not duplicated
    second = events(cal)[0]
    assert str(second["UID"]) == str(first["UID"])
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])
    assert second.decoded("LAST-MODIFIED") == T_LATER
    assert second.decoded("DTSTAMP") == T_LATER
    assert first.decoded("DTSTART") == datetime(2027, 3, 12, 7, 0, tzinfo=NY)
    assert second.decoded("DTSTART") == datetime(2027, 3, 15, 7, 0, tzinfo=NY)
    assert first.decoded("DTSTART").utcoffset() != second.decoded("DTSTART").utcoffset()


def test_a_cancelled_episode_keeps_its_event_marked_cancelled(api: Harness) -> None:
    p = api.patient()
    e = api.episode(p["id"])
    before = events(fetch(api, p["calendar_url"])[1])[0]
    assert str(before["STATUS"]) == "CONFIRMED"
    assert api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient asked"}).status == 200
    after = events(fetch(api, p["calendar_url"])[1])
    assert len(after) == 1
    assert str(after[0]["UID"]) == str(before["UID"])
    assert str(after[0]["STATUS"]) == "CANCELLED"
    assert int(after[0]["SEQUENCE"]) > int(before["SEQUENCE"])
    assert str(after[0]["SUMMARY"]).startswith("Cancelled: ")


def test_revoking_a_link_answers_404_and_a_reissued_one_works_audited(api: Harness) -> None:
    p = api.patient()
    api.episode(p["id"])
    old = p["calendar_url"]
    revoked = api.call("DELETE", f"/patients/{p['id']}/calendar")
    assert revoked.status == 200 and revoked.json["calendar_url"] is None
    assert fetch(api, old)[0] == 404
    assert api.get(f"/patients/{p['id']}").json["calendar_url"] is None
    reissued = api.post(f"/patients/{p['id']}/calendar")
    assert reissued.status == 200
    new = reissued.json["calendar_url"]
    assert URL.match(new) and new != old
    assert fetch(api, new)[0] == 200 and fetch(api, old)[0] == 404
    again = api.post(f"/patients/{p['id']}/calendar").json["calendar_url"]  # re-issue ends the current one
    assert fetch(api, new)[0] == 404 and fetch(api, again)[0] == 200
    assert actions(api, p["id"]) == ["calendar.revoke", "calendar.reissue", "calendar.reissue"]
    assert api.post(f"/patients/{p['id']}/calendar", role="admin").status == 403
    assert api.post("/patients/987654321/calendar").status == 404


@pytest.mark.parametrize("path", ["/ical/" + "A" * 43 + ".ics", "/ical/short.ics", "/ical/..%2Fetc.ics",
                                  "/ical/" + "x" * 300 + ".ics"])
def test_an_unknown_or_malformed_token_is_404(api: Harness, path: str) -> None:
    assert api.client.get(path).status_code == 404


def test_nothing_in_the_feeds_names_a_drug_the_procedure_or_the_patient(api: Harness) -> None:
    p = api.patient(given_name="Marisol", family_name="Quintana")
    e = api.episode(p["id"], procedure_at="2027-03-10T08:00", facility="Lakeside Spine Center",
                    facility_address="12 Elm St", levels="L4-L5", proceduralist="Dr. Words",
                    holds=[{"drug": "Plavix", "patient_label": "the white pill"}, {"drug": "apixaban"},
                           {"drug": "warfarin"}])
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-18T10:00"})
    feed = api.post("/calendar-feeds", {"kind": "proceduralist", "name": "Dr. Words"}).json
    catalogue = load_catalogue()
    drug_words = {d.name.casefold() for d in catalogue.drugs.values()} | {a.casefold() for a in catalogue.aliases}
    drug_words |= {h["drug_name"].casefold() for h in e["holds"]} | {"plavix", "eliquis", "coumadin", "white pill"}
    forbidden = drug_words | {w.casefold() for w in load_definition().revealing_words} | {
        "l4", "marisol", "quintana", p["mrn"].casefold(), p["phone"][-4:]}
    for url in (p["calendar_url"], feed["url"]):
        text = feed_text(api, url).casefold()
        hits = {w for w in forbidden if re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text)}
        assert hits == set(), (url, hits)
    # The place is the day-before text's: the facility's name carries "Spine", so the address only.
    assert e["place_in_text"] == "12 Elm St"
    assert "LOCATION:12 Elm St" in feed_text(api, p["calendar_url"])
    # The clinic's name ("Riverside Spine & Pain") is left out the same way.
    assert "call the clinic at" in feed_text(api, p["calendar_url"])


def test_a_patient_with_detailed_texts_sees_the_clinic_and_facility_names(api: Harness) -> None:
    p = api.patient(detailed_texts=True)
    api.episode(p["id"], facility="Lakeside Spine Center", facility_address="12 Elm St")
    text = feed_text(api, p["calendar_url"])
    assert "Lakeside Spine Center" in text and api.runtime.rules.clinic.name in text


# --- staff feeds -----------------------------------------------------------------------------


def test_staff_feeds_list_one_proceduralists_or_facilitys_procedures_and_visits_by_initials(api: Harness) -> None:
    doc = f"Dr. Feed {api.tag}"
    ana = api.patient(given_name="Ana", family_name="Ruiz", timezone="America/Chicago")
    bo = api.patient(given_name="Bo", family_name="Tan")
    a = api.episode(ana["id"], proceduralist=doc, facility=f"North {api.tag}", procedure_at="2027-03-15T08:00")
    b = api.episode(bo["id"], proceduralist=doc, facility=f"South {api.tag}", procedure_at="2027-03-12T09:00")
    api.episode(proceduralist=f"Dr. Other {api.tag}", facility=f"North {api.tag}")
    api.clock.set(datetime(2027, 3, 15, 16, 0, tzinfo=UTC))
    api.post(f"/episodes/{a['id']}/follow-up", {"appointment_at": "2027-03-23T11:00"})
    created = api.post("/calendar-feeds", {"kind": "proceduralist", "name": doc})
    assert created.status == 201 and URL.match(created.json["url"])
    cal = fetch(api, created.json["url"])[1]
    assert str(cal["X-WR-CALNAME"]) == doc
    summaries = sorted(str(e["SUMMARY"]) for e in events(cal))
    assert summaries == ["Follow-up visit: A.R.", "Procedure: A.R.", "Procedure: B.T."]
    proc = by_summary(cal, "Procedure: A.R.")
    assert proc["DTSTART"].params["TZID"] == "America/Chicago"  # the patient's zone: the time they come
    assert proc.decoded("DTSTART") == datetime(2027, 3, 15, 8, 0, tzinfo=CHICAGO)
    assert by_summary(cal, "Procedure: B.T.").decoded("DTSTART") == datetime(2027, 3, 12, 9, 0, tzinfo=NY)
    assert {str(z["TZID"]) for z in cal.walk("VTIMEZONE")} == {"America/Chicago", "America/New_York"}
    assert b["id"] != a["id"]
    facility = api.post("/calendar-feeds", {"kind": "facility", "name": f"North {api.tag}"}, role="admin")
    assert facility.status == 201
    north = sorted(str(e["SUMMARY"]) for e in events(fetch(api, facility.json["url"])[1]))
    assert north == ["Follow-up visit: A.R.", "Procedure: A.R.", "Procedure: P.E."]
    # A move in the patient's calendar moves the staff event too, same UID.
    uid = str(proc["UID"])
    api.clock.set(datetime(2027, 3, 1, 15, 0, tzinfo=UTC))
    assert api.patch(f"/episodes/{a['id']}", {"procedure_at": "2027-03-16T10:00"}).status == 200
    moved = [e for e in events(fetch(api, created.json["url"])[1]) if str(e["UID"]) == uid]
    assert len(moved) == 1 and moved[0].decoded("DTSTART") == datetime(2027, 3, 16, 10, 0, tzinfo=CHICAGO)
    # Episodes more than [lengths] staff_days_back (60) days past leave the staff feed.
    api.clock.set(datetime(2027, 3, 12, 15, 0, tzinfo=UTC) + words().staff_days_back + timedelta(days=1))
    left = sorted(str(e["SUMMARY"]) for e in events(fetch(api, created.json["url"])[1]))
    assert left == ["Follow-up visit: A.R.", "Procedure: A.R."]  # B.T.'s procedure of 12 March is gone


def test_staff_feeds_are_made_and_revoked_by_an_admin_or_coordinator_audited(api: Harness) -> None:
    assert api.post("/calendar-feeds", {"kind": "proceduralist", "name": "Dr. X"}, role="clinician").status == 403
    bad = api.post("/calendar-feeds", {"kind": "patient", "name": ""})
    assert bad.status == 422 and set(bad.errors) == {"kind", "name"}
    feed = api.post("/calendar-feeds", {"kind": "facility", "name": f"East {api.tag}"}).json
    listed = api.get("/calendar-feeds").json["feeds"]
    assert any(f["id"] == feed["id"] and f["revoked_at"] is None for f in listed)
    assert fetch(api, feed["url"])[0] == 200
    gone = api.call("DELETE", f"/calendar-feeds/{feed['id']}", role="admin")
    assert gone.status == 200 and gone.json["revoked_at"] is not None
    assert fetch(api, feed["url"])[0] == 404
    assert api.call("DELETE", f"/calendar-feeds/{feed['id']}").status == 409
    assert api.call("DELETE", "/calendar-feeds/987654321").status == 404
    assert "calendar_feed.create" in actions(api) and "calendar_feed.revoke" in actions(api)


# --- over real HTTP, as a calendar app subscribes --------------------------------------------


@pytest.fixture
def served(api: Harness) -> Iterator[str]:
    server = LoopbackServer(api.app)
    try:
        yield server.url
    finally:
        server.stop()


def test_a_calendar_app_subscribes_over_http_without_signing_in(api: Harness, served: str) -> None:
    p = api.patient()
    api.episode(p["id"], procedure_at="2027-03-15T08:00")
    got = requests.get(served + _path(p["calendar_url"]), timeout=10)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert got.headers["Cache-Control"] == "no-store"  # the address is the secret: no shared cache keeps it
    cal = Calendar.from_ical(got.content)
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    assert len(events(cal)) == 1
    api.call("DELETE", f"/patients/{p['id']}/calendar")
    assert requests.get(served + _path(p["calendar_url"]), timeout=10).status_code == 404


def test_the_feed_words_exist_in_both_languages() -> None:
    w = words()
    patient_keys = {k for k in w.of("en") if not k.startswith("staff_")}
    assert patient_keys <= set(w.of("es"))
