"""The day-before text's arrival time and place (issue 11, "The texts themselves"): the episode's
`arrival_at` and `facility_address`, through the JSON API on SQLite and PostgreSQL with the
injected clock, across the spring-forward change in New York (Sunday 14 March 2027)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest_api import Harness

# Friday before the change (EST, UTC-5) and Monday after it (EDT, UTC-4), 08:00 local both.
FRIDAY = "2027-03-12T08:00"
MONDAY = "2027-03-15T08:00"
NOT_PLAN = ("audit_events", "api_tokens")


def _day_before(episode: dict[str, Any]) -> dict[str, Any]:
    found = [m for m in episode["messages"] if m["kind"] == "pre_procedure" and m["status"] == "scheduled"]
    assert len(found) == 1, episode["messages"]
    return found[0]


def test_without_an_arrival_time_the_text_says_the_default_hour_before_in_the_patients_zone(api: Harness) -> None:
    e = api.episode(procedure_at=MONDAY, facility_address="1200 N Main St")
    # 08:00 EDT is 12:00 UTC: the default lead (60 minutes, mild_pathway.toml) is 07:00 EDT.
    assert e["arrival_default"] is True
    assert (e["arrival_at"], e["arrival_at_local"]) == ("2027-03-15T11:00:00+00:00", "2027-03-15T07:00:00-04:00")
    assert e["facility_address"] == "1200 N Main St"
    assert e["place_in_text"] == "Riverside Surgery Center, 1200 N Main St"
    text = _day_before(e)
    # Sent the day before at 10:00 local, which is already EDT on Sunday the 14th.
    assert text["send_at"] == "2027-03-14T14:00:00+00:00"
    assert text["body"] == ("Riverside Spine & Pain: Arrive Mon Mar 15 by 7:00 AM at Riverside Surgery Center, "
                            "1200 N Main St. Bring a driver. Eat/drink only as told. Call +15555550100")
    assert text["segments"] == 1


def test_an_arrival_time_is_kept_its_lead_when_the_procedure_moves_across_the_clock_change(api: Harness) -> None:
    e = api.episode(procedure_at=FRIDAY, arrival_at="2027-03-12T06:45")
    assert e["arrival_default"] is False
    assert (e["arrival_at"], e["arrival_at_local"]) == ("2027-03-12T11:45:00+00:00", "2027-03-12T06:45:00-05:00")
    assert "Arrive Fri Mar 12 by 6:45 AM at Riverside Surgery Center." in _day_before(e)["body"]
    moved = api.patch(f"/episodes/{e['id']}", {"procedure_at": MONDAY})
    assert moved.status == 200, moved
    got = moved.json
    # 75 minutes before 08:00 EDT: 06:45 local on Monday, one hour less in UTC than on Friday.
    assert (got["arrival_at"], got["arrival_at_local"]) == ("2027-03-15T10:45:00+00:00", "2027-03-15T06:45:00-04:00")
    assert "Arrive Mon Mar 15 by 6:45 AM" in _day_before(got)["body"]


def test_changing_the_arrival_rewords_the_day_before_text_with_a_preview_first(api: Harness) -> None:
    e = api.episode(procedure_at=MONDAY)
    before = api.snapshot(exclude=NOT_PLAN)
    preview = api.patch(f"/episodes/{e['id']}?preview=1", {"arrival_at": "2027-03-15T06:30"})
    assert preview.status == 200 and preview.json["applied"] is False
    (reworded,) = preview.json["messages_reworded"]
    assert "by 7:00 AM" in reworded["body_before"] and "by 6:30 AM" in reworded["body_after"]
    assert api.snapshot(exclude=NOT_PLAN) == before
    applied = api.patch(f"/episodes/{e['id']}", {"arrival_at": "2027-03-15T06:30"})
    assert applied.status == 200 and applied.json["arrival_default"] is False
    assert "by 6:30 AM" in _day_before(applied.json)["body"]
    reset = api.patch(f"/episodes/{e['id']}", {"arrival_at": None})
    assert reset.status == 200 and reset.json["arrival_default"] is True
    assert "by 7:00 AM" in _day_before(reset.json)["body"]
    assert api.get(f"/episodes/{e['id']}").json["arrival_at_local"] == "2027-03-15T07:00:00-04:00"


def test_an_arrival_after_the_procedure_or_absurdly_early_is_refused_naming_the_field(api: Harness) -> None:
    patient = api.patient()
    before = api.snapshot(exclude=NOT_PLAN)
    for arrival in ("2027-03-15T08:00", "2027-03-15T09:30", "2027-03-15T03:59", "2027-03-14T07:00"):
        bad = api.post(f"/patients/{patient['id']}/episodes", {"procedure_at": MONDAY, "arrival_at": arrival})
        assert bad.status == 422 and set(bad.errors) == {"arrival_at"}, (arrival, bad)
    assert "before the procedure" in api.post(f"/patients/{patient['id']}/episodes",
                                              {"procedure_at": MONDAY, "arrival_at": "2027-03-15T09:00"}).errors[
        "arrival_at"]
    assert api.snapshot(exclude=NOT_PLAN) == before
    # Four hours ahead is the most (arrival_max_minutes_before = 240), counted in real time.
    ok = api.post(f"/patients/{patient['id']}/episodes", {"procedure_at": MONDAY, "arrival_at": "2027-03-15T04:00"})
    assert ok.status == 201, ok
    e = ok.json
    late = api.patch(f"/episodes/{e['id']}", {"arrival_at": "2027-03-15T08:15"})
    assert late.status == 422 and set(late.errors) == {"arrival_at"}
    # A move that leaves a set arrival after the new start is not possible: the lead is kept.
    moved = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-16T13:00"})
    assert moved.status == 200 and moved.json["arrival_at_local"] == "2027-03-16T09:00:00-04:00"
    both = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-17T13:00", "arrival_at": "2027-03-17T14:00"})
    assert both.status == 422 and set(both.errors) == {"arrival_at"}


def test_an_address_line_that_tells_what_the_visit_is_for_is_refused_unless_detailed_texts(api: Harness) -> None:
    patient = api.patient()
    before = api.snapshot(exclude=NOT_PLAN)
    for line in ("200 Spine Way", "Pain clinic, 2nd floor", "MILD suite, 12 Elm St", "Edificio de Neurocirugía"):
        bad = api.post(f"/patients/{patient['id']}/episodes", {"procedure_at": MONDAY, "facility_address": line})
        assert bad.status == 422 and set(bad.errors) == {"facility_address"}, (line, bad)
    too_long = api.post(f"/patients/{patient['id']}/episodes", {"procedure_at": MONDAY, "facility_address": "x" * 61})
    assert too_long.status == 422 and "60" in too_long.errors["facility_address"]
    two_lines = api.post(f"/patients/{patient['id']}/episodes", {"procedure_at": MONDAY,
                                                                  "facility_address": "12 Elm St\nSuite 4"})
    assert two_lines.status == 422 and set(two_lines.errors) == {"facility_address"}
    assert api.snapshot(exclude=NOT_PLAN) == before
    # Whole words only: a street that merely contains the letters is fine.
    e = api.episode(patient["id"], procedure_at=MONDAY, facility_address="40 Painter St")
    assert e["place_in_text"] == "Riverside Surgery Center, 40 Painter St"
    refused = api.patch(f"/episodes/{e['id']}", {"facility_address": "Lumbar wing, 40 Painter St"})
    assert refused.status == 422 and set(refused.errors) == {"facility_address"}
    # A patient who chose detailed texts may be told.
    detailed = api.patient(detailed_texts=True)
    d = api.episode(detailed["id"], procedure_at=MONDAY, facility="Riverside",
                    facility_address="Spine wing, 40 Painter St")
    assert "at Riverside, Spine wing, 40 Painter St." in _day_before(d)["body"]


def test_a_facility_name_that_reveals_stays_for_staff_and_the_text_gives_only_the_address(api: Harness) -> None:
    e = api.episode(procedure_at=MONDAY, facility="Northside Spine Center", facility_address="9 Elm St")
    assert e["facility"] == "Northside Spine Center" and e["place_in_text"] == "9 Elm St"
    body = _day_before(e)["body"]
    assert "Spine Center" not in body and "AM at 9 Elm St. Bring a driver." in body
    # No place a text may carry: the text says when, without where, in one segment.
    bare = api.episode(procedure_at=MONDAY, facility="Northside Spine Center")
    assert bare["place_in_text"] == ""
    text = _day_before(bare)
    assert "Arrive Mon Mar 15 by 7:00 AM for your procedure. Bring a driver." in text["body"]
    assert text["segments"] == 1
    # Turning detailed texts off later drops an address line that was fine for detailed texts.
    detailed = api.patient(detailed_texts=True)
    d = api.episode(detailed["id"], procedure_at=MONDAY, facility="Riverside", facility_address="Spine wing, 9 Elm St")
    off = api.patch(f"/patients/{detailed['id']}", {"detailed_texts": False})
    assert off.status == 200, off
    again = api.get(f"/episodes/{d['id']}").json
    assert again["place_in_text"] == "Riverside"
    assert "Spine wing" not in _day_before(again)["body"]


def test_the_spanish_day_before_text_gives_the_arrival_and_the_place(api: Harness) -> None:
    patient = api.patient(language="es")
    e = api.episode(patient["id"], procedure_at=MONDAY, arrival_at="2027-03-15T06:00",
                    facility_address="1200 N Main St")
    body = _day_before(e)["body"]
    assert body == ("Riverside Spine & Pain: llegue el lunes 15 de marzo antes de las 6:00 para su procedimiento "
                    "en Riverside Surgery Center, 1200 N Main St. Venga con quien le lleve a casa y siga las "
                    "indicaciones de ayuno. Dudas: +15555550100")


def test_an_address_line_that_cannot_fit_beside_the_name_is_refused_and_a_long_name_is_left_out(
        api: Harness) -> None:
    """The default English day-before text is one segment: the facility's name and address line
    may take `[procedure_day] place_max_chars` (40) characters together in it."""
    patient = api.patient()
    before = api.snapshot(exclude=NOT_PLAN)
    data = {"procedure_at": MONDAY, "facility": "Riverside Surgery Center",
            "facility_address": "1200 N Main St, Suite 300"}
    bad = api.post(f"/patients/{patient['id']}/episodes", data)
    assert bad.status == 422 and set(bad.errors) == {"facility_address"}, bad
    assert "40 characters together" in bad.errors["facility_address"]
    assert "shorten the address line or the facility's name" in bad.errors["facility_address"]
    assert api.snapshot(exclude=NOT_PLAN) == before
    e = api.episode(patient["id"], procedure_at=MONDAY, facility="Riverside Surgery Center",
                    facility_address="1200 N Main St")
    assert e["place_in_text"] == "Riverside Surgery Center, 1200 N Main St"
    assert _day_before(e)["segments"] == 1
    # The same through the PATCH, nothing changed.
    kept = api.snapshot(exclude=NOT_PLAN)
    refused = api.patch(f"/episodes/{e['id']}", {"facility_address": "1200 N Main St, Suite 300"})
    assert refused.status == 422 and set(refused.errors) == {"facility_address"}
    assert api.snapshot(exclude=NOT_PLAN) == kept
    # Alone, an address line has the whole room; a longer one is refused with it.
    alone = api.patch(f"/episodes/{e['id']}", {"facility": "", "facility_address": "x" * 41})
    assert alone.status == 422 and "room for 40" in alone.errors["facility_address"]
    # A longer facility name is kept for staff; the text gives the address line alone, one segment.
    renamed = api.patch(f"/episodes/{e['id']}", {"facility": "Riverside Ambulatory Surgery Center"})
    assert renamed.status == 200, renamed
    got = renamed.json
    assert got["facility"] == "Riverside Ambulatory Surgery Center" and got["place_in_text"] == "1200 N Main St"
    text = _day_before(got)
    assert "AM at 1200 N Main St. Bring a driver." in text["body"] and text["segments"] == 1
    # That name could fit beside a shorter address line, so a longer one is still refused ...
    suite = api.patch(f"/episodes/{e['id']}", {"facility_address": "1200 N Main St, Suite 300"})
    assert suite.status == 422 and set(suite.errors) == {"facility_address"}
    # ... while a name longer than the room alone never counts: the address line has it all.
    longest = api.patch(f"/episodes/{e['id']}", {"facility": "Riverside Regional Ambulatory Surgery Center"})
    assert longest.status == 200 and longest.json["place_in_text"] == "1200 N Main St"
    suite = api.patch(f"/episodes/{e['id']}", {"facility_address": "1200 N Main St, Suite 300"})
    assert suite.status == 200 and suite.json["place_in_text"] == "1200 N Main St, Suite 300"
    assert _day_before(suite.json)["segments"] == 1
