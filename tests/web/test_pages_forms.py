"""Each page and form: what it shows, what it stores, and per-field errors that store nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from pathway.models import Appointment, Episode, MedicationHold, Message, Patient, Reply, Task, User
from tests.conftest import T0

UTC = UTC

PATIENT = {"mrn": "W1001", "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1948-06-02",
           "phone": "(312) 555-0142", "timezone": "America/Chicago", "language": "es", "sms_consent": "on",
           "consent_method": "verbal"}


def _count(session: Any, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


@pytest.fixture
def clinician(as_role: Any) -> Any:
    return as_role("clinician")


# --- worklist ---------------------------------------------------------------------------------


def test_the_worklist_is_empty_with_a_friendly_message(coordinator: Any) -> None:
    assert "Nothing needs you right now" in coordinator.text("/")


def test_the_worklist_lists_red_flags_first_with_a_link_to_act(
    coordinator: Any, session: Any, env: Any, make_episode: Any
) -> None:
    e = make_episode(procedure_at="2027-02-03T08:00", holds=[{"drug": "aspirin-secondary"}])
    reply = Reply(patient_id=e.patient_id, episode_id=e.id, from_number="+12125550001", body="fever",
                  received_at=T0, classification="red_flag")
    session.add(reply)
    session.flush()
    session.add(Task(kind="red_flag", subject=f"reply:{reply.id}", priority=0, patient_id=e.patient_id,
                     episode_id=e.id, reply_id=reply.id, summary="Red flag: call today", created_at=T0))
    session.flush()
    page = coordinator.text("/")
    assert page.index("Red flag reply: call today") < page.index("Hold clearance not requested")
    assert f'/episodes/{e.id}#reply-{reply.id}' in page and f'/episodes/{e.id}#hold-{e.holds[0].id}' in page


def test_resolving_a_task_from_the_worklist(coordinator: Any, session: Any, env: Any, make_episode: Any) -> None:
    from pathway.services.tasks import open_task

    e = make_episode()
    task = open_task(session, env, "stop_request", f"patient:{e.patient_id}", "asked to stop",
                     patient_id=e.patient_id)
    session.flush()
    assert "Review opt-out" in coordinator.text("/")
    r = coordinator.post(f"/tasks/{task.id}/resolve", {"next": "/"})
    assert r.status_code == 302
    session.refresh(task)
    assert task.resolved_at is not None
    assert "Nothing needs you right now" in coordinator.text("/")


def test_a_long_worklist_shows_fifty_rows_a_page_and_counts_them_all(
    coordinator: Any, session: Any, env: Any, make_patient: Any
) -> None:
    from pathway.services.tasks import open_task

    p = make_patient()
    for n in range(60):
        open_task(session, env, "reply", f"reply:bench{n:02d}", f"Read reply number {n:02d}", patient_id=p.id)
    session.flush()
    first = coordinator.text("/")
    assert first.count('class="list-group-item worklist-item') == 50
    assert '<span class="tile-n">60</span>' in first and 'aria-current="page">1<' in first
    second = coordinator.text("/?page=2")
    assert second.count('class="list-group-item worklist-item') == 10
    assert "Read reply number" in second and 'aria-current="page">2<' in second
    assert coordinator.text("/?page=99").count('class="list-group-item worklist-item') == 10  # clamped


# --- patients ---------------------------------------------------------------------------------


def test_search_finds_by_name_and_mrn_and_says_when_nothing_matches(coordinator: Any, make_patient: Any) -> None:
    p = make_patient(family_name="Okafor")
    assert "Okafor, Pat" in coordinator.text("/patients?q=okaf")
    assert "Okafor, Pat" in coordinator.text(f"/patients?q={p.mrn}")
    assert "No patient matches" in coordinator.text("/patients?q=zzzz")


def test_enrolling_a_patient_records_consent_and_queues_the_enrolment_text(coordinator: Any, session: Any) -> None:
    r = coordinator.post("/patients/new", PATIENT)
    assert r.status_code == 302
    patient = session.scalar(select(Patient).where(Patient.mrn == "W1001"))
    assert r.headers["Location"] == f"/patients/{patient.id}"
    assert patient.phone == "+13125550142" and patient.timezone == "America/Chicago"
    assert patient.sms_consent_method == "verbal" and patient.sms_consent_at == T0
    assert session.scalar(select(Message.kind).where(Message.patient_id == patient.id)) == "enrolment"
    page = coordinator.text(r.headers["Location"])
    assert "Patient enrolled" in page and "Ruiz, Ana" in page


def test_the_enrol_form_defaults_the_time_zone_to_the_clinic(coordinator: Any) -> None:
    page = coordinator.text("/patients/new")
    assert '<option value="America/New_York" selected>' in page


def test_enrol_errors_are_shown_per_field_and_nothing_is_stored(coordinator: Any, session: Any) -> None:
    before = (_count(session, Patient), _count(session, Message))
    r = coordinator.post("/patients/new", {**PATIENT, "phone": "555", "birth_date": "2090-01-01", "given_name": ""})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="f-phone-error"' in page and "not a valid US mobile number: 555" in page
    assert 'id="f-birth_date-error"' in page and "is in the future" in page
    assert 'id="f-given_name-error"' in page
    assert 'value="Ruiz"' in page  # what was typed is kept
    assert (_count(session, Patient), _count(session, Message)) == before


def test_a_duplicate_mrn_is_a_field_error(coordinator: Any, make_patient: Any, session: Any) -> None:
    make_patient(mrn="W1001")
    r = coordinator.post("/patients/new", PATIENT)
    assert r.status_code == 422 and "already enrolled" in r.get_data(as_text=True)


def test_the_patient_page_shows_episodes_and_consent(coordinator: Any, make_episode: Any) -> None:
    e = make_episode()
    page = coordinator.text(f"/patients/{e.patient_id}")
    assert "Can text" in page and f"/episodes/{e.id}" in page


def test_recording_consent_for_a_patient_without_it(coordinator: Any, make_patient: Any, session: Any) -> None:
    p = make_patient(sms_consent=False)
    assert "Record consent" in coordinator.text(f"/patients/{p.id}")
    assert coordinator.post(f"/patients/{p.id}/consent", {"consent_method": "written"}).status_code == 302
    session.refresh(p)
    assert p.sms_consent_method == "written"


# --- scheduling -------------------------------------------------------------------------------


def test_scheduling_offers_the_catalogue_with_display_names(coordinator: Any, make_patient: Any) -> None:
    p = make_patient()
    page = coordinator.text(f"/patients/{p.id}/episodes/new")
    assert '<option value="clopidogrel" >Clopidogrel</option>' in page
    assert "Other (type the name)" in page


def test_scheduling_an_episode_with_a_clopidogrel_hold(coordinator: Any, make_patient: Any, session: Any) -> None:
    p = make_patient()
    r = coordinator.post(f"/patients/{p.id}/episodes/new", {
        "procedure_at": "2027-03-10T08:00", "facility": "Riverside", "proceduralist": "Dr. Lee", "levels": "L4-L5",
        "tried_pt": "on", "mri_reviewed_on": "2027-01-20",
        "hold-0-drug": "clopidogrel", "hold-0-prescriber_name": "Dr. Ortiz", "hold-0-prescriber_phone": "2125550199",
        "hold-1-drug": "__other", "hold-1-other": "Mystery anticoagulant",
    })
    assert r.status_code == 302
    episode = session.scalar(select(Episode).where(Episode.patient_id == p.id))
    assert r.headers["Location"] == f"/episodes/{episode.id}"
    assert [(h.drug_key, h.drug_name) for h in episode.holds] == [("clopidogrel", "clopidogrel"),
                                                                   (None, "Mystery anticoagulant")]
    assert episode.tried_pt and not episode.tried_injections
    page = coordinator.text(r.headers["Location"])
    assert "clopidogrel: 7 days before" in page  # the milestone's rule
    assert "no default" in page


def test_the_schedule_form_takes_a_holds_creatinine_clearance_as_the_api_does(
    coordinator: Any, make_patient: Any, session: Any
) -> None:
    p = make_patient()
    bad = coordinator.post(f"/patients/{p.id}/episodes/new", {
        "procedure_at": "2027-03-10T08:00", "hold-0-drug": "dabigatran", "hold-0-crcl_ml_min": "0"})
    assert bad.status_code == 422 and 'id="f-hold-0-crcl_ml_min-error"' in bad.get_data(as_text=True)
    r = coordinator.post(f"/patients/{p.id}/episodes/new", {
        "procedure_at": "2027-03-10T08:00", "hold-0-drug": "dabigatran", "hold-0-crcl_ml_min": "40"})
    assert r.status_code == 302
    (hold,) = session.scalar(select(Episode).where(Episode.patient_id == p.id)).holds
    assert hold.crcl_ml_min == 40 and hold.stop_days == 6  # the renal band for CrCl under 50


def test_schedule_errors_are_per_field_including_hold_rows_and_store_nothing(
    coordinator: Any, make_patient: Any, session: Any
) -> None:
    p = make_patient()
    before = (_count(session, Episode), _count(session, MedicationHold))
    r = coordinator.post(f"/patients/{p.id}/episodes/new", {
        "procedure_at": "2026-01-01T08:00",
        "hold-0-drug": "aspirin",
        "hold-2-drug": "clopidogrel", "hold-2-prescriber_phone": "12",
    })
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="f-procedure_at-error"' in page and "is in the past" in page
    assert 'id="f-hold-0-drug-error"' in page and "more than one regimen" in page
    assert 'id="f-hold-2-prescriber_phone-error"' in page
    assert (_count(session, Episode), _count(session, MedicationHold)) == before


# --- the episode page -------------------------------------------------------------------------


def test_the_episode_page_shows_the_timeline_texts_and_checklist(
    coordinator: Any, make_episode: Any, session: Any
) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}])
    page = coordinator.text(f"/episodes/{e.id}")
    for text in ("Timeline", "Today · Mon 1 Feb 2027", "Blood-thinner hold cleared and signed: warfarin",
                 "72-hour check", "Every text, planned and sent", "Enrolment confirmation", "Go / no-go",
                 "Escort arranged", "Not ready", "Record INR"):
        assert text in page, text
    # Readable without colour: every status badge carries a word.
    assert "Planned</span>" in page and "Clearance needed</span>" in page
    # Patient zone equals clinic zone: no second time shown.
    assert "(patient:" not in page


def test_a_patient_in_another_zone_sees_both_times(coordinator: Any, make_patient: Any, make_episode: Any) -> None:
    e = make_episode(make_patient(timezone="America/Los_Angeles"))
    page = coordinator.text(f"/episodes/{e.id}")
    assert "Wed 10 Mar 2027, 11:00 EST" in page and "(patient: 08:00 PST)" in page


def test_a_coordinator_records_a_request_but_cannot_approve(coordinator: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold = e.holds[0]
    page = coordinator.text(f"/episodes/{e.id}")
    assert 'value="approved"' not in page  # only clinicians get approve/decline
    assert coordinator.post(f"/episodes/{e.id}/holds/{hold.id}/clearance", {"status": "requested"}).status_code == 302
    session.refresh(hold)
    assert hold.clearance == "requested"
    r = coordinator.post(f"/episodes/{e.id}/holds/{hold.id}/clearance", {"status": "approved", "by": "Dr. O"})
    assert r.status_code == 302
    session.refresh(hold)
    assert hold.clearance == "requested"
    assert "Not allowed" in coordinator.text(r.headers["Location"])


def test_a_clinician_approves_and_signs_a_hold(clinician: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold = e.holds[0]
    assert 'value="approved"' in clinician.text(f"/episodes/{e.id}")
    r = clinician.post(f"/episodes/{e.id}/holds/{hold.id}/clearance",
                       {"status": "approved", "by": "Dr. Ortiz", "note": "ok by phone"})
    assert r.status_code == 302
    session.refresh(hold)
    assert hold.approved_and_signed
    assert "Hold approved and signed" in clinician.text(r.headers["Location"])


def test_approval_without_the_prescriber_is_a_field_error(clinician: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    r = clinician.post(f"/episodes/{e.id}/holds/{e.holds[0].id}/clearance", {"status": "approved", "by": ""})
    assert r.status_code == 422
    assert f'id="clearance-{e.holds[0].id}-by-error"' in r.get_data(as_text=True)
    session.refresh(e.holds[0])
    assert e.holds[0].clearance == "needed"


def test_a_hold_from_another_episode_is_not_found(clinician: Any, make_episode: Any) -> None:
    a, b = make_episode(holds=[{"drug": "clopidogrel"}]), make_episode()
    r = clinician.post(f"/episodes/{b.id}/holds/{a.holds[0].id}/clearance", {"status": "requested"})
    assert r.status_code == 404


def test_recording_an_inr_and_its_errors(coordinator: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}])
    hold = e.holds[0]
    r = coordinator.post(f"/episodes/{e.id}/holds/{hold.id}/inr", {"value": "12"})
    assert r.status_code == 422 and "between 0.5 and 10" in r.get_data(as_text=True)
    assert coordinator.post(f"/episodes/{e.id}/holds/{hold.id}/inr", {"value": "1.1"}).status_code == 302
    session.refresh(hold)
    assert str(hold.inr_value) == "1.10"


def test_booking_follow_up_and_pt(coordinator: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    r = coordinator.post(f"/episodes/{e.id}/appointments/follow_up", {"appointment_at": "2027-03-18T10:00"})
    assert r.status_code == 302
    r = coordinator.post(f"/episodes/{e.id}/appointments/pt_start", {"appointment_at": "2027-03-01T10:00"})
    assert r.status_code == 422 and "must be after the procedure" in r.get_data(as_text=True)
    kinds = session.scalars(select(Appointment.kind).where(Appointment.episode_id == e.id)).all()
    assert kinds == ["follow_up"]
    assert coordinator.post(f"/episodes/{e.id}/appointments/other", {}).status_code == 404


def test_recording_the_procedure_end_and_completing_the_72_hour_check(
    clinician: Any, make_episode: Any, session: Any, web_clock: Any, as_role: Any
) -> None:
    e = make_episode(procedure_at="2027-02-03T08:00")
    web_clock.set(datetime(2027, 2, 3, 15, 0, tzinfo=UTC))
    clinician = as_role("clinician")  # the old session idled out while the clock moved
    r = clinician.post(f"/episodes/{e.id}/procedure-end", {"ended_at": "2027-02-03T08:50"})
    assert r.status_code == 302
    session.refresh(e)
    assert e.status == "completed" and e.ended_at == datetime(2027, 2, 3, 13, 50, tzinfo=UTC)
    check = next(m for m in e.milestones if m.kind == "check_72h")
    r = clinician.post(f"/episodes/{e.id}/milestones/{check.id}/complete", {"note": "walking 20 min"})
    assert r.status_code == 422 and "cannot be marked done before then" in r.get_data(as_text=True)
    session.refresh(check)
    assert check.status != "done"
    web_clock.set(datetime(2027, 2, 6, 14, 0, tzinfo=UTC))  # 72 h after the 08:00 EST start, and an hour
    clinician = as_role("clinician")
    r = clinician.post(f"/episodes/{e.id}/milestones/{check.id}/complete", {"note": "walking 20 min"})
    assert r.status_code == 302
    session.refresh(check)
    assert check.status == "done" and check.result == {"note": "walking 20 min"}


def test_escort_and_cancel(coordinator: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    assert coordinator.post(f"/episodes/{e.id}/escort", {"arranged": "yes"}).status_code == 302
    session.refresh(e)
    assert e.escort_arranged
    r = coordinator.post(f"/episodes/{e.id}/cancel", {"reason": "x" * 600})
    assert r.status_code == 422
    session.refresh(e)
    assert e.status == "scheduled"
    answer = coordinator.post(f"/episodes/{e.id}/cancel", {"reason": "patient chose to wait", "confirm": "1"})
    assert answer.status_code == 302
    session.refresh(e)
    assert e.status == "cancelled"
    page = coordinator.text(f"/episodes/{e.id}")
    assert "patient chose to wait" in page and "Cancel episode" not in page
    r = coordinator.post(f"/episodes/{e.id}/escort", {"arranged": "no"})
    assert r.status_code == 302  # a cancelled episode is a conflict, reported by flash


def test_rescheduling_previews_the_diff_and_changes_nothing_until_confirmed(
    coordinator: Any, make_episode: Any, session: Any
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    old = e.procedure_at
    assert 'value="2027-03-10T08:00"' in coordinator.text(f"/episodes/{e.id}/reschedule")
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-17T09:30"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Confirm the new procedure date" in page
    assert "Procedure Wed Mar 10 8:00 AM EST \u2192 Wed Mar 17 9:30 AM EDT" in page
    assert "date-change notice" in page
    assert 'name="confirm" value="yes"' in page and 'value="2027-03-17T09:30"' in page
    session.expire_all()
    assert session.get(Episode, e.id).procedure_at == old
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-17T09:30", "confirm": "yes"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Episode, e.id).procedure_at == datetime(2027, 3, 17, 13, 30, tzinfo=UTC)  # EDT


def test_rescheduling_into_the_past_is_a_field_error(coordinator: Any, make_episode: Any) -> None:
    e = make_episode()
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2026-03-17T09:30"})
    assert r.status_code == 422 and 'id="f-procedure_at-error"' in r.get_data(as_text=True)


# --- board and messages -----------------------------------------------------------------------


def test_the_board_shows_counts_filters_and_states(
    clinician: Any, make_episode: Any, make_patient: Any, web_clock: Any, as_role: Any
) -> None:
    make_episode(procedure_at="2027-02-03T08:00", proceduralist="Dr. Shah")
    make_episode(procedure_at="2027-02-20T08:00", proceduralist="Dr. Lee")
    web_clock.set(T0 + timedelta(days=6))
    clinician = as_role("clinician")
    page = clinician.text("/board")
    assert "72-hour check" in page and "Overdue</span>" in page and "Not booked</span>" in page
    assert page.count('<option value="Dr.') == 2
    overdue = clinician.text("/board?status=overdue")
    assert "Dr. Shah" in overdue and "Dr. Lee" not in overdue.split("<table", 1)[1]
    assert "Dr. Shah" not in clinician.text("/board?proceduralist=Dr.+Lee").split("<table", 1)[1]
    assert clinician.get("/board?status=nonsense").status_code == 404
    assert "No episodes here" in clinician.text("/board?status=missed")


def test_the_board_offers_each_filter_once(clinician: Any, make_episode: Any, web_clock: Any, as_role: Any) -> None:
    """Each status and each proceduralist is one choice in the filter's lists, however spelt."""
    import re

    make_episode(procedure_at="2027-02-03T08:00", proceduralist="Dr. Lee")
    make_episode(procedure_at="2027-02-04T08:00", proceduralist="dr. lee")
    make_episode(procedure_at="2027-02-05T08:00", proceduralist="Dr. Shah")
    web_clock.set(T0 + timedelta(days=6))
    clinician = as_role("clinician")
    for url in ("/board", "/board?status=booked_in_window&proceduralist=DR.+LEE"):
        page = clinician.text(url)
        for name in ("status", "proceduralist"):
            select = page.split(f'<select class="form-select" id="{name}"', 1)[1].split("</select>", 1)[0]
            options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
            values, labels = [v for v, _ in options], [t.strip().lower() for _, t in options]
            assert len(values) == len(set(values)) and len(labels) == len(set(labels)), (url, name, options)
    page = clinician.text("/board?status=booked_in_window&proceduralist=DR.+LEE")
    assert '<option value="in_window" selected>' in page and '<option value="Dr. Lee" selected>' in page
    assert 'id="proceduralist"' in page and page.count('<option value="Dr. Lee"') == 1


