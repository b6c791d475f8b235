"""Go / no go decided once in the services: blockers, the INR, who may complete a clearance,
follow-ups outside their window, and the clinicians' holds to sign."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent
from pathway.services import episodes as ep
from pathway.services import queries
from pathway.services.base import Conflict, Forbidden, ValidationError
from pathway.services.holds import unsigned_holds
from tests.conftest import at

READY = {"mri_reviewed_on": "2027-01-15", "tried_pt": True, "escort_arranged": True}
PROCEDURE_DAY = datetime(2027, 3, 10, 11, 0, tzinfo=UTC)  # Wed 10 March, 06:00 in New York


def _codes(env: Any, e: Any) -> list[str]:
    return [b.code for b in ep.decide(env, e).blockers]


def _approve(session: Any, env: Any, staff: Any, hold: Any) -> None:
    ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})


def test_an_episode_is_a_go_only_when_nothing_blocks_it(session: Any, env: Any, staff: Any,
                                                         make_episode: Any) -> None:
    bare = make_episode()
    assert _codes(env, bare) == ["candidacy_missing", "candidacy_missing", "escort_missing"]
    assert not ep.decide(env, bare).go
    e = make_episode(holds=[{"drug": "clopidogrel"}], **READY)
    d = ep.decide(env, e)
    assert not d.go and [(b.code, b.hold_id) for b in d.blockers] == [("hold_unsigned", e.holds[0].id)]
    assert d.blockers[0].message == "Clopidogrel: clearance not yet requested from the prescriber."
    _approve(session, env, staff, e.holds[0])
    assert ep.decide(env, e).go and ep.decide(env, e).blockers == []
    # The page's record carries the same decision as the API.
    record = queries.episode_record(session, env, staff["clinician"], e.id)
    assert record.go and record.blockers == []


def test_a_cancelled_episode_is_never_a_go_and_a_completed_one_says_completed(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode(**READY)
    assert ep.decide(env, e).go
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "patient unwell"})
    assert not ep.decide(env, e).go and _codes(env, e) == ["episode_cancelled"]
    done = make_episode(procedure_at="2027-02-03T08:00", **READY)
    later = at(env, datetime(2027, 2, 3, 16, tzinfo=UTC))
    ep.record_procedure_end(session, later, staff["clinician"], done.id, {"ended_at": "2027-02-03T08:50"})
    assert _codes(later, done) == ["episode_completed"] and not ep.decide(later, done).go


def test_a_signed_last_dose_later_than_the_interval_allows_blocks(session: Any, env: Any, staff: Any,
                                                                   make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}], **READY)
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    hold.last_dose_on = date(2027, 3, 4)  # a signed date kept after the procedure moved earlier
    (b,) = ep.decide(env, e).blockers
    assert b.code == "hold_too_short" and b.hold_id == hold.id
    assert b.message.startswith("Clopidogrel: the signed last dose (Thu 4 Mar) leaves only 5 of 7 days")


def test_a_hold_signed_after_its_last_dose_started_late(session: Any, env: Any, staff: Any,
                                                         make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}], **READY)  # last dose Tue 2 March
    late = at(env, datetime(2027, 3, 4, 15, tzinfo=UTC))
    ep.record_clearance(session, late, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. O"})
    assert _codes(late, e) == ["hold_started_late"]


def test_warfarin_goes_only_with_a_recent_normal_inr(session: Any, env: Any, staff: Any,
                                                      make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}], **READY)
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    assert _codes(env, e) == ["inr_missing"]
    morning = at(env, PROCEDURE_DAY)
    ep.record_inr(session, morning, staff["coordinator"], hold.id, {"value": "1.1", "measured_at": "2027-03-06T09:00"})
    assert _codes(morning, e) == ["inr_stale"]
    ep.record_inr(session, morning, staff["coordinator"], hold.id, {"value": "2.4", "measured_at": "2027-03-09T09:00"})
    assert _codes(morning, e) == ["inr_high"]
    ep.record_inr(session, morning, staff["coordinator"], hold.id, {"value": "1.1", "measured_at": "2027-03-09T09:00"})
    assert _codes(morning, e) == [] and ep.decide(morning, e).go


def test_nobody_completes_a_hold_clearance_milestone_outside_the_clearance_route(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    m = next(m for m in e.milestones if m.kind == "hold_clearance")
    for role in ("coordinator", "clinician"):
        with pytest.raises(Forbidden):
            ep.complete_milestone(session, env, staff[role], m.id, {})
    assert m.status != "done"


def test_a_last_dose_cannot_be_marked_done_before_it_is_due(session: Any, env: Any, staff: Any,
                                                             make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    m = next(m for m in e.milestones if m.kind == "last_dose")
    with pytest.raises(ValidationError) as exc:
        ep.complete_milestone(session, env, staff["clinician"], m.id, {})
    assert set(exc.value.errors) == {"due_at"} and "cannot be marked done before then" in exc.value.errors["due_at"]
    assert m.due_at is not None
    ep.complete_milestone(session, at(env, m.due_at), staff["clinician"], m.id, {})
    assert m.status == "done"


def test_a_follow_up_outside_its_window_needs_confirming(session: Any, env: Any, staff: Any,
                                                          make_episode: Any) -> None:
    e = make_episode()  # procedure Wed 10 March: the window is 17-20 March
    with pytest.raises(Conflict) as exc:
        ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up",
                            {"appointment_at": "2027-03-24T10:00"})
    assert "7 to 10 days after the procedure" in str(exc.value) and e.appointment("follow_up") is None
    appt = ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up",
                               {"appointment_at": "2027-03-24T10:00", "confirm_outside_window": True})
    assert ep.outside_window(e, appt.appointment_at)
    assert queries.episode_record(session, env, staff["coordinator"], e.id).follow_up_outside_window
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T10:00"})
    assert not ep.outside_window(e, appt.appointment_at)


def test_holds_to_sign_lists_requested_and_approved_unsigned_holds_earliest_last_dose_first(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    far = make_episode(procedure_at="2027-06-10T08:00", holds=[{"drug": "clopidogrel"}])
    near = make_episode(holds=[{"drug": "apixaban"}, {"drug": "clopidogrel"}])
    gone = make_episode(holds=[{"drug": "clopidogrel"}])
    for h in (far.holds[0], near.holds[0], near.holds[1], gone.holds[0]):
        ep.record_clearance(session, env, staff["coordinator"], h.id, {"status": "requested"})
    ep.cancel_episode(session, env, staff["coordinator"], gone.id, {"reason": "moved away"})
    _approve(session, env, staff, near.holds[0])
    near.holds[0].signed_at = None  # the prescriber's approval on file, no clinician's signature
    rows = unsigned_holds(session, env, staff["clinician"])
    assert [r.hold.id for r in rows] == [near.holds[1].id, near.holds[0].id, far.holds[0].id]
    assert [r.last_dose_day for r in rows] == [date(2027, 3, 2), date(2027, 3, 6), date(2027, 6, 2)]
    # Days left and urgency come from the service, by the worklist's own thresholds (today is 1 Feb).
    assert [r.days_left for r in rows] == [29, 33, 121] and {r.urgency for r in rows} == {"normal"}
    soon = unsigned_holds(session, at(env, datetime(2027, 2, 28, 15, tzinfo=UTC)), staff["clinician"])
    assert [(r.days_left, r.urgency) for r in soon][:2] == [(2, "urgent"), (6, "high")]
    needed = make_episode(holds=[{"drug": "clopidogrel"}])  # not requested yet: the coordinators' worklist
    assert needed.holds[0].id not in [r.hold.id for r in unsigned_holds(session, env, staff["clinician"])]
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "holds.unsigned.view")).all()[-1]
    assert audit.detail["patient_ids"] == sorted({far.patient_id, near.patient_id})
    with pytest.raises(Forbidden):
        unsigned_holds(session, env, staff["admin"])


def test_a_move_that_puts_the_last_dose_in_the_past_is_a_late_start(session: Any, env: Any, staff: Any,
                                                                     make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}], **READY)  # last dose Tue 2 March
    _approve(session, env, staff, e.holds[0])
    assert ep.decide(env, e).go
    # On Fri 5 March the procedure moves to Mon 8 March: the last dose would be Sun 28 February.
    friday = at(env, datetime(2027, 3, 5, 15, tzinfo=UTC))
    ep.reschedule(session, friday, staff["coordinator"], e.id,
                  {"procedure_at": "2027-03-08T08:00", "confirm_holds_at_risk": True})
    d = ep.decide(friday, e)
    # The confirmed move cleared the signature, and the hold can no longer be held in full.
    assert not d.go and {"hold_unsigned", "hold_started_late"} <= {b.code for b in d.blockers}
    late = next(b for b in d.blockers if b.code == "hold_started_late")
    assert "had already passed when the procedure was moved (Fri 5 Mar)" in late.message


def test_a_signature_given_for_a_later_procedure_does_not_stand_after_a_move_earlier(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}], **READY)  # signed for Wed 10 March: last dose Tue 2 March
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    later = at(env, datetime(2027, 2, 10, 15, tzinfo=UTC))
    ep.reschedule(session, later, staff["coordinator"], e.id,
                  {"procedure_at": "2027-03-06T08:00", "confirm_holds_at_risk": True})
    d = ep.decide(later, e)
    # The move broke the signed plan: its signature is cleared, so the hold must be signed again.
    assert [b.code for b in d.blockers] == ["hold_unsigned"] and not d.go
    assert hold.signed_at is None and hold.clearance == "requested"
    # Signed again for the new date, it stands.
    ep.record_clearance(session, at(later, datetime(2027, 2, 11, 15, tzinfo=UTC)), staff["clinician"], hold.id,
                        {"status": "approved", "by": "Dr. Ortiz"})
    assert ep.decide(later, e).go
    # A move later keeps the signature: the hold only gets longer.
    ep.reschedule(session, at(later, datetime(2027, 2, 12, 15, tzinfo=UTC)), staff["coordinator"], e.id,
                  {"procedure_at": "2027-03-20T08:00"})
    assert ep.decide(later, e).go
