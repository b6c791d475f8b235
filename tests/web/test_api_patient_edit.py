"""PATCH /api/v1/patients/<id>: editing a patient re-plans what the edit affects (issue 10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from pathway.models import Patient
from tests.web.conftest_api import MISSING_ID, T0, Harness
from tests.web.sms_words import template_words

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _texts(api: Harness, patient_id: int) -> list[dict[str, Any]]:
    """The patient's texts as stored (kind, status, send time, body), oldest first."""
    with api.runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, episode_id, kind, status, send_at, body, language FROM messages "
                                 "WHERE patient_id = :p ORDER BY id"), {"p": patient_id})
        return [dict(r._mapping) for r in rows]


def _utc(value: Any) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite gives it back as naive UTC text)."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _pending(api: Harness, patient_id: int, kind: str) -> dict[str, Any]:
    (msg,) = [m for m in _texts(api, patient_id) if m["kind"] == kind and m["status"] == "scheduled"]
    return msg


def _audit(api: Harness, patient_id: int, action: str) -> list[dict[str, Any]]:
    with api.runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT detail FROM audit_events WHERE patient_id = :p AND action = :a ORDER BY id"),
                            {"p": patient_id, "a": action}).scalars()
        return [json.loads(d) if isinstance(d, str) else d for d in rows]


# --- each field ------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "stored"), [
    ("given_name", " Ana ", "Ana"),
    ("family_name", "Ortega", "Ortega"),
    ("phone", "(212) 555-0177", "+12125550177"),
    ("timezone", "America/Chicago", "America/Chicago"),
    ("language", "es", "es"),
    ("detailed_texts", True, True),
])
def test_each_field_sent_is_changed_and_named_in_the_answer(api: Harness, field: str, value: Any, stored: Any) -> None:
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}", {field: value})
    assert answer.status == 200, answer
    assert answer.json[field] == stored
    assert answer.json["change"]["applied"] is True and answer.json["change"]["fields"] == [field]
    untouched = {k: v for k, v in patient.items() if k not in (field, "can_text", "phone_flagged", "version")}
    assert {k: answer.json[k] for k in untouched} == untouched
    assert answer.json["version"] == patient["version"] + 1
    assert api.get(f"/patients/{patient['id']}").json[field] == stored


def test_a_field_sent_with_its_current_value_changes_nothing_and_is_not_listed(api: Harness) -> None:
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}", {"language": "en", "timezone": "America/New_York"})
    assert answer.status == 200 and answer.json["change"]["fields"] == []
    assert answer.json["change"]["texts"] == [] and answer.json["change"]["episodes"] == []


# --- validation ------------------------------------------------------------------------------


def test_bad_values_are_refused_naming_each_field_and_nothing_is_stored(api: Harness) -> None:
    patient = api.patient()
    before = api.snapshot()
    answer = api.patch(f"/patients/{patient['id']}", {
        "given_name": "", "family_name": "x" * 121, "phone": "555", "timezone": "Mars/Base", "language": "fr",
        "detailed_texts": "maybe", "sms_consent": "perhaps"})
    assert answer.status == 422
    assert set(answer.errors) == {"given_name", "family_name", "phone", "timezone", "language", "detailed_texts",
                                  "sms_consent"}
    assert answer.errors["phone"] == "not a valid US mobile number: 555"
    assert answer.errors["timezone"].startswith("not a known IANA time zone")
    assert api.snapshot() == before


def test_a_toll_free_number_is_refused_as_at_enrolment(api: Harness) -> None:
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}", {"phone": "+1 800 555 0199"})
    assert answer.status == 422 and answer.errors["phone"].endswith("enter a mobile number that can receive texts")


def test_mrn_birth_date_and_unknown_fields_cannot_be_changed_here(api: Harness) -> None:
    patient = api.patient()
    before = api.snapshot()
    answer = api.patch(f"/patients/{patient['id']}", {"mrn": "Z1", "birth_date": "1951-01-01", "colour": "red",
                                                      "given_name": "Ana"})
    assert answer.status == 422 and set(answer.errors) == {"mrn", "birth_date", "colour"}
    assert answer.errors["mrn"].startswith("cannot be changed here; send only given_name, family_name, phone")
    assert api.snapshot() == before


def test_an_edit_needs_at_least_one_field(api: Harness) -> None:
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}", {})
    assert answer.status == 422 and answer.errors["body"].startswith("send at least one of given_name")


def test_a_consent_method_alone_is_refused(api: Harness) -> None:
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}", {"consent_method": "written"})
    assert answer.status == 422 and "sms_consent: true" in answer.errors["consent_method"]


