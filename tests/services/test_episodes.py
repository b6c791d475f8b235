from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from pathway.models import AuditEvent, Episode, MedicationHold, Message, Milestone
from pathway.services import episodes as ep
from pathway.services.base import Conflict, Forbidden, ValidationError
from tests.conftest import at

UTC = UTC


def _texts(session, episode, *statuses):
    stmt = select(Message).where(Message.episode_id == episode.id)
    if statuses:
        stmt = stmt.where(Message.status.in_(statuses))
    return {(m.kind, m.send_at) for m in session.scalars(stmt)}


def _approve(session, env, staff, hold, **extra):
    return ep.record_clearance(session, env, staff["clinician"], hold.id,
                               {"status": "approved", "by": "Dr. Ortiz", **extra})


def test_scheduling_with_clopidogrel_computes_the_hold_and_plans_the_timeline(session, env, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz", "prescriber_phone": "2125550199"}])
    assert e.procedure_at == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)  # 08:00 EST, patient-local input
    (hold,) = e.holds
    assert (hold.drug_key, hold.stop_days, hold.restart_hours) == ("clopidogrel", 7, 24)
    assert hold.last_dose_on == date(2027, 3, 2)  # the reference's own example
    assert hold.restart_at == datetime(2027, 3, 11, 14, 0, tzinfo=UTC)  # end (start + 60 min) + 24 h
    assert hold.clearance == "needed" and hold.prescriber_phone == "+12125550199"
    kinds = sorted(m.key for m in e.milestones)
    assert kinds == sorted([f"hold_clearance:{hold.ref}", f"last_dose:{hold.ref}", "pre_procedure:", "procedure:",
                            f"restart:{hold.ref}", "check_72h:", "follow_up:", "pt_start:"])
    follow_up = next(m for m in e.milestones if m.kind == "follow_up")
    assert follow_up.window_start == datetime(2027, 3, 17, 4, 0, tzinfo=UTC)  # day 7, 00:00 EDT
    assert follow_up.window_end == datetime(2027, 3, 21, 4, 0, tzinfo=UTC)  # end of day 10
    # Until the hold is approved and signed, nothing tells the patient to stop the drug.
    assert _texts(session, e, "scheduled") == {
        ("pre_procedure", datetime(2027, 3, 9, 15, 0, tzinfo=UTC)),  # 10:00 the day before
        ("check_72h", datetime(2027, 3, 13, 13, 0, tzinfo=UTC)),  # start + 72 h
    }


def test_approval_by_a_clinician_signs_the_plan_and_adds_stop_and_restart_texts(
    session, env, staff, make_episode
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    (hold,) = e.holds
    later = at(env, env.now + timedelta(days=1))
    _approve(session, later, staff, hold, note="ok by phone")
    assert hold.clearance == "approved" and hold.clearance_by == "Dr. Ortiz"
    assert hold.signed_by_id == staff["clinician"].user_id and hold.signed_at == later.now
    texts = _texts(session, e, "scheduled")
    assert ("last_dose", datetime(2027, 3, 1, 22, 0, tzinfo=UTC)) in texts  # 17:00 EST the day before
    assert not any(kind == "restart" for kind, _ in texts)  # it waits for the recorded end
    ended = at(env, datetime(2027, 3, 10, 15, 0, tzinfo=UTC))
    ep.record_procedure_end(session, ended, staff["clinician"], e.id, {"ended_at": "2027-03-10T09:00"})
    assert ("restart", datetime(2027, 3, 11, 14, 0, tzinfo=UTC)) in _texts(session, e, "scheduled")
    clearance = next(m for m in e.milestones if m.kind == "hold_clearance")
    assert clearance.status == "done"
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "hold.approved")) == 1


