"""Moves that break signed holds, and cancelling with a reason: through the API and the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pathway.models import Episode, MedicationHold, Task
from tests.web.conftest_api import Harness

CLOPIDOGREL = {"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz", "prescriber_phone": "(212) 555-0199"}


def test_a_move_earlier_is_refused_with_409_listing_the_holds_then_applied_when_confirmed(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    assert api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                    role="clinician").status == 200
    move = {"procedure_at": "2027-03-05T08:00"}
    preview = api.patch(f"/episodes/{e['id']}?preview=1", move)
    expected = [{"hold_id": hold_id, "drug": "clopidogrel", "last_dose_on": "2027-02-25",
                 "problem": "hold_too_short"}]
    assert preview.status == 200 and preview.json["holds_at_risk"] == expected
    before = api.snapshot(exclude=("audit_events",))
    refused = api.patch(f"/episodes/{e['id']}", move)
    assert refused.status == 409 and refused.json["holds_at_risk"] == expected
    assert "confirm_holds_at_risk" in refused.json["message"]
    assert api.snapshot(exclude=("audit_events",)) == before
    applied = api.patch(f"/episodes/{e['id']}", {**move, "confirm_holds_at_risk": True})
    assert applied.status == 200 and applied.json["change"]["holds_at_risk"] == expected
    hold = applied.json["holds"][0]
    assert hold["clearance"] == "requested" and hold["signed"] is False
    items = api.get("/worklist").json["items"]
    assert items[0]["kind"] == "hold_at_risk" and items[0]["subject_id"] == hold_id


def test_a_move_later_answers_no_holds_at_risk(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    moved = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-17T08:00"})
    assert moved.status == 200 and moved.json["change"]["holds_at_risk"] == []
    assert moved.json["holds"][0]["signed"] is True


def test_cancel_without_a_reason_is_a_422_naming_reason(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    answer = api.post(f"/episodes/{e['id']}/cancel", {"reason": "  "})
    assert answer.status == 422 and set(answer.errors) == {"reason"}
    assert api.get(f"/episodes/{e['id']}").json["status"] == "scheduled"


# --- pages ---------------------------------------------------------------------------------


def _approve_page(as_role: Any, episode_id: int, hold_id: int) -> None:
    clinician = as_role("clinician")
    r = clinician.post(f"/episodes/{episode_id}/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"})
    assert r.status_code in (200, 302)


def test_the_reschedule_preview_warns_about_holds_a_move_breaks(
    as_role: Any, make_episode: Any, session: Any
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold = e.holds[0]
    _approve_page(as_role, e.id, hold.id)
    coordinator = as_role("coordinator")
    page = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-05T08:00"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "This move breaks 1 signed hold plan" in text
    assert "clopidogrel" in text and 'name="confirm_holds_at_risk"' in text
    # Confirming without ticking the box changes nothing and says why.
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-05T08:00", "confirm": "yes"})
    assert r.status_code == 409 and "Tick the box" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(MedicationHold, hold.id).signed_at is not None
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-05T08:00", "confirm": "yes",
                                                          "confirm_holds_at_risk": "yes"})
    assert r.status_code == 302
    session.expire_all()
    moved = session.get(MedicationHold, hold.id)
    assert moved.clearance == "requested" and moved.signed_at is None


def test_the_reschedule_preview_says_which_medicine_each_hold_line_is_about(as_role: Any, make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}, {"drug": "apixaban"}])
    page = as_role("coordinator").post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-12T08:00"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Last dose before the hold (clopidogrel)" in text and "Last dose before the hold (apixaban)" in text


def test_a_one_day_hold_reads_one_day_not_one_days(as_role: Any, make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "ibuprofen"}])  # ASRA: 1 day before
    page = as_role("coordinator").text(f"/episodes/{e.id}")
    assert "1 day before; restart" in page and "1 days" not in page


def test_a_hold_at_risk_on_the_worklist_has_no_done_button_it_closes_when_signed_again(
    as_role: Any, make_episode: Any, session: Any
) -> None:
    # "Done" there closed the task while the hold was still unsigned, and the item fell back to
    # an ordinary "awaiting prescriber" line without saying the procedure had moved.
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve_page(as_role, e.id, e.holds[0].id)
    coordinator = as_role("coordinator")
    r = coordinator.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-05T08:00", "confirm": "yes",
                                                          "confirm_holds_at_risk": "yes"})
    assert r.status_code == 302
    task_id = session.scalar(select(Task.id).where(Task.kind == "hold_at_risk", Task.episode_id == e.id))
    page = coordinator.text("/")
    assert "Hold needs signing again: clopidogrel" in page
    assert f"/tasks/{task_id}/" not in page


def test_the_cancel_form_needs_a_reason_and_a_confirmation(as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    coordinator = as_role("coordinator")
    page = coordinator.text(f"/episodes/{e.id}")
    assert 'name="reason"' in page and 'name="confirm"' in page
    assert coordinator.post(f"/episodes/{e.id}/cancel", {"reason": "patient unwell"}).status_code == 422
    assert coordinator.post(f"/episodes/{e.id}/cancel", {"confirm": "1"}).status_code == 422
    session.expire_all()
    assert session.scalar(select(Episode.status).where(Episode.id == e.id)) == "scheduled"
    r = coordinator.post(f"/episodes/{e.id}/cancel", {"reason": "patient unwell", "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert session.scalar(select(Episode.status).where(Episode.id == e.id)) == "cancelled"