def test_a_missing_patient_is_404_and_a_bad_preview_flag_is_422(api: Harness) -> None:
    assert api.patch(f"/patients/{MISSING_ID}", {"language": "es"}).status == 404
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}?preview=maybe", {"language": "es"})
    assert answer.status == 422 and set(answer.errors) == {"preview"}


# --- roles and audit -------------------------------------------------------------------------


def test_an_admin_may_not_edit_a_patient_whether_or_not_it_exists(api: Harness) -> None:
    patient = api.patient()
    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    assert api.patch(f"/patients/{patient['id']}", {"language": "es"}, role="admin").status == 403
    assert api.patch(f"/patients/{MISSING_ID}", {"language": "es"}, role="admin").status == 403
    assert api.snapshot(exclude=("audit_events",)) == before
    # Only each refusal's audit row is stored (issue 13: denied attempts are audited).
    assert [a[0] for a in api.audit_actions()[audited:]] == ["access.denied"] * 2


def test_a_clinician_may_edit_a_patient(api: Harness) -> None:
    patient = api.patient()
    assert api.patch(f"/patients/{patient['id']}", {"detailed_texts": True}, role="clinician").status == 200


def test_each_edit_is_audited_once_naming_the_fields_never_the_values(api: Harness) -> None:
    patient = api.patient()
    api.patch(f"/patients/{patient['id']}?preview=1", {"given_name": "Zelda", "phone": "(212) 555-0177"})
    api.patch(f"/patients/{patient['id']}", {"given_name": "Zelda", "phone": "(212) 555-0177"})
    (preview,) = _audit(api, patient["id"], "patient.update_preview")
    (edit,) = _audit(api, patient["id"], "patient.update")
    assert preview["fields"] == edit["fields"] == ["given_name", "phone"]
    for detail in (preview, edit):
        assert "Zelda" not in json.dumps(detail) and "0177" not in json.dumps(detail)
    actions = [a for a, *_ in api.audit_actions(patient_id=patient["id"])]
    assert actions.count("patient.update") == 1 and actions.count("patient.update_preview") == 1


# --- what an edit does to the texts ----------------------------------------------------------


def test_a_preview_changes_nothing_and_answers_the_texts_that_would_change(api: Harness) -> None:
    episode = api.episode(procedure_at="2027-03-10T08:00")
    pid = episode["patient_id"]
    before = api.snapshot(exclude=("audit_events",))
    answer = api.patch(f"/patients/{pid}?preview=1", {"timezone": "America/Chicago", "language": "es"})
    assert answer.status == 200
    change = answer.json
    assert change["applied"] is False and change["fields"] == ["timezone", "language"]
    assert api.snapshot(exclude=("audit_events",)) == before
    pre = next(t for t in change["texts"] if t["kind"] == "pre_procedure")
    assert pre["send_at_before_local"] == "2027-03-09T10:00:00-05:00"  # 10:00 in New York...
    assert pre["send_at_after_local"] == "2027-03-09T10:00:00-06:00"  # ...becomes 10:00 in Chicago
    assert template_words("pre_procedure", "en") in pre["body_before"]
    assert template_words("pre_procedure", "es") in pre["body_after"]
    (diff,) = change["episodes"]
    assert diff["episode_id"] == episode["id"] and diff["applied"] is False
    # The episode's re-plan: texts that keep their time are re-worded, with the words before and after.
    check = next(r for r in diff["messages_reworded"] if r["kind"] == "check_72h")
    assert template_words("check_72h", "en") in check["body_before"]
    assert template_words("check_72h", "es") in check["body_after"]
    assert any(line.startswith("Reword: ") for line in diff["summary"])
    # What the preview said is what the edit then does.
    applied = api.patch(f"/patients/{pid}", {"timezone": "America/Chicago", "language": "es"}).json["change"]
    strip = ("applied", "message_id")
    assert [{k: v for k, v in t.items() if k not in strip} for t in applied["texts"]] == [
        {k: v for k, v in t.items() if k not in strip} for t in change["texts"]]


def test_a_time_zone_change_moves_a_text_to_the_same_local_time_in_the_new_zone(api: Harness) -> None:
    episode = api.episode(procedure_at="2027-03-10T08:00")
    pid = episode["patient_id"]
    assert _utc(_pending(api, pid, "pre_procedure")["send_at"]).isoformat() == "2027-03-09T15:00:00+00:00"
    answer = api.patch(f"/patients/{pid}", {"timezone": "America/Chicago"})
    assert answer.status == 200 and answer.json["timezone"] == "America/Chicago"
    # 10:00 the day before, in the patient's zone: now 10:00 in Chicago, an hour later in UTC.
    assert _utc(_pending(api, pid, "pre_procedure")["send_at"]).isoformat() == "2027-03-09T16:00:00+00:00"
    shown = next(m for m in api.get(f"/episodes/{episode['id']}").json["messages"]
                 if m["kind"] == "pre_procedure" and m["status"] == "scheduled")
    assert shown["send_at_local"] == "2027-03-09T10:00:00-06:00"


