"""Editing an episode after saving, at the service layer: a removed hold is left out of every
reader, and its open tasks follow it (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import MedicationHold, Message, Task
from pathway.services import episodes as ep
from pathway.services import holds as holds_service
from pathway.services import tasks
from pathway.services import worklist as worklist_service
from pathway.services.base import Conflict, Env, ValidationError


def test_a_removed_hold_leaves_holds_to_sign_the_worklist_and_the_plan(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}, {"drug": "apixaban"}])
    clop, apix = e.holds
    ep.record_clearance(session, env, staff["coordinator"], clop.id, {"status": "requested"})
    assert clop.id in {r.hold.id for r in holds_service.unsigned_holds(session, env, staff["clinician"])}
    assert clop.id in {i.subject_id for i in worklist_service.worklist(session, env, staff["coordinator"])}
    result = ep.remove_hold(session, env, staff["coordinator"], clop.id)
    assert result.applied and not result.stopped and result.hold is clop
    session.expire_all()
    assert clop.removed_at == env.now and clop.removed_by_id == staff["coordinator"].user_id
    assert [h.id for h in e.holds] == [apix.id]
    assert clop.id not in {r.hold.id for r in holds_service.unsigned_holds(session, env, staff["clinician"])}
    assert clop.id not in {i.subject_id for i in worklist_service.worklist(session, env, staff["coordinator"])
                           if i.kind.startswith("hold")}
    pending = session.scalars(select(Message.plan_key).where(Message.episode_id == e.id,
                                                             Message.status == "scheduled")).all()
    assert not any(f"h{clop.id}" in key for key in pending)
    with pytest.raises(Conflict, match="removed"):
        ep.record_inr(session, env, staff["coordinator"], clop.id, {"value": "1.0"})


def test_removing_a_hold_closes_its_hold_at_risk_task(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold = e.holds[0]
    ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-05T08:00",
                                                              "confirm_holds_at_risk": True})
    assert session.scalars(select(Task).where(Task.kind == "hold_at_risk", Task.resolved_at.is_(None))).all()
    ep.remove_hold(session, env, staff["coordinator"], hold.id)
    assert not session.scalars(select(Task).where(Task.kind == "hold_at_risk", Task.resolved_at.is_(None))).all()


def test_the_call_after_removing_a_stopped_hold_is_closed_only_with_a_note(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    hold = e.holds[0]
    ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    later = Env(env.rules, datetime(2027, 3, 3, 15, 0, tzinfo=UTC))
    with pytest.raises(ep.HoldStopped):
        ep.remove_hold(session, later, staff["coordinator"], hold.id)
    assert session.get(MedicationHold, hold.id).removed_at is None
    result = ep.remove_hold(session, later, staff["coordinator"], hold.id, confirm_stopped=True)
    assert result.stopped
    task = session.scalars(select(Task).where(Task.kind == "restart_after_removal")).one()
    assert task.priority == tasks.PRIORITY["restart_after_cancel"]
    with pytest.raises(ValidationError):
        tasks.resolve_task(session, later, staff["coordinator"], task.id, "")
    tasks.resolve_task(session, later, staff["coordinator"], task.id, "Called; restart as Dr. Ortiz advises")
    assert task.resolved_at == later.now


def test_a_patch_changes_only_the_fields_it_sends(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = make_episode(tried_pt=True, levels="L4-L5")
    result = ep.reschedule(session, env, staff["clinician"], e.id, {"proceduralist": "Dr. Park"})
    assert result.applied and result.procedure_at_before == result.procedure_at_after
    assert (e.proceduralist, e.levels, e.tried_pt, e.facility) == ("Dr. Park", "L4-L5", True,
                                                                   "Riverside Surgery Center")


def _send_last_dose_text(session: Any, e: Any) -> Message:
    """The worker sends the last-dose text ("take the last dose on Tue Mar 2, restart only when
    we say") at its time, the evening before the last-dose day."""
    from pathway.services import outbox

    msg = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "last_dose")).one()
    t = msg.send_at
    outbox.record(session, msg, outbox.Sending(worker="w", started_at=t), now=t, source="dispatch")
    outbox.record(session, msg, outbox.Sent("ok", sid="SM-stop", sent_at=t), now=t, source="dispatch")
    return msg


# 18:30 New York on Mon Mar 1: the clopidogrel text went at 17:00; its last-dose day is tomorrow.
EVENING_BEFORE = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)


def test_a_hold_whose_stop_text_went_counts_as_stopped_before_its_last_dose_day(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    (hold,) = e.holds
    ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    later = Env(env.rules, EVENING_BEFORE)
    assert ep.stopped_holds(later, e, session) == []  # not stopped by the calendar, and not told yet
    _send_last_dose_text(session, e)
    assert ep.stopped_holds(later, e, session) == [hold]  # told to stop: from now on the patient will
    with pytest.raises(ep.HoldStopped):
        ep.remove_hold(session, later, staff["coordinator"], hold.id)
    result = ep.remove_hold(session, later, staff["coordinator"], hold.id, confirm_stopped=True)
    assert result.applied and result.stopped
    (task,) = session.scalars(select(Task).where(Task.kind == "restart_after_removal")).all()
    assert task.subject == f"hold:{hold.id}" and task.resolved_at is None


def test_cancelling_after_the_stop_text_went_tells_the_patient_to_restart_and_opens_the_call(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    (hold,) = e.holds
    ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    _send_last_dose_text(session, e)
    later = Env(env.rules, EVENING_BEFORE)
    ep.cancel_episode(session, later, staff["coordinator"], e.id, {"reason": "patient unwell"})
    (task,) = session.scalars(select(Task).where(Task.kind == "restart_after_cancel")).all()
    assert task.subject == f"hold:{hold.id}"
    notice = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "cancelled")).one()
    assert "Restart your anti-platelet medicine only as your doctor says" in notice.body