def test_a_coordinator_may_record_requested_but_not_approve(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    (hold,) = e.holds
    ep.record_clearance(session, env, staff["coordinator"], hold.id, {"status": "requested"})
    assert hold.clearance == "requested" and hold.signed_at is None
    with pytest.raises(Forbidden):
        ep.record_clearance(session, env, staff["coordinator"], hold.id, {"status": "approved", "by": "Dr. O"})
    assert hold.clearance == "requested"


def test_declined_hold_keeps_the_drug_and_plans_no_stop_texts(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "apixaban"}])
    (hold,) = e.holds
    ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "declined", "by": "Dr. Cardio"})
    kinds = {m.kind: m.status for m in e.milestones if m.ref == hold.ref}
    assert kinds["hold_clearance"] == "done"
    assert kinds.get("last_dose", "cancelled") == "cancelled" and kinds.get("restart", "cancelled") == "cancelled"
    assert not any(k in ("last_dose", "restart") for k, _ in _texts(session, e, "scheduled"))


def test_plain_aspirin_asks_which_indication(session, env, make_episode) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(holds=[{"drug": "aspirin"}])
    assert "aspirin-primary" in err.value.errors["holds[0].drug"]
    assert "aspirin-secondary" in err.value.errors["holds[0].drug"]


def test_drug_without_default_needs_a_clinician_plan_before_approval(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "aspirin-secondary"}, {"drug": "Mystery herbal blend"}])
    secondary, herbal = e.holds
    assert secondary.last_dose_on is None and secondary.restart_at is None
    assert herbal.drug_key is None and herbal.drug_name == "Mystery herbal blend"
    with pytest.raises(ValidationError) as err:
        _approve(session, env, staff, secondary)
    assert "no default" in err.value.errors["stop_days"]
    _approve(session, env, staff, secondary, stop_days=7, restart_hours=24)
    assert secondary.last_dose_on == date(2027, 3, 2) and secondary.interval_source == "clinician plan"
    assert any(k == "last_dose" for k, _ in _texts(session, e, "scheduled"))


def test_hour_based_hold_gives_a_last_dose_time(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "enoxaparin-prophylactic"}])
    (hold,) = e.holds
    assert hold.stop_hours == 12 and hold.last_dose_on is None
    assert hold.last_dose_at == datetime(2027, 3, 10, 1, 0, tzinfo=UTC)  # 12 h before 13:00Z


def test_bad_hold_rejects_the_whole_episode_and_stores_nothing(session, env, make_patient) -> None:
    p = make_patient()
    counts = lambda: (session.scalar(select(func.count()).select_from(Episode)),  # noqa: E731
                      session.scalar(select(func.count()).select_from(MedicationHold)),
                      session.scalar(select(func.count()).select_from(Milestone)))
    before = counts()
    from pathway.services.base import Actor
    from pathway.services.episodes import schedule_episode
    with pytest.raises(ValidationError) as err:
        schedule_episode(session, env, Actor(role="coordinator", label="t"), p.id, {
            "procedure_at": "2027-03-10T08:00",
            "holds": [{"drug": "clopidogrel"}, {"drug": "heparin"}, {"drug": "warfarin", "stop_days": "x"}],
        })
    assert set(err.value.errors) == {"holds[1].drug", "holds[2].stop_days"}
    assert counts() == before


def test_procedure_time_in_the_spring_forward_gap_is_refused(session, env, make_episode) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(procedure_at="2027-03-14T02:30")
    assert "offset" in err.value.errors["procedure_at"]
    with pytest.raises(ValidationError) as err:
        make_episode(procedure_at="2027-11-07T01:30")
    assert "offset" in err.value.errors["procedure_at"]
    e = make_episode(procedure_at="2027-11-07T01:30-05:00")  # explicit offset: accepted
    assert e.procedure_at == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)


def test_procedure_in_the_past_is_refused(session, env, make_episode) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(procedure_at="2027-01-10T08:00")
    assert "past" in err.value.errors["procedure_at"]