def test_a_time_zone_change_keeps_a_text_out_of_the_new_zones_quiet_hours(api: Harness) -> None:
    # The 72-hour check is 72 hours after the procedure (08:00 in New York): 07:00 in Chicago,
    # before quiet hours end there, so it goes at 08:00 Chicago time.
    episode = api.episode(procedure_at="2027-03-10T08:00")
    pid = episode["patient_id"]
    assert _utc(_pending(api, pid, "check_72h")["send_at"]).isoformat() == "2027-03-13T13:00:00+00:00"
    change = api.patch(f"/patients/{pid}", {"timezone": "America/Chicago"}).json["change"]
    assert _utc(_pending(api, pid, "check_72h")["send_at"]).isoformat() == "2027-03-13T14:00:00+00:00"
    check = next(t for t in change["texts"] if t["kind"] == "check_72h")
    assert check["send_at_after_local"] == "2027-03-13T08:00:00-06:00"


def test_a_time_zone_change_keeps_the_local_time_across_daylight_saving_time(api: Harness) -> None:
    # Phoenix keeps UTC-7 all year; Denver is UTC-7 today (February) but UTC-6 after 14 March.
    # A text after the change must move an hour in UTC though the zones agree on the day of the edit.
    patient = api.patient(timezone="America/Phoenix")
    episode = api.episode(patient["id"], procedure_at="2027-03-20T08:00")
    assert _utc(_pending(api, patient["id"], "pre_procedure")["send_at"]).isoformat() == "2027-03-19T17:00:00+00:00"
    change = api.patch(f"/patients/{patient['id']}", {"timezone": "America/Denver"}).json["change"]
    assert _utc(_pending(api, patient["id"], "pre_procedure")["send_at"]).isoformat() == "2027-03-19T16:00:00+00:00"
    pre = next(t for t in change["texts"] if t["kind"] == "pre_procedure")
    assert (pre["send_at_before_local"], pre["send_at_after_local"]) == (
        "2027-03-19T10:00:00-07:00", "2027-03-19T10:00:00-06:00")
    assert change["episodes"][0]["episode_id"] == episode["id"]


def test_a_language_change_rewords_every_text_not_yet_sent_in_spanish(api: Harness) -> None:
    episode = api.episode(procedure_at="2027-03-10T08:00")
    pid = episode["patient_id"]
    answer = api.patch(f"/patients/{pid}", {"language": "es"})
    assert answer.status == 200
    pending = [m for m in _texts(api, pid) if m["status"] == "scheduled"]
    assert {m["kind"] for m in pending} >= {"enrolment", "pre_procedure", "check_72h"}
    assert all(m["language"] == "es" for m in pending)
    bodies = {m["kind"]: m["body"] for m in pending}
    for kind in ("enrolment", "pre_procedure", "check_72h"):
        assert template_words(kind, "es") in bodies[kind], kind
    assert "Responda STOP" in bodies["enrolment"]
    reworded = {t["kind"] for t in answer.json["change"]["texts"]}
    assert reworded >= {"enrolment", "pre_procedure", "check_72h"}
    shown = [m for m in api.get(f"/episodes/{episode['id']}").json["messages"] if m["status"] == "scheduled"]
    assert shown and all(m["body"] == bodies[m["kind"]] for m in shown)


def test_detailed_texts_name_the_procedure_in_texts_not_yet_sent(api: Harness) -> None:
    # Without a place: the English day-before text with one says "Arrive <when> at <place>", and
    # gives the room "for your procedure" would take to the place (one segment).
    episode = api.episode(procedure_at="2027-03-10T08:00", facility="")
    pid = episode["patient_id"]
    assert "MILD" not in _pending(api, pid, "pre_procedure")["body"]
    assert "MILD" not in _pending(api, pid, "enrolment")["body"]
    api.patch(f"/patients/{pid}", {"detailed_texts": True})
    assert "MILD" in _pending(api, pid, "pre_procedure")["body"]
    assert "MILD" in _pending(api, pid, "enrolment")["body"]


