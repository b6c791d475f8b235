"""The JSON API: episodes, holds, appointments and milestones, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.web.conftest_api import MISSING_ID, T0, Harness

UTC = UTC
CLOPIDOGREL = {"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz", "prescriber_phone": "(212) 555-0199"}
# What a preview may write: its audit row (and a token's last-used time). Nothing else.
NOT_PLAN = ("audit_events", "api_tokens")


def _by_kind(items: list[dict]) -> dict[str, dict]:
    return {i["kind"]: i for i in items}


def _scheduled(episode: dict) -> set[tuple[str, str]]:
    return {(m["kind"], m["send_at"]) for m in episode["messages"] if m["status"] == "scheduled"}


# --- scheduling ----------------------------------------------------------------------------


def test_scheduling_answers_the_episode_with_its_plan_in_utc_and_patient_local_time(api: Harness) -> None:
    p = api.patient()
    answer = api.post(f"/patients/{p['id']}/episodes", {
        "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center", "proceduralist": "Dr. Lee",
        "levels": "L4-L5", "holds": [CLOPIDOGREL],
    })
    assert answer.status == 201
    e = answer.json
    assert answer.headers["Location"].endswith(f"/api/v1/episodes/{e['id']}")
    assert e["patient_id"] == p["id"] and e["status"] == "scheduled"
    assert e["procedure_at"] == "2027-03-10T13:00:00+00:00"  # 08:00 EST, given without an offset
    assert e["procedure_at_local"] == "2027-03-10T08:00:00-05:00" and e["timezone"] == "America/New_York"
    assert (e["facility"], e["proceduralist"], e["levels"], e["duration_minutes"]) == (
        "Riverside Surgery Center", "Dr. Lee", "L4-L5", 60)
    (hold,) = e["holds"]
    assert hold["drug"] == "clopidogrel" and hold["catalogued"] is True
    assert hold["last_dose_on"] == "2027-03-02" and hold["last_dose_at"] is None
    assert hold["restart_at"] == "2027-03-11T14:00:00+00:00"
    assert hold["restart_at_local"] == "2027-03-11T09:00:00-05:00"
    assert hold["clearance"] == "needed" and hold["signed"] is False
    assert hold["prescriber_phone"] == "+12125550199"
    kinds = {(m["kind"], m["hold_id"]) for m in e["milestones"]}
    assert kinds == {("hold_clearance", hold["id"]), ("last_dose", hold["id"]), ("pre_procedure", None),
                     ("procedure", None), ("restart", hold["id"]), ("check_72h", None), ("follow_up", None),
                     ("pt_start", None)}
    follow_up = _by_kind(e["milestones"])["follow_up"]
    assert follow_up["due_at"] is None
    assert (follow_up["window_start"], follow_up["window_end"]) == ("2027-03-17T04:00:00+00:00",
                                                                    "2027-03-21T04:00:00+00:00")
    assert follow_up["label"] == "Clinic follow-up visit" and follow_up["status"] == "planned"
    # Until the hold is approved and signed nothing tells the patient to stop the drug.
    assert _scheduled(e) == {("pre_procedure", "2027-03-09T15:00:00+00:00"),
                             ("check_72h", "2027-03-13T13:00:00+00:00")}
    assert [c["item"] for c in e["checklist"]] == ["clopidogrel hold", "Escort arranged"]
    assert ("episode.schedule", "episode", e["id"], p["id"], api.user_ids["coordinator"], "203.0.113.7") in \
        api.audit_actions(patient_id=p["id"])


def test_a_procedure_time_with_an_offset_is_taken_as_given(api: Harness) -> None:
    e = api.episode(procedure_at="2027-03-10T09:30:00Z")
    assert e["procedure_at"] == "2027-03-10T09:30:00+00:00" and e["procedure_at_local"] == "2027-03-10T04:30:00-05:00"


def test_a_drug_outside_the_catalogue_keeps_its_text_and_needs_a_plan(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "Mystery herbal blend"}])
    (hold,) = e["holds"]
    assert (hold["drug"], hold["catalogued"], hold["last_dose_on"], hold["restart_at"]) == (
        "Mystery herbal blend", False, None, None)


def test_every_bad_episode_field_is_named_and_nothing_is_stored(api: Harness) -> None:
    p = api.patient()
    before = api.snapshot()
    answer = api.post(f"/patients/{p['id']}/episodes", {
        "procedure_at": "next tuesday", "duration_minutes": 5, "facility": "x" * 201, "mri_reviewed_on": "2027-13-01",
        "tried_pt": "maybe", "escort_arranged": 3,
        "holds": [{"drug": ""}, {"drug": "warfarin", "prescriber_phone": "+1 555"}, {"drug": "aspirin"}, "heparin",
                  {"drug": "apixaban", "stop_days": 2, "stop_hours": 12}],
    })
    assert answer.status == 422
    assert set(answer.errors) == {
        "procedure_at", "duration_minutes", "facility", "mri_reviewed_on", "tried_pt", "escort_arranged",
        "holds[0].drug", "holds[1].prescriber_phone", "holds[2].drug", "holds[3]", "holds[4].stop_hours",
    }
    assert "aspirin-primary" in answer.errors["holds[2].drug"]
    assert api.snapshot() == before


def test_a_procedure_in_the_past_or_in_a_dst_gap_is_refused(api: Harness) -> None:
    p = api.patient()
    past = api.post(f"/patients/{p['id']}/episodes", {"procedure_at": "2027-01-10T08:00"})
    assert past.status == 422 and "past" in past.errors["procedure_at"]
    gap = api.post(f"/patients/{p['id']}/episodes", {"procedure_at": "2027-03-14T02:30"})
    assert gap.status == 422 and "offset" in gap.errors["procedure_at"]


def test_holds_must_be_a_list(api: Harness) -> None:
    p = api.patient()
    answer = api.post(f"/patients/{p['id']}/episodes", {"procedure_at": "2027-03-10T08:00", "holds": "clopidogrel"})
    assert answer.status == 422 and set(answer.errors) == {"holds"}


def test_scheduling_for_an_unknown_patient_is_404(api: Harness) -> None:
    before = api.snapshot()
    answer = api.post(f"/patients/{MISSING_ID}/episodes", {"procedure_at": "2027-03-10T08:00"})
    assert answer.status == 404 and api.snapshot() == before


# --- reading ---------------------------------------------------------------------------------


def test_getting_an_episode_is_audited_and_shows_only_its_own_texts(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    answer = api.get(f"/episodes/{e['id']}", role="clinician")
    assert answer.status == 200
    got = answer.json
    assert got["id"] == e["id"] and got["holds"] == e["holds"] and got["milestones"] == e["milestones"]
    assert {m["kind"] for m in got["messages"]} == {"pre_procedure", "check_72h"}  # not the enrolment text
    views = [a for a in api.audit_actions(entity_id=e["id"]) if a[0] == "episode.view"]
    assert views == [("episode.view", "episode", e["id"], e["patient_id"], api.user_ids["clinician"], "203.0.113.7")]


def test_an_unknown_episode_is_404(api: Harness) -> None:
    answer = api.get(f"/episodes/{MISSING_ID}")
    assert answer.status == 404 and "episode" in answer.json["message"]


# --- rescheduling --------------------------------------------------------------------------


def test_a_reschedule_preview_returns_the_diff_and_changes_nothing(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    before = api.snapshot(exclude=NOT_PLAN)
    answer = api.patch(f"/episodes/{e['id']}?preview=1", {"procedure_at": "2027-03-17T08:00"})
    assert answer.status == 200
    diff = answer.json
    assert diff["applied"] is False and diff["episode_id"] == e["id"]
    assert diff["procedure_at_before"] == "2027-03-10T13:00:00+00:00"
    assert diff["procedure_at_after"] == "2027-03-17T12:00:00+00:00"  # 08:00 EDT
    assert diff["procedure_at_after_local"] == "2027-03-17T08:00:00-04:00"
    assert {(m["kind"], m["send_at"]) for m in diff["messages_cancelled"]} == {
        ("pre_procedure", "2027-03-09T15:00:00+00:00"), ("check_72h", "2027-03-13T13:00:00+00:00")}
    assert {(m["kind"], m["send_at"]) for m in diff["messages_added"]} == {
        ("pre_procedure", "2027-03-16T14:00:00+00:00"), ("check_72h", "2027-03-20T12:00:00+00:00")}
    moved = _by_kind(diff["milestones_moved"])
    assert moved["procedure"]["from"]["due_at"] == "2027-03-10T13:00:00+00:00"
    assert moved["procedure"]["to"]["due_at"] == "2027-03-17T12:00:00+00:00"
    assert moved["last_dose"]["hold_ref"] == f"h{e['holds'][0]['id']}"
    assert diff["notice"]["kind"] == "date_changed" and diff["notice"]["send_at"] == "2027-02-01T15:00:00+00:00"
    assert any(line.startswith("Move: Procedure") for line in diff["summary"])
    assert any(line.startswith("Send: date-change notice") for line in diff["summary"])
    assert api.snapshot(exclude=NOT_PLAN) == before
    assert api.get(f"/episodes/{e['id']}").json["procedure_at"] == e["procedure_at"]
    assert "episode.reschedule_preview" in [a[0] for a in api.audit_actions(entity_id=e["id"])]


def test_rescheduling_moves_the_plan_and_queues_one_notice(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    answer = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-17T08:00"})
    assert answer.status == 200
    moved = answer.json
    assert moved["procedure_at"] == "2027-03-17T12:00:00+00:00" and moved["plan_revision"] == e["plan_revision"] + 1
    assert moved["change"]["applied"] is True
    assert moved["holds"][0]["last_dose_on"] == "2027-03-09"
    assert _scheduled(moved) == {("pre_procedure", "2027-03-16T14:00:00+00:00"),
                                 ("check_72h", "2027-03-20T12:00:00+00:00"),
                                 ("date_changed", "2027-02-01T15:00:00+00:00")}
    cancelled = {(m["kind"], m["status_reason"]) for m in moved["messages"] if m["status"] == "cancelled"}
    assert cancelled == {("pre_procedure", "re-planned: procedure moved"), ("check_72h", "re-planned: procedure moved")}
    again = api.get(f"/episodes/{e['id']}").json
    assert "change" not in again and again["procedure_at"] == moved["procedure_at"]


def test_reschedule_refuses_other_fields_a_bad_preview_flag_and_a_past_date(api: Harness) -> None:
    # Since issue 10's "Editing after saving" the PATCH also takes the episode's details (facility
    # and the rest: tests/web/test_api_episode_edits.py); a field it cannot change is still a 422.
    e = api.episode()
    before = api.snapshot()
    other = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-17T08:00", "status": "completed"})
    assert other.status == 422 and set(other.errors) == {"status"}
    flag = api.patch(f"/episodes/{e['id']}?preview=perhaps", {"procedure_at": "2027-03-17T08:00"})
    assert flag.status == 422 and set(flag.errors) == {"preview"}
    past = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-01-17T08:00"})
    assert past.status == 422 and set(past.errors) == {"procedure_at"}
    missing = api.patch(f"/episodes/{e['id']}", {})
    assert missing.status == 422 and set(missing.errors) == {"body"}  # nothing to change: say what may be sent
    assert "procedure_at" in missing.errors["body"] and "facility" in missing.errors["body"]
    body = api.call("PATCH", f"/episodes/{e['id']}", raw=b"[]")
    assert body.status == 422 and set(body.errors) == {"body"}
    assert api.patch(f"/episodes/{MISSING_ID}", {"procedure_at": "2027-03-17T08:00"}).status == 404
    assert api.patch(f"/episodes/{MISSING_ID}?preview=1", {"procedure_at": "2027-03-17T08:00"}).status == 404
    assert api.snapshot() == before


# --- cancelling and conflicts --------------------------------------------------------------


def test_cancelling_cancels_pending_texts_and_tells_the_patient(api: Harness) -> None:
    e = api.episode()
    answer = api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient unwell"})
    assert answer.status == 200
    c = answer.json
    assert c["status"] == "cancelled" and c["cancelled_at"] == T0.isoformat() and c["cancel_reason"] == "patient unwell"
    assert _scheduled(c) == {("cancelled", "2027-02-01T15:00:00+00:00")}


def test_cancelling_needs_a_reason(api: Harness) -> None:
    # Issue 10 changed this contract: a cancellation without a reason is refused, naming it.
    e = api.episode()
    answer = api.post(f"/episodes/{e['id']}/cancel")
    assert answer.status == 422 and set(answer.errors) == {"reason"}
    answer = api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient unwell"})
    assert answer.status == 200 and answer.json["cancel_reason"] == "patient unwell"


def test_a_cancelled_episode_answers_409_to_every_change_and_stores_nothing(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    assert api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient unwell"}).status == 200
    milestone = _by_kind(e["milestones"])["check_72h"]
    before = api.snapshot()
    answers = [
        api.post(f"/episodes/{e['id']}/cancel", {}),
        api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-17T08:00"}),
        api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-18T10:00"}),
        api.post(f"/episodes/{e['id']}/pt-start", {"appointment_at": "2027-03-25T10:00"}),
        api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "requested"}),
        api.post(f"/milestones/{milestone['id']}/complete", {}),
    ]
    assert [a.status for a in answers] == [409] * 6
    assert all("cancelled" in a.json["message"] for a in answers)
    assert api.snapshot() == before


def test_a_bad_cancel_reason_is_named(api: Harness) -> None:
    e = api.episode()
    answer = api.post(f"/episodes/{e['id']}/cancel", {"reason": "x" * 501})
    assert answer.status == 422 and set(answer.errors) == {"reason"}
    assert api.post(f"/episodes/{MISSING_ID}/cancel", {}).status == 404


# --- the procedure's end -------------------------------------------------------------------


def test_recording_the_procedure_end_completes_it_and_moves_the_restart(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    assert e["holds"][0]["restart_at"] == "2027-03-11T14:00:00+00:00"  # expected end (start + 60 min) + 24 h
    assert e["holds"][0]["restart_at_estimated"] is True
    assert _by_kind(e["milestones"])["restart"]["due_at_estimated"] is True
    assert not _by_kind(e["milestones"])["procedure"]["due_at_estimated"]
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    answer = api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T08:50"})
    assert answer.status == 200
    done = answer.json
    assert done["status"] == "completed" and done["ended_at"] == "2027-03-10T13:50:00+00:00"
    assert done["holds"][0]["restart_at"] == "2027-03-11T13:50:00+00:00"  # the recorded end + 24 h
    assert done["holds"][0]["restart_at_estimated"] is False
    assert _by_kind(done["milestones"])["restart"]["due_at_estimated"] is False
    assert _by_kind(done["milestones"])["procedure"]["status"] == "done"


def test_a_procedure_end_before_the_start_in_the_future_or_missing_is_refused(api: Harness) -> None:
    e = api.episode()
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    before = api.snapshot()
    early = api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T07:00"})
    assert early.status == 422 and "after the procedure" in early.errors["ended_at"]
    future = api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T20:00"})
    assert future.status == 422 and "future" in future.errors["ended_at"]
    missing = api.post(f"/episodes/{e['id']}/procedure-end", {})
    assert missing.status == 422 and set(missing.errors) == {"ended_at"}
    assert api.post(f"/episodes/{MISSING_ID}/procedure-end", {"ended_at": "2027-03-10T08:50"}).status == 404
    assert api.snapshot() == before


# --- holds -----------------------------------------------------------------------------------


def test_a_coordinator_records_requested_and_a_clinician_approves_and_signs(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    requested = api.post(f"/holds/{hold_id}/clearance", {"status": "requested"})
    assert requested.status == 200
    assert requested.json["clearance"] == "requested" and requested.json["signed"] is False
    assert requested.json["episode_id"] == e["id"]
    approved = api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz", "note": "by phone"},
                        role="clinician")
    assert approved.status == 200
    h = approved.json
    assert (h["clearance"], h["clearance_by"], h["clearance_note"], h["signed"]) == (
        "approved", "Dr. Ortiz", "by phone", True)
    assert h["signed_by_id"] == api.user_ids["clinician"] and h["signed_at"] == T0.isoformat()
    texts = _scheduled(api.get(f"/episodes/{e['id']}").json)
    assert ("last_dose", "2027-03-01T22:00:00+00:00") in texts  # 17:00 EST the day before the last dose day
    assert not any(kind == "restart" for kind, _ in texts)  # the restart text waits for the recorded end
    assert "hold.approved" in [a[0] for a in api.audit_actions(entity_id=hold_id, entity_type="hold")]


def test_a_coordinator_may_not_approve_decline_or_change_the_plan(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    for body in ({"status": "approved", "by": "Dr. Ortiz"}, {"status": "declined", "by": "Dr. Ortiz"},
                 {"status": "requested", "stop_days": 10}):
        answer = api.post(f"/holds/{hold_id}/clearance", body)
        assert answer.status == 403 and "clinician" in answer.json["message"]
    assert api.snapshot(exclude=("audit_events",)) == before
    # Only each refusal's audit row is stored (issue 13: denied attempts are audited).
    assert [a[0] for a in api.audit_actions()[audited:]] == ["access.denied"] * 3


def test_a_declined_hold_plans_no_stop_texts(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "apixaban"}])
    answer = api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "declined", "by": "Dr. Cardio"},
                      role="clinician")
    assert answer.status == 200 and answer.json["clearance"] == "declined"
    kinds = {k for k, _ in _scheduled(api.get(f"/episodes/{e['id']}").json)}
    assert not kinds & {"last_dose", "restart"}


def test_every_bad_clearance_field_is_named_and_nothing_is_stored(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    before = api.snapshot()
    answer = api.post(f"/holds/{hold_id}/clearance",
                      {"status": "maybe", "note": 12, "stop_days": "x", "restart_hours": -1}, role="clinician")
    assert answer.status == 422
    assert set(answer.errors) == {"status", "note", "stop_days", "restart_hours"}
    no_by = api.post(f"/holds/{hold_id}/clearance", {"status": "approved"}, role="clinician")
    assert no_by.status == 422 and set(no_by.errors) == {"by"}
    assert api.post(f"/holds/{MISSING_ID}/clearance", {"status": "requested"}).status == 404
    assert api.snapshot() == before


def test_approving_a_drug_without_a_default_needs_the_clinicians_plan(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "aspirin-secondary"}])
    hold_id = e["holds"][0]["id"]
    refused = api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert refused.status == 422 and "no default" in refused.errors["stop_days"]
    ok = api.post(f"/holds/{hold_id}/clearance",
                  {"status": "approved", "by": "Dr. Ortiz", "stop_days": 7, "restart_hours": 24}, role="clinician")
    assert ok.status == 200 and ok.json["last_dose_on"] == "2027-03-02"
    assert ok.json["interval_source"] == "clinician plan"


# --- appointments ----------------------------------------------------------------------------


@pytest.mark.parametrize("route, kind, at, utc", [
    ("follow-up", "follow_up", "2027-03-18T10:00", "2027-03-18T14:00:00+00:00"),
    ("pt-start", "pt_start", "2027-03-25T09:30-04:00", "2027-03-25T13:30:00+00:00"),
])
def test_booking_an_appointment_answers_the_episode_with_it(
    api: Harness, route: str, kind: str, at: str, utc: str
) -> None:
    e = api.episode()
    answer = api.post(f"/episodes/{e['id']}/{route}", {"appointment_at": at}, role="clinician")
    assert answer.status == 200
    (appt,) = answer.json["appointments"]
    assert (appt["kind"], appt["appointment_at"], appt["status"]) == (kind, utc, "booked")
    assert _by_kind(answer.json["milestones"])[kind]["due_at"] == utc
    moved = api.post(f"/episodes/{e['id']}/{route}", {"appointment_at": "2027-04-01T10:00",
                                                       "confirm_outside_window": True})
    assert moved.status == 200 and len(moved.json["appointments"]) == 1
    assert moved.json["appointments"][0]["appointment_at"] == "2027-04-01T14:00:00+00:00"


@pytest.mark.parametrize("route", ["follow-up", "pt-start"])
def test_an_appointment_before_the_procedure_or_missing_is_refused(api: Harness, route: str) -> None:
    e = api.episode()
    before = api.snapshot()
    early = api.post(f"/episodes/{e['id']}/{route}", {"appointment_at": "2027-03-01T10:00"})
    assert early.status == 422 and set(early.errors) == {"appointment_at"}
    missing = api.post(f"/episodes/{e['id']}/{route}", {"appointment_at": "soon"})
    assert missing.status == 422 and set(missing.errors) == {"appointment_at"}
    assert api.post(f"/episodes/{MISSING_ID}/{route}", {"appointment_at": "2027-03-18T10:00"}).status == 404
    assert api.snapshot() == before


# --- milestones ------------------------------------------------------------------------------


def test_completing_a_milestone_records_the_result(api: Harness) -> None:
    e = api.episode()
    m = _by_kind(e["milestones"])["check_72h"]
    api.clock.set(datetime(2027, 3, 13, 15, 0, tzinfo=UTC))
    answer = api.post(f"/milestones/{m['id']}/complete", {"result": {"pain": 3, "note": "walking 20 min"}})
    assert answer.status == 200
    done = answer.json
    assert (done["id"], done["status"], done["result"]) == (m["id"], "done", {"pain": 3, "note": "walking 20 min"})
    assert (
        done["completed_at"] == "2027-03-13T15:00:00+00:00"
        and done["completed_at_local"] == "2027-03-13T10:00:00-05:00"
    )
    assert api.post(f"/milestones/{m['id']}/complete").status == 200  # no body: no result


def test_bad_milestone_completions(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "apixaban"}])
    ms = _by_kind(e["milestones"])
    before = api.snapshot()
    bad = api.post(f"/milestones/{ms['check_72h']['id']}/complete", {"result": "fine"})
    assert bad.status == 422 and set(bad.errors) == {"result"}
    procedure = api.post(f"/milestones/{ms['procedure']['id']}/complete", {})
    assert procedure.status == 422 and set(procedure.errors) == {"milestone"}
    assert api.post(f"/milestones/{MISSING_ID}/complete", {}).status == 404
    assert api.snapshot() == before
    # A step that no longer applies (the prescriber declined the hold) is a conflict.
    api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "declined", "by": "Dr. C"}, role="clinician")
    before = api.snapshot()
    gone = api.post(f"/milestones/{ms['last_dose']['id']}/complete", {})
    assert gone.status == 409 and api.snapshot() == before


@pytest.mark.parametrize(("lang", "name"), [("en", "apixaban"), ("es", "apixabán")])
def test_a_detailed_texts_body_in_the_episode_answer_names_the_generic_in_the_patients_language(
    api: Harness, lang: str, name: str
) -> None:
    p = api.patient(language=lang, detailed_texts=True)
    e = api.episode(p["id"], holds=[{"drug": "Eliquis"}])
    signed = api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                      role="clinician")
    assert signed.status == 200
    (last,) = [m for m in api.get(f"/episodes/{e['id']}").json["messages"] if m["kind"] == "last_dose"]
    assert f"last dose of {name}" in last["body"] or f"última dosis de {name}" in last["body"], last["body"]
