"""Editing an episode after saving, from the episode page (issue 10): the same services and
errors as the API (tests/web/test_api_episode_edits.py), with a confirm step where texts change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from pathway.clock import FixedClock
from pathway.models import AuditEvent, Episode, MedicationHold, Task

DETAILS = {"facility": "Northside Spine Center", "proceduralist": "Dr. Park", "levels": "L3-L4",
           "mri_reviewed_on": "2027-01-20", "tried_pt": "yes", "escort_arranged": "yes"}


def _approve(as_role: Any, episode_id: int, hold_id: int) -> None:
    r = as_role("clinician").post(f"/episodes/{episode_id}/holds/{hold_id}/clearance",
                                  {"status": "approved", "by": "Dr. Ortiz"})
    assert r.status_code in (200, 302)


def test_the_episode_page_offers_the_edit_forms_before_the_procedure(as_role: Any, make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    page = as_role("coordinator").text(f"/episodes/{e.id}")
    assert "Edit details" in page and 'name="tried_injections"' in page and 'name="mri_reviewed_on"' in page
    assert "Add a medicine to hold" in page and 'name="hold-0-patient_label"' in page
    assert f"/episodes/{e.id}/holds/{e.holds[0].id}/remove" in page


def test_saving_details_applies_at_once_and_moves_the_go_no_go(
        as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    coordinator = as_role("coordinator")
    # The facility's name is in the day-before text (issue 11): a new one is shown before it is
    # saved; this one tells what the visit is for, so the text leaves it out.
    shown = coordinator.post(f"/episodes/{e.id}/details", DETAILS)
    assert shown.status_code == 200 and "Confirm the new details" in shown.get_data(as_text=True)
    r = coordinator.post(f"/episodes/{e.id}/details", {**DETAILS, "confirm": "yes"})
    assert r.status_code == 302
    session.expire_all()
    saved = session.get(Episode, e.id)
    assert (saved.facility, saved.proceduralist, saved.levels) == ("Northside Spine Center", "Dr. Park", "L3-L4")
    assert saved.tried_pt and saved.escort_arranged and not saved.tried_medication
    page = coordinator.text(f"/episodes/{e.id}")
    assert "decision-go" in page and "Details saved" in page
    assert "The facility's name is left out of the patient's texts: it tells what the visit is for." in page
    edits = session.scalars(select(AuditEvent).where(AuditEvent.action == "episode.edit")).all()
    assert [a.detail for a in edits] == [{"fields": ["escort_arranged", "facility", "levels", "mri_reviewed_on",
                                                     "proceduralist", "tried_pt"]}]
    # Unticking a box is a change too.
    r = coordinator.post(f"/episodes/{e.id}/details", {**DETAILS, "escort_arranged": ""})
    session.expire_all()
    assert r.status_code == 302 and session.get(Episode, e.id).escort_arranged is False


def test_bad_details_show_the_form_again_with_the_field_named(as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    r = as_role("coordinator").post(f"/episodes/{e.id}/details", {**DETAILS, "mri_reviewed_on": "last week",
                                                                  "facility": "x" * 201})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="details-mri_reviewed_on-error"' in page and 'id="details-facility-error"' in page
    session.expire_all()
    assert session.get(Episode, e.id).facility != "x" * 201


def test_adding_a_hold_shows_what_changes_then_adds_it(as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}])
    _approve(as_role, e.id, e.holds[0].id)
    coordinator = as_role("coordinator")
    form = {"hold-0-drug": "apixaban", "hold-0-prescriber_name": "Dr. Ortiz", "hold-0-patient_label": ""}
    preview = coordinator.post(f"/episodes/{e.id}/holds", form)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Add apixaban to the holds" in text
    assert "Texts that get new words" in text and "your blood thinner" in text  # the warfarin text's words change
    session.expire_all()
    assert len(session.get(Episode, e.id).holds) == 1  # nothing stored yet
    r = coordinator.post(f"/episodes/{e.id}/holds", {**form, "confirm": "yes"})
    assert r.status_code == 302
    session.expire_all()
    holds = session.get(Episode, e.id).holds
    assert [h.drug_key for h in holds] == ["warfarin", "apixaban"] and holds[1].clearance == "needed"
    assert r.headers["Location"].endswith(f"#hold-{holds[1].id}")


def test_a_bad_hold_is_shown_on_the_add_form(as_role: Any, make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    coordinator = as_role("coordinator")
    nothing = coordinator.post(f"/episodes/{e.id}/holds", {"hold-0-drug": ""})
    assert nothing.status_code == 422 and 'id="f-hold-0-drug-error"' in nothing.get_data(as_text=True)
    twice = coordinator.post(f"/episodes/{e.id}/holds", {"hold-0-drug": "__other", "hold-0-other": "Plavix"})
    text = twice.get_data(as_text=True)
    assert twice.status_code == 422 and 'id="f-hold-0-other-error"' in text and "already held" in text
    long_label = coordinator.post(f"/episodes/{e.id}/holds", {"hold-0-drug": "apixaban",
                                                              "hold-0-patient_label": "x" * 41})
    assert long_label.status_code == 422 and 'id="f-hold-0-patient_label-error"' in long_label.get_data(as_text=True)


def test_removing_a_hold_asks_first_then_cancels_its_texts(as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold_id = e.holds[0].id
    _approve(as_role, e.id, hold_id)
    coordinator = as_role("coordinator")
    confirm = coordinator.text(f"/episodes/{e.id}/holds/{hold_id}/remove")
    assert "Remove the clopidogrel hold" in confirm and "diff-cancel" in confirm and "may have stopped" not in confirm
    session.expire_all()
    assert session.get(MedicationHold, hold_id).removed_at is None
    r = coordinator.post(f"/episodes/{e.id}/holds/{hold_id}/remove", {"confirm": "yes"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(MedicationHold, hold_id).removed_at is not None
    assert session.get(Episode, e.id).holds == []
    page = coordinator.text(f"/episodes/{e.id}")
    assert "Hold removed" in page and f'id="hold-{hold_id}"' not in page
    # Its cancelled steps stay on the timeline, still naming the medicine.
    assert "Last dose before the hold: clopidogrel (hold removed)" in page
    # Once removed, its page and its forms are gone: a second removal says so.
    again = coordinator.get(f"/episodes/{e.id}/holds/{hold_id}/remove")
    assert again.status_code == 302


def test_removing_a_stopped_hold_warns_and_needs_the_box_ticked(
        as_role: Any, make_episode: Any, session: Any, web_clock: FixedClock) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold_id = e.holds[0].id
    _approve(as_role, e.id, hold_id)
    web_clock.set(datetime(2027, 3, 3, 15, 0, tzinfo=UTC))  # the day after clopidogrel's last dose
    coordinator = as_role("coordinator")
    confirm = coordinator.text(f"/episodes/{e.id}/holds/{hold_id}/remove")
    assert "may have stopped" in confirm and 'name="confirm_stopped"' in confirm
    r = coordinator.post(f"/episodes/{e.id}/holds/{hold_id}/remove", {"confirm": "yes"})
    assert r.status_code == 409 and "Tick the box" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(MedicationHold, hold_id).removed_at is None
    r = coordinator.post(f"/episodes/{e.id}/holds/{hold_id}/remove", {"confirm": "yes", "confirm_stopped": "yes"})
    assert r.status_code == 302
    session.expire_all()
    task = session.scalars(select(Task).where(Task.kind == "restart_after_removal")).one()
    assert task.subject == f"hold:{hold_id}" and task.resolved_at is None
    worklist = coordinator.text("/")
    assert "Hold removed after its last dose: call about restarting clopidogrel" in worklist
    # The call is recorded on the worklist itself: a note is asked for, and needed.
    assert f'id="note-{task.id}"' in worklist
    coordinator.post(f"/tasks/{task.id}/resolve", {"resolution": ""})
    session.expire_all()
    assert session.get(Task, task.id).resolved_at is None
    coordinator.post(f"/tasks/{task.id}/resolve", {"resolution": "Reached Rosa; restart as Dr. Ortiz advises"})
    session.expire_all()
    assert session.get(Task, task.id).resolution == "Reached Rosa; restart as Dr. Ortiz advises"


def test_edit_pages_answer_403_to_other_roles_and_404_to_a_hold_of_another_episode(
        as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold_id = e.holds[0].id
    other = make_episode()
    admin = as_role("admin")
    for url, form in ((f"/episodes/{e.id}/details", DETAILS),
                      (f"/episodes/{e.id}/holds", {"hold-0-drug": "apixaban", "confirm": "yes"}),
                      (f"/episodes/{e.id}/holds/{hold_id}/remove", {"confirm": "yes"})):
        assert admin.post(url, form).status_code == 403  # the pages' answer to a wrong role: says so
    coordinator = as_role("coordinator")
    assert coordinator.get(f"/episodes/{other.id}/holds/{hold_id}/remove").status_code == 404
    assert coordinator.post(f"/episodes/{other.id}/holds/{hold_id}/remove", {"confirm": "yes"}).status_code == 404
    session.expire_all()
    episode = session.get(Episode, e.id)
    assert episode.facility == "Riverside Surgery Center" and [h.id for h in episode.holds] == [hold_id]


def test_adding_a_hold_too_late_to_stop_warns_before_it_is_saved(
        as_role: Any, make_episode: Any, web_clock: FixedClock) -> None:
    e = make_episode()
    web_clock.set(datetime(2027, 3, 5, 15, 0, tzinfo=UTC))  # clopidogrel needs 7 days; 5 are left
    preview = as_role("coordinator").post(f"/episodes/{e.id}/holds", {"hold-0-drug": "clopidogrel"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Too late to stop this medicine in time" in text
    assert "Tue Mar 2" in text and "cannot stop it in time" in text


def test_the_page_warns_when_texts_name_a_drug_and_a_label_shown_first_takes_the_name_off(
        as_role: Any, make_episode: Any, session: Any) -> None:
    from pathway.models import Message

    e = make_episode(holds=[{"drug": "warfarin"}, {"drug": "apixaban"}])
    warfarin, apixaban = e.holds
    _approve(as_role, e.id, warfarin.id)
    _approve(as_role, e.id, apixaban.id)
    coordinator = as_role("coordinator")
    page = coordinator.text(f"/episodes/{e.id}")
    assert page.count("names-drug-note") == 2  # each hold says its texts carry the drug's name
    assert "&ldquo;warfarin&rdquo;" in page

    shown = coordinator.post(f"/episodes/{e.id}/holds/{warfarin.id}/label", {"patient_label": "the pink pill"})
    preview = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "What the patient calls warfarin" in preview
    assert "the pink pill" in preview and "Save and re-word the texts" in preview
    session.expire_all()
    assert session.get(MedicationHold, warfarin.id).patient_label is None  # shown, not saved

    saved = coordinator.post(f"/episodes/{e.id}/holds/{warfarin.id}/label",
                             {"patient_label": "the pink pill", "confirm": "yes"})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(MedicationHold, warfarin.id).patient_label == "the pink pill"
    bodies = [m.body for m in session.scalars(select(Message).where(
        Message.episode_id == e.id, Message.kind == "last_dose", Message.status == "scheduled"))]
    assert len(bodies) == 2 and not any("warfarin" in b or "apixaban" in b for b in bodies)
    page = coordinator.text(f"/episodes/{e.id}")
    # Each medicine's last-dose text and its stop question.
    assert "names-drug-note" not in page and "4 texts re-worded" in page

    bad = coordinator.post(f"/episodes/{e.id}/holds/{apixaban.id}/label", {"patient_label": "y" * 41})
    assert bad.status_code == 422 and f'id="label-{apixaban.id}-patient_label-error"' in bad.get_data(as_text=True)


def test_postponing_after_a_stop_warns_that_a_restart_call_follows_and_needs_the_box_ticked(
        as_role: Any, make_episode: Any, session: Any, web_clock: FixedClock) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold_id = e.holds[0].id
    _approve(as_role, e.id, hold_id)
    web_clock.set(datetime(2027, 3, 4, 15, 0, tzinfo=UTC))  # after clopidogrel's last dose (Tue 2 Mar)
    coordinator = as_role("coordinator")
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-31T08:00"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "may already have stopped 1 medicine" in page
    assert "last dose was Tue Mar 2" in page and 'name="confirm_holds_at_risk"' in page
    assert "breaks" not in page
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-31T08:00", "confirm": "yes"})
    assert r.status_code == 409 and "Tick the box" in r.get_data(as_text=True)
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-31T08:00", "confirm": "yes",
                                                          "confirm_holds_at_risk": "yes"})
    assert r.status_code == 302
    session.expire_all()
    assert session.scalars(select(Task).where(Task.kind == "restart_after_postpone")).one().resolved_at is None
    assert "Postponed after a stop: call about restarting clopidogrel" in coordinator.text("/")


def test_the_arrival_time_and_address_line_are_set_from_the_page_and_checked_like_the_api(
        as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()  # 2027-03-10 08:00 in New York
    coordinator = as_role("coordinator")
    page = coordinator.text(f"/episodes/{e.id}")
    assert 'name="arrival_at"' in page and 'name="facility_address"' in page
    assert "(usual time before the procedure)" in page and "day-before text names" in page
    form = {"facility": "Riverside Surgery Center", "proceduralist": "Dr. Lee", "levels": "L4-L5"}
    bad = coordinator.post(f"/episodes/{e.id}/details", {**form, "facility_address": "Spine wing, 9 Elm St",
                                                         "arrival_at": "2027-03-10T09:00", "confirm": "yes"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="details-facility_address-error"' in text and 'id="details-arrival_at-error"' in text
    session.expire_all()
    assert session.get(Episode, e.id).facility_address == ""
    shown = coordinator.post(f"/episodes/{e.id}/details", {**form, "facility_address": "9 Elm St",
                                                           "arrival_at": "2027-03-10T06:30"})
    assert shown.status_code == 200 and "by 6:30 AM" in shown.get_data(as_text=True)
    r = coordinator.post(f"/episodes/{e.id}/details", {**form, "facility_address": "9 Elm St",
                                                       "arrival_at": "2027-03-10T06:30", "confirm": "yes"})
    assert r.status_code == 302
    session.expire_all()
    saved = session.get(Episode, e.id)
    assert saved.facility_address == "9 Elm St"
    assert saved.arrival_at == datetime(2027, 3, 10, 11, 30, tzinfo=UTC)
    page = coordinator.text(f"/episodes/{e.id}")
    assert "Riverside Surgery Center, 9 Elm St" in page and 'value="2027-03-10T06:30"' in page


def test_a_facility_name_too_long_beside_the_address_line_is_kept_and_the_page_says_why_it_is_left_out(
        as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(facility_address="1200 N Main St")
    coordinator = as_role("coordinator")
    page = coordinator.text(f"/episodes/{e.id}")
    assert "Riverside Surgery Center, 1200 N Main St" in page and "name-left-out" not in page
    longer = {**DETAILS, "facility": "Riverside Ambulatory Surgery Center", "facility_address": "1200 N Main St",
              "confirm": "yes"}
    assert coordinator.post(f"/episodes/{e.id}/details", longer).status_code == 302
    session.expire_all()
    assert session.get(Episode, e.id).facility == "Riverside Ambulatory Surgery Center"
    page = coordinator.text(f"/episodes/{e.id}")
    assert "day-before text names <span class=\"fw-semibold\">1200 N Main St</span>" in page
    assert ("The facility's name is left out of the patient's texts: with the address line it is longer than the "
            "40 characters the day-before text has for the place, so the text gives the address line only. "
            "Shorten the name or the address line to have both.") in page