def test_reschedule_preview_changes_nothing_and_apply_replans_with_one_notice(
    session, env, staff, make_episode
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    before = _texts(session, e)
    preview = ep.reschedule(
        session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-17T08:00"}, preview=True
    )
    assert not preview.applied and preview.diff.notice is not None
    cancelled = {m.kind for m in preview.diff.messages_cancelled}
    added = {m.kind for m in preview.diff.messages_added}
    # No restart text before the end.
    assert cancelled == added == {"last_dose", "stop_confirm", "pre_procedure", "check_72h"}
    assert _texts(session, e) == before
    assert e.procedure_at == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)

    result = ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-17T08:00"})
    assert result.applied and e.procedure_at == datetime(2027, 3, 17, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert e.holds[0].last_dose_on == date(2027, 3, 9)
    msgs = list(session.scalars(select(Message).where(Message.episode_id == e.id)))
    assert sum(1 for m in msgs if m.kind == "date_changed") == 1
    assert {m.kind for m in msgs if m.status == "cancelled"} == {"last_dose", "stop_confirm", "pre_procedure",
                                                                 "check_72h"}
    scheduled = {(m.kind, m.send_at) for m in msgs if m.status == "scheduled"}
    assert ("pre_procedure", datetime(2027, 3, 16, 14, 0, tzinfo=UTC)) in scheduled  # 10:00 EDT
    assert ("last_dose", datetime(2027, 3, 8, 22, 0, tzinfo=UTC)) in scheduled  # 17:00 EST, before the DST change
    assert ("stop_confirm", datetime(2027, 3, 10, 14, 0, tzinfo=UTC)) in scheduled  # 09:00 EST, the morning after


def test_texts_already_sent_stay_as_history_when_replanned(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    sent = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "last_dose")).one()
    sent.status = "delivered"
    session.flush()
    # The patient has their stop text: postponing needs a confirmation and a call about restarting.
    with pytest.raises(ep.HoldsAtRisk):
        ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-12T08:00"})
    ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-12T08:00",
                                                            "confirm_holds_at_risk": True})
    session.refresh(sent)
    assert sent.status == "delivered"