def test_a_sent_text_is_history_and_is_not_changed_by_an_edit(api: Harness) -> None:
    episode = api.episode(procedure_at="2027-03-10T08:00")
    pid = episode["patient_id"]
    enrolment = _pending(api, pid, "enrolment")
    with api.runtime.engine.begin() as conn:  # as if the dispatcher had sent it
        conn.execute(text("UPDATE messages SET status = 'sent' WHERE id = :id"), {"id": enrolment["id"]})
    api.patch(f"/patients/{pid}", {"language": "es", "timezone": "America/Chicago"})
    (after,) = [m for m in _texts(api, pid) if m["id"] == enrolment["id"]]
    assert (after["body"], after["send_at"], after["language"]) == (
        enrolment["body"], enrolment["send_at"], "en")


# --- phone and consent -----------------------------------------------------------------------


def test_a_new_number_clears_the_refused_number_flag_and_gets_the_enrolment_text(api: Harness) -> None:
    patient = api.patient()
    pid = patient["id"]
    with api.runtime.engine.begin() as conn:  # the first enrolment text went out; the number was then refused
        conn.execute(text("UPDATE messages SET status = 'sent' WHERE patient_id = :p"), {"p": pid})
    with api.runtime.unit_of_work() as (session, env):
        flagged = session.get(Patient, pid)
        flagged.phone_flagged_at, flagged.phone_flag_reason = env.now, "21614 not a mobile"
    assert api.get(f"/patients/{pid}").json["can_text"] is False
    api.clock.set(T0 + timedelta(days=2))  # the coordinator calls the patient and gets the right number
    answer = api.patch(f"/patients/{pid}", {"phone": "(212) 555-0177"})
    assert answer.status == 200
    assert answer.json["phone"] == "+12125550177"
    assert answer.json["phone_flagged"] is False and answer.json["can_text"] is True
    assert answer.json["change"]["enrolment_text"] is True
    new = _pending(api, pid, "enrolment")  # the new number has never had "Reply STOP to opt out"
    assert "Reply STOP to opt out, HELP for help" in new["body"]
    added = [t for t in answer.json["change"]["texts"] if t["kind"] == "enrolment"]
    assert len(added) == 1 and added[0]["message_id"] is None and added[0]["body_after"] == new["body"]


def test_a_new_number_gets_no_second_enrolment_text_while_the_first_still_waits(api: Harness) -> None:
    patient = api.patient()
    answer = api.patch(f"/patients/{patient['id']}", {"phone": "(212) 555-0178"})
    assert answer.json["change"]["enrolment_text"] is False
    assert len([m for m in _texts(api, patient["id"]) if m["kind"] == "enrolment"]) == 1


def test_a_new_number_of_a_patient_without_consent_gets_no_text(api: Harness) -> None:
    patient = api.patient(sms_consent=False)
    answer = api.patch(f"/patients/{patient['id']}", {"phone": "(212) 555-0179"})
    assert answer.json["change"]["enrolment_text"] is False and _texts(api, patient["id"]) == []


def test_withdrawn_consent_suppresses_every_text_not_yet_sent_as_staffs(api: Harness) -> None:
    episode = api.episode(procedure_at="2027-03-10T08:00")
    pid = episode["patient_id"]
    waiting = [m for m in _texts(api, pid) if m["status"] == "scheduled"]
    preview = api.patch(f"/patients/{pid}?preview=1", {"sms_consent": False}).json
    assert preview["messages_suppressed"] == len(waiting) and len(preview["texts"]) == len(waiting)
    assert all(t["send_at_after"] is None and t["body_after"] is None for t in preview["texts"])
    assert all(m["status"] == "scheduled" for m in _texts(api, pid))
    answer = api.patch(f"/patients/{pid}", {"sms_consent": False})
    assert answer.status == 200
    p = answer.json
    assert (p["sms_consent"], p["can_text"], p["opted_out_via"]) == (False, False, "consent withdrawn (staff)")
    assert p["change"]["messages_suppressed"] == len(waiting)
    assert all(m["status"] == "suppressed" for m in _texts(api, pid))
    with api.runtime.engine.connect() as conn:
        sources = set(conn.execute(text(
            "SELECT e.source || ' ' || e.actor FROM message_events e JOIN messages m ON m.id = e.message_id "
            "WHERE m.patient_id = :p AND e.to_status = 'suppressed'"), {"p": pid}).scalars())
    assert sources == {f"user user:{api.user_ids['coordinator']}"}


def test_consent_given_again_is_recorded_and_queues_the_enrolment_text(api: Harness) -> None:
    patient = api.patient(sms_consent=False)
    answer = api.patch(f"/patients/{patient['id']}", {"sms_consent": True, "consent_method": "written"})
    p = answer.json
    assert (p["sms_consent"], p["sms_consent_method"], p["can_text"]) == (True, "written", True)
    assert p["change"]["fields"] == ["sms_consent", "consent_method"] and p["change"]["enrolment_text"] is True
    assert "Reply STOP" in _pending(api, patient["id"], "enrolment")["body"]
