"""The API's go / no go: blockers in the episode answer, the INR route, who may complete a
clearance, follow-ups outside their window, and the clinicians' holds to sign."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from tests.web.conftest_api import Harness

READY = {"mri_reviewed_on": "2027-01-15", "tried_pt": True, "escort_arranged": True}


def _by_kind(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in items}


def _codes(answer: dict[str, Any]) -> list[str]:
    return [b["code"] for b in answer["blockers"]]


def test_every_episode_answer_says_go_or_no_go_with_its_blockers(api: Harness) -> None:
    bare = api.episode()
    assert bare["go"] is False and _codes(bare) == ["candidacy_missing", "candidacy_missing", "escort_missing"]
    assert all(b["hold_id"] is None and b["message"] for b in bare["blockers"])
    assert [c["item"] for c in bare["checklist"]] == ["Escort arranged"]  # the checklist stays
    e = api.episode(holds=[{"drug": "clopidogrel"}], **READY)
    hold = e["holds"][0]
    assert e["go"] is False and e["blockers"] == [{
        "code": "hold_unsigned", "hold_id": hold["id"],
        "message": "Clopidogrel: clearance not yet requested from the prescriber."}]
    api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    now = api.get(f"/episodes/{e['id']}").json
    assert now["go"] is True and now["blockers"] == []


def test_a_cancelled_episode_answers_no_go(api: Harness) -> None:
    e = api.episode(**READY)
    assert api.get(f"/episodes/{e['id']}").json["go"] is True
    cancelled = api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient unwell"}).json
    assert cancelled["go"] is False and _codes(cancelled) == ["episode_cancelled"]


def test_an_inr_recorded_through_the_api_clears_the_inr_blockers_only_when_recent_and_normal(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "warfarin"}], **READY)
    hold = e["holds"][0]
    api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert _codes(api.get(f"/episodes/{e['id']}").json) == ["inr_missing"]
    api.clock.set(datetime(2027, 3, 10, 11, 0, tzinfo=UTC))  # the procedure day, 06:00 in New York
    for value, drawn, codes in (("1.1", "2027-03-07T09:00", ["inr_stale"]),
                                ("2.4", "2027-03-09T09:00", ["inr_high"]),
                                ("1.1", "2027-03-09T09:00", [])):
        answer = api.post(f"/holds/{hold['id']}/inr", {"value": value, "measured_at": drawn}, role="clinician")
        assert answer.status == 200 and answer.json["inr_value"] == f"{float(value):.2f}"
        assert _codes(api.get(f"/episodes/{e['id']}").json) == codes
    assert api.get(f"/episodes/{e['id']}").json["go"] is True
    bad = api.post(f"/holds/{hold['id']}/inr", {"value": "eleven"})
    assert bad.status == 422 and set(bad.errors) == {"value"}
    assert api.post("/holds/987654321/inr", {"value": "1.0"}).status == 404
    assert api.post(f"/holds/{hold['id']}/inr", {"value": "1.0"}, role="admin").status == 403


def test_the_inr_window_is_the_patients_local_day_before_across_the_spring_dst_change(api: Harness) -> None:
    # Clocks spring forward on Sun 14 March 2027; the procedure is Mon 15 March 08:00 EDT.
    e = api.episode(procedure_at="2027-03-15T08:00", holds=[{"drug": "warfarin"}], **READY)
    hold = e["holds"][0]
    api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    api.clock.set(datetime(2027, 3, 15, 10, 0, tzinfo=UTC))
    api.post(f"/holds/{hold['id']}/inr", {"value": "1.0", "measured_at": "2027-03-13T23:30"})  # Saturday night
    assert _codes(api.get(f"/episodes/{e['id']}").json) == ["inr_stale"]
    api.post(f"/holds/{hold['id']}/inr", {"value": "1.0", "measured_at": "2027-03-14T00:30"})  # Sunday, EST
    assert _codes(api.get(f"/episodes/{e['id']}").json) == []


def test_no_role_completes_a_hold_clearance_milestone_through_the_milestone_route(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "clopidogrel"}])
    m = _by_kind(e["milestones"])["hold_clearance"]
    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    for role in ("coordinator", "clinician", "admin"):
        assert api.post(f"/milestones/{m['id']}/complete", {}, role=role).status == 403
    assert api.snapshot(exclude=("audit_events",)) == before
    # Only each refusal's audit row is stored (issue 13: denied attempts are audited).
    assert [a[0] for a in api.audit_actions()[audited:]] == ["access.denied"] * 3


def test_a_last_dose_cannot_be_completed_before_it_is_due(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "clopidogrel"}])
    api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "approved", "by": "Dr. O"}, role="clinician")
    m = _by_kind(api.get(f"/episodes/{e['id']}").json["milestones"])["last_dose"]
    early = api.post(f"/milestones/{m['id']}/complete", {})
    assert early.status == 422 and set(early.errors) == {"due_at"}
    api.clock.set(datetime.fromisoformat(m["due_at"]))
    assert api.post(f"/milestones/{m['id']}/complete", {}).json["status"] == "done"


def test_a_follow_up_outside_its_window_needs_confirming_and_shows_as_outside(api: Harness) -> None:
    e = api.episode()  # procedure Wed 10 March: the window is 17-20 March
    refused = api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-24T10:00"})
    assert refused.status == 409 and "7 to 10 days after the procedure" in refused.json["message"]
    booked = api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-24T10:00",
                                                         "confirm_outside_window": True})
    assert booked.status == 200 and booked.json["appointments"][0]["outside_window"] is True
    inside = api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-18T10:00"})
    assert inside.json["appointments"][0]["outside_window"] is False
    pt = api.post(f"/episodes/{e['id']}/pt-start", {"appointment_at": "2027-04-30T10:00"})
    assert pt.status == 200 and all(a["outside_window"] is False for a in pt.json["appointments"])


def test_holds_waiting_for_a_signature_are_listed_earliest_last_dose_first_and_audited(api: Harness) -> None:
    far = api.episode(procedure_at="2027-06-10T08:00", holds=[{"drug": "clopidogrel"}])
    near = api.episode(holds=[{"drug": "apixaban"}])
    unasked = api.episode(holds=[{"drug": "clopidogrel"}])
    for e in (far, near):
        api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "requested"})
    answer = api.get("/holds?status=unsigned", role="clinician")
    assert answer.status == 200
    mine = [i for i in answer.json["items"] if i["patient_id"] in (far["patient_id"], near["patient_id"],
                                                                   unasked["patient_id"])]
    assert [(i["hold_id"], i["last_dose_on"], i["clearance"]) for i in mine] == [
        (near["holds"][0]["id"], "2027-03-06", "requested"), (far["holds"][0]["id"], "2027-06-02", "requested")]
    assert answer.json["count"] == len(answer.json["items"])
    with api.runtime.engine.connect() as conn:
        detail = conn.execute(text("SELECT detail FROM audit_events WHERE action = 'holds.unsigned.view' "
                                   "ORDER BY id DESC")).scalars().first()
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert {far["patient_id"], near["patient_id"]} <= set(detail["patient_ids"])
    assert unasked["patient_id"] not in detail["patient_ids"] or any(
        i["patient_id"] == unasked["patient_id"] for i in answer.json["items"])
    assert api.get("/holds?status=unsigned", role="coordinator").status == 200
    for bad in (api.get("/holds?status=signed"), api.get("/holds")):
        assert bad.status == 422 and set(bad.errors) == {"status"}
    assert api.get("/holds?status=unsigned", role="admin").status == 403


def test_moving_a_signed_hold_earlier_answers_no_go_until_it_is_signed_again(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "clopidogrel"}], **READY)
    hold = e["holds"][0]
    api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    api.clock.set(datetime(2027, 2, 10, 15, 0, tzinfo=UTC))
    moved = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-06T08:00"})
    assert moved.status in (200, 409)  # another part may ask for a confirmation first
    if moved.status == 409:
        moved = api.patch(f"/episodes/{e['id']}", {"procedure_at": "2027-03-06T08:00", "confirm_holds_at_risk": True})
    answer = api.get(f"/episodes/{e['id']}").json
    assert answer["go"] is False and {b["hold_id"] for b in answer["blockers"]} == {hold["id"]}
    api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert api.get(f"/episodes/{e['id']}").json["go"] is True