def test_the_messages_page_filters_by_status_and_pages(
    coordinator: Any, make_patient: Any, session: Any
) -> None:
    for _ in range(55):
        make_patient()
    first = coordinator.text("/messages?status=scheduled")
    assert "Enrolment" in first and "Next" in first
    second = coordinator.text("/messages?status=scheduled&page=2")
    assert "Previous" in second and "Next" not in second
    assert "No failed texts" in coordinator.text("/messages?status=failed")
    assert coordinator.get("/messages?status=bogus").status_code == 404


# --- user admin -------------------------------------------------------------------------------


def test_an_admin_creates_and_deactivates_accounts(as_role: Any, session: Any) -> None:
    admin = as_role("admin")
    r = admin.post("/admin/users", {"email": "new@example.test", "name": "New Person", "role": "clinician",
                                    "password": "long enough password"})
    assert r.status_code == 302
    user = session.scalar(select(User).where(User.email == "new@example.test"))
    assert user.role == "clinician" and user.active
    assert "new@example.test" in admin.text("/admin/users")
    assert admin.post(f"/admin/users/{user.id}/active", {"active": "no"}).status_code == 302
    session.refresh(user)
    assert not user.active


def test_user_form_errors_are_per_field_and_store_nothing(as_role: Any, session: Any) -> None:
    admin = as_role("admin")
    before = _count(session, User)
    r = admin.post("/admin/users", {"email": "bad", "role": "clinician", "password": "short"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="f-email-error"' in page and 'id="f-password-error"' in page
    assert _count(session, User) == before


def test_the_user_form_offers_every_role_and_states_the_schemas_password_bound(as_role: Any) -> None:
    from pathway.schemas.inputs import MIN_PASSWORD
    from pathway.timeline.vocabulary import Role

    page = as_role("admin").text("/admin/users")
    for role in Role:
        assert f'<option value="{role}"' in page
    assert f"At least {MIN_PASSWORD} characters" in page


def test_an_admin_cannot_deactivate_themselves(as_role: Any, staff: Any, session: Any) -> None:
    admin = as_role("admin")
    admin.post(f"/admin/users/{staff['admin'].user_id}/active", {"active": "no"})
    assert session.get(User, staff["admin"].user_id).active


def test_the_page_marks_an_estimated_restart_and_says_from_when_a_step_may_be_marked_done(
    make_episode: Any, session: Any, staff: Any, env: Any, web_clock: Any, as_role: Any
) -> None:
    from pathway.services import episodes as ep

    e = make_episode(holds=[{"drug": "clopidogrel"}])
    ep.record_clearance(session, env, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. Ortiz"})
    page = as_role("coordinator").get(f"/episodes/{e.id}").get_data(as_text=True)
    assert "Estimated <time" in page and "The restart text is sent once the procedure's end is recorded" in page
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T14:00"})
    visit = next(m for m in e.milestones if m.kind == "follow_up")
    complete = f"/episodes/{e.id}/milestones/{visit.id}/complete"
    web_clock.set(datetime(2027, 3, 18, 13, 0, tzinfo=UTC))  # 09:00 on the visit day, before the 14:00 visit
    page = as_role("coordinator").get(f"/episodes/{e.id}").get_data(as_text=True)
    assert "Can be marked done from" in page and complete not in page
    web_clock.set(datetime(2027, 3, 18, 19, 0, tzinfo=UTC))  # 15:00: seen
    page = as_role("coordinator").get(f"/episodes/{e.id}").get_data(as_text=True)
    assert complete in page