def test_recording_the_procedure_end_moves_the_restart_and_plans_its_text(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    restart = next(m for m in e.milestones if m.kind == "restart")
    assert restart.due_at == datetime(2027, 3, 11, 14, 0, tzinfo=UTC) and restart.due_estimated
    assert e.holds[0].restart_estimated
    after = at(env, datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    ep.record_procedure_end(session, after, staff["clinician"], e.id, {"ended_at": "2027-03-10T10:30"})
    assert e.status == "completed" and e.ended_at == datetime(2027, 3, 10, 15, 30, tzinfo=UTC)
    assert e.holds[0].restart_at == datetime(2027, 3, 11, 15, 30, tzinfo=UTC)
    assert restart.due_at == datetime(2027, 3, 11, 15, 30, tzinfo=UTC) and not restart.due_estimated
    assert not e.holds[0].restart_estimated
    restarts = {(m.send_at, m.status) for m in session.scalars(
        select(Message).where(Message.episode_id == e.id, Message.kind == "restart"))}
    assert restarts == {(datetime(2027, 3, 11, 15, 30, tzinfo=UTC), "scheduled")}
    assert next(m for m in e.milestones if m.kind == "procedure").status == "done"
    # No date-change notice: the date did not change.
    assert not any(k == "date_changed" for k, _ in _texts(session, e))


def test_booking_follow_up_and_pt_plans_reminders_the_day_before(session, env, staff, make_episode) -> None:
    e = make_episode()
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T14:00"})
    assert ("follow_up", datetime(2027, 3, 17, 14, 0, tzinfo=UTC)) in _texts(session, e, "scheduled")  # 10:00 EDT
    fu = next(m for m in e.milestones if m.kind == "follow_up")
    assert fu.due_at == datetime(2027, 3, 18, 18, 0, tzinfo=UTC)
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-19T09:00"})
    follow_ups = {(m.send_at, m.status) for m in session.scalars(
        select(Message).where(Message.episode_id == e.id, Message.kind == "follow_up"))}
    assert follow_ups == {(datetime(2027, 3, 17, 14, 0, tzinfo=UTC), "cancelled"),
                          (datetime(2027, 3, 18, 14, 0, tzinfo=UTC), "scheduled")}
    ep.book_appointment(session, env, staff["coordinator"], e.id, "pt_start", {"appointment_at": "2027-03-24T13:00"})
    assert ("pt_start", datetime(2027, 3, 23, 14, 0, tzinfo=UTC)) in _texts(session, e, "scheduled")


def test_completing_a_milestone_cancels_its_pending_reminder(session, env, staff, make_episode) -> None:
    e = make_episode()
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T14:00"})
    fu = next(m for m in e.milestones if m.kind == "follow_up")
    # A step is marked done once it has happened (the visit, 14:00 EDT, recorded that afternoon),
    # so its reminder has normally gone; one still pending (no worker ran here) is cancelled.
    visit_day = at(env, datetime(2027, 3, 18, 20, 0, tzinfo=UTC))
    assert ("follow_up", datetime(2027, 3, 17, 14, 0, tzinfo=UTC)) in _texts(session, e, "scheduled")
    ep.complete_milestone(session, visit_day, staff["clinician"], fu.id, {"result": {"pain_nprs": 2}})
    assert fu.status == "done" and fu.result == {"pain_nprs": 2}
    assert not any(k == "follow_up" for k, _ in _texts(session, e, "scheduled"))
    with pytest.raises(ValidationError):
        ep.complete_milestone(session, visit_day, staff["clinician"], fu.id, {"result": "fine"})


def test_cancelling_the_episode_cancels_everything_pending_with_one_notice(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "patient unwell"})
    msgs = list(session.scalars(select(Message).where(Message.episode_id == e.id)))
    assert [m.kind for m in msgs if m.status == "scheduled"] == ["cancelled"]
    assert all(m.status in ("cancelled", "scheduled") for m in msgs)
    assert {m.status for m in e.milestones} <= {"cancelled", "done"}
    with pytest.raises(Conflict):
        ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-20T08:00"})


def test_warfarin_needs_a_normal_inr_on_the_go_no_go_checklist(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}], escort_arranged=True)
    (hold,) = e.holds
    assert hold.inr_required
    _approve(session, env, staff, hold)
    checks = {c.item: c.ok for c in ep.go_no_go(env, e)}
    assert checks == {"warfarin hold": True, "INR for warfarin": False, "Escort arranged": True}
    with pytest.raises(ValidationError):
        ep.record_inr(session, env, staff["coordinator"], hold.id, {"value": "eleven"})
    # An INR counts only when drawn on the procedure day or the day before (issue 10).
    day = at(env, datetime(2027, 3, 10, 11, tzinfo=UTC))
    ep.record_inr(session, day, staff["coordinator"], hold.id, {"value": "1.1"})
    assert hold.inr_value == Decimal("1.10")
    assert all(c.ok for c in ep.go_no_go(day, e))
    ep.record_inr(session, day, staff["coordinator"], hold.id, {"value": "2.4"})
    assert not {c.item: c.ok for c in ep.go_no_go(day, e)}["INR for warfarin"]


def test_every_change_is_audited_with_actor_and_record(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    ep.record_clearance(session, env, staff["coordinator"], e.holds[0].id, {"status": "requested"})
    rows = list(
        session.scalars(select(AuditEvent).where(AuditEvent.patient_id == e.patient_id).order_by(AuditEvent.id))
    )
    assert [r.action for r in rows] == ["patient.enrol", "episode.schedule", "hold.requested"]
    assert rows[-1].actor == staff["coordinator"].label and rows[-1].entity_id == e.holds[0].id


def test_an_old_normal_inr_is_not_a_pass_on_the_checklist(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}], escort_arranged=True)
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    ep.record_inr(session, env, staff["coordinator"], hold.id, {"value": "1.1"})  # five weeks early
    item = next(c for c in ep.go_no_go(env, e) if c.item == "INR for warfarin")
    assert not item.ok and item.detail == ("INR 1.10 drawn Mon 1 Feb (needs <= 1.2, drawn on the procedure day "
                                           "or the day before)")
