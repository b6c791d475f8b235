"""A postponement after the patient stopped a medicine, and a new time zone that moves a signed
last-dose day: neither may pass silently (mild-pathway.md, "Safety rules around the holds")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import MedicationHold, Message, Task
from pathway.services import episodes as ep
from pathway.services import patients as pt
from pathway.services import tasks
from pathway.services import worklist as worklist_service
from pathway.services.base import Env, ValidationError

# Clopidogrel for the procedure on Wed 10 Mar 2027 08:00 New York: last dose Tue 2 Mar.
AFTER_STOP = datetime(2027, 3, 4, 15, 0, tzinfo=UTC)


def _signed(session: Any, env: Env, staff: dict[str, Any], make_episode: Any, **kw: Any) -> Any:
    e = make_episode(holds=[{"drug": "clopidogrel"}], **kw)
    ep.record_clearance(session, env, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. Ortiz"})
    return e


def _notice(session: Any, e: Any) -> Message:
    return session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "date_changed",
                                                 Message.status == "scheduled")).one()


def test_postponing_after_the_last_dose_needs_confirming_and_lists_the_stopped_hold(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = _signed(session, env, staff, make_episode)
    hold = e.holds[0]
    later = Env(env.rules, AFTER_STOP)
    preview = ep.reschedule(session, later, staff["coordinator"], e.id, {"procedure_at": "2027-03-31T08:00"},
                            preview=True)
    assert [(hid, r.problem, r.last_dose_on) for hid, r in preview.holds_at_risk] == [
        (hold.id, "stopped_before_move", date(2027, 3, 2))]
    with pytest.raises(ep.HoldsAtRisk, match="restarting") as refused:
        ep.reschedule(session, later, staff["coordinator"], e.id, {"procedure_at": "2027-03-31T08:00"})
    assert [r.problem for _, r in refused.value.risks] == ["stopped_before_move"]
    session.expire_all()
    assert e.procedure_at == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)
    assert not session.scalars(select(Task)).all()


def test_postponing_after_the_last_dose_tells_the_patient_to_restart_only_as_advised_and_opens_a_call(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = _signed(session, env, staff, make_episode)
    hold = e.holds[0]
    later = Env(env.rules, AFTER_STOP)
    result = ep.reschedule(session, later, staff["coordinator"], e.id,
                           {"procedure_at": "2027-03-31T08:00", "confirm_holds_at_risk": True})
    assert result.applied and [r.problem for _, r in result.holds_at_risk] == ["stopped_before_move"]
    session.flush()
    body = _notice(session, e).body
    assert "We'll call. Restart your anti-platelet medicine only as told." in body
    assert "stop" not in body.lower()
    assert hold.approved_and_signed  # moving later keeps the signed interval
    task = session.scalars(select(Task).where(Task.kind == "restart_after_postpone")).one()
    assert task.subject == f"hold:{hold.id}" and task.priority == tasks.PRIORITY["restart_after_cancel"]
    (item,) = [i for i in worklist_service.worklist(session, later, staff["coordinator"])
               if i.kind == "restart_after_postpone"]
    assert item.title == "Postponed after a stop: call about restarting clopidogrel"
    with pytest.raises(ValidationError):
        tasks.resolve_task(session, later, staff["coordinator"], task.id, "")
    tasks.resolve_task(session, later, staff["coordinator"], task.id, "Called; restart as Dr. Ortiz advises")


def test_the_spanish_notice_after_a_stop_says_to_restart_only_as_advised_and_names_the_medicine(
        session: Any, env: Env, staff: dict[str, Any], make_patient: Any, make_episode: Any) -> None:
    p = make_patient(language="es", detailed_texts=True)
    e = _signed(session, env, staff, make_episode, patient=p)
    ep.reschedule(session, Env(env.rules, AFTER_STOP), staff["coordinator"], e.id,
                  {"procedure_at": "2027-03-31T08:00", "confirm_holds_at_risk": True})
    session.flush()
    body = _notice(session, e).body
    assert "Le llamaremos. Retome clopidogrel solo como le indiquen." in body
    assert "dejar de tomar" not in body


def test_postponing_before_the_last_dose_needs_no_confirming_and_opens_no_call(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = _signed(session, env, staff, make_episode)
    result = ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-31T08:00"})
    assert result.applied and result.holds_at_risk == ()
    session.flush()
    assert "We'll text when to stop your anti-platelet medicine" in _notice(session, e).body
    assert not session.scalars(select(Task)).all()


# --- a new time zone ---------------------------------------------------------------------------


def _guam(session: Any, env: Env, staff: dict[str, Any], make_patient: Any, make_episode: Any) -> Any:
    # 08:00 Wed 10 Mar in Guam is 17:00 Tue 9 Mar in New York: the 7-day hold's last dose moves a day.
    return _signed(session, env, staff, make_episode, patient=make_patient(timezone="Pacific/Guam"))


def test_a_new_zone_that_moves_a_signed_last_dose_day_is_refused_unless_confirmed(
        session: Any, env: Env, staff: dict[str, Any], make_patient: Any, make_episode: Any) -> None:
    e = _guam(session, env, staff, make_patient, make_episode)
    hold = e.holds[0]
    assert hold.last_dose_on == date(2027, 3, 2)
    preview = pt.update_patient(session, env, staff["coordinator"], e.patient_id,
                                {"timezone": "America/New_York"}, preview=True)
    assert [(hid, r.last_dose_on, r.problem) for hid, r in preview.holds_at_risk] == [
        (hold.id, date(2027, 3, 1), "hold_too_short")]
    with pytest.raises(ep.HoldsAtRisk, match="time zone") as refused:
        pt.update_patient(session, env, staff["coordinator"], e.patient_id, {"timezone": "America/New_York"})
    assert [hid for hid, _ in refused.value.risks] == [hold.id]
    session.expire_all()
    held = session.get(MedicationHold, hold.id)
    assert e.patient.timezone == "Pacific/Guam" and held.approved_and_signed and held.last_dose_on == date(2027, 3, 2)


def test_a_confirmed_new_zone_unsigns_the_moved_hold_and_puts_it_on_the_worklist(
        session: Any, env: Env, staff: dict[str, Any], make_patient: Any, make_episode: Any) -> None:
    e = _guam(session, env, staff, make_patient, make_episode)
    hold = e.holds[0]
    result = pt.update_patient(session, env, staff["coordinator"], e.patient_id,
                               {"timezone": "America/New_York", "confirm_holds_at_risk": True})
    assert result.applied and [hid for hid, _ in result.holds_at_risk] == [hold.id]
    session.flush()
    session.expire_all()
    held = session.get(MedicationHold, hold.id)
    assert held.clearance == "requested" and held.signed_at is None and not held.approved_and_signed
    assert "time zone changed" in held.clearance_note and held.last_dose_on == date(2027, 3, 1)
    task = session.scalars(select(Task).where(Task.kind == "hold_at_risk")).one()
    assert task.subject == f"hold:{hold.id}" and task.resolved_at is None
    assert not ep.decide(env, held.episode).go
    assert hold.id in {i.subject_id for i in worklist_service.worklist(session, env, staff["coordinator"])
                       if i.kind == "hold_at_risk"}


def test_a_new_zone_that_keeps_every_signed_last_dose_day_needs_no_confirming(
        session: Any, env: Env, staff: dict[str, Any], make_episode: Any) -> None:
    e = _signed(session, env, staff, make_episode)  # New York: 08:00 is 07:00 in Chicago, the same day
    result = pt.update_patient(session, env, staff["coordinator"], e.patient_id, {"timezone": "America/Chicago"})
    assert result.applied and result.holds_at_risk == ()
    assert e.holds[0].approved_and_signed
