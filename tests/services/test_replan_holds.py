"""Re-planning that respects the holds, and cancelling safely (issue 10)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, Message, Task
from pathway.services import episodes as ep
from pathway.services import tasks as task_service
from pathway.services.base import ValidationError
from pathway.services.worklist import worklist
from pathway.timeline import HoldPlanInput
from pathway.timeline.holds import HOLD_STARTED_LATE, HOLD_TOO_SHORT, hold_at_risk
from pathway.timeline.texts import segments
from tests.conftest import at

NY = ZoneInfo("America/New_York")


def _approve(session, env, staff, hold):
    return ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})


def _msgs(session, e, kind=None):
    stmt = select(Message).where(Message.episode_id == e.id).order_by(Message.id)
    if kind:
        stmt = stmt.where(Message.kind == kind)
    return list(session.scalars(stmt))


# --- the pure rule -------------------------------------------------------------------------


def _risk(signed, new_at, now):
    return hold_at_risk("h1", "clopidogrel", HoldPlanInput(stop_days=7, restart_hours=24), signed_last_dose=signed,
                        procedure_at=new_at, tz=NY, duration=timedelta(hours=1), now=now)


def test_moving_earlier_than_the_signed_last_dose_shortens_the_hold() -> None:
    now = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)
    risk = _risk(date(2027, 3, 2), datetime(2027, 3, 5, 13, 0, tzinfo=UTC), now)
    assert risk is not None and (risk.problem, risk.last_dose_on) == (HOLD_TOO_SHORT, date(2027, 2, 25))


def test_moving_so_the_last_dose_is_already_past_means_the_hold_started_late() -> None:
    now = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
    risk = _risk(date(2027, 3, 2), datetime(2027, 3, 5, 13, 0, tzinfo=UTC), now)
    assert risk is not None and risk.problem == HOLD_STARTED_LATE
    # An unsigned hold has no signed date to shorten, but a past last dose is still a risk.
    assert _risk(None, datetime(2027, 3, 5, 13, 0, tzinfo=UTC), now).problem == HOLD_STARTED_LATE


def test_moving_later_never_puts_a_hold_at_risk() -> None:
    now = datetime(2027, 3, 4, 15, 0, tzinfo=UTC)  # the patient stopped after 2 March
    assert _risk(date(2027, 3, 2), datetime(2027, 3, 11, 13, 0, tzinfo=UTC), now) is None
    assert _risk(date(2027, 3, 2), datetime(2027, 3, 20, 12, 0, tzinfo=UTC), now) is None


def test_the_at_risk_rule_counts_local_days_across_the_dst_change() -> None:
    # 14 March 2027 is the spring-forward day in New York: 00:30 local on the 15th is 04:30 UTC.
    now = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
    risk = _risk(date(2027, 3, 9), datetime(2027, 3, 15, 4, 30, tzinfo=UTC), now)
    assert risk is not None and risk.last_dose_on == date(2027, 3, 7)


# --- moving with holds at risk -------------------------------------------------------------


def test_move_earlier_with_a_signed_hold_is_refused_then_unsigns_when_confirmed(
    session, env, staff, make_episode
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    assert any(m.status == "scheduled" for m in _msgs(session, e, "last_dose"))
    new = {"procedure_at": "2027-03-05T08:00"}

    preview = ep.reschedule(session, env, staff["coordinator"], e.id, new, preview=True)
    assert [(hid, r.problem, r.last_dose_on) for hid, r in preview.holds_at_risk] == [
        (hold.id, "hold_too_short", date(2027, 2, 25))]

    with pytest.raises(ep.HoldsAtRisk) as refused:
        ep.reschedule(session, env, staff["coordinator"], e.id, new)
    assert refused.value.status == 409 and refused.value.risks == preview.holds_at_risk
    assert e.procedure_at == datetime(2027, 3, 10, 13, 0, tzinfo=UTC) and hold.approved_and_signed

    result = ep.reschedule(session, env, staff["coordinator"], e.id, {**new, "confirm_holds_at_risk": True})
    assert result.applied and [r.problem for _, r in result.holds_at_risk] == ["hold_too_short"]
    # A signature is for one plan: back to requested, unsigned, to be answered and signed again.
    assert hold.clearance == "requested" and hold.signed_at is None and hold.signed_by_id is None
    assert hold.clearance_by is None and not hold.approved_and_signed
    clearance = next(m for m in e.milestones if m.kind == "hold_clearance")
    assert clearance.status == "planned"
    # No stop text until it is signed again.
    assert not [m for m in _msgs(session, e, "last_dose") if m.status == "scheduled"]
    assert not [c for c in ep.go_no_go(env, e) if c.item.endswith("hold") and c.ok]
    items = worklist(session, env, staff["coordinator"])
    assert items[0].kind == "hold_at_risk" and items[0].subject_id == hold.id
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "episode.reschedule")).one()
    assert audit.detail["holds_at_risk"][0]["hold_id"] == hold.id

    # Signed again: the worklist item goes.
    _approve(session, env, staff, hold)
    assert "hold_at_risk" not in {i.kind for i in worklist(session, env, staff["coordinator"])}


def test_hold_at_risk_comes_right_below_red_flags(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    ep.reschedule(session, env, staff["coordinator"], e.id,
                  {"procedure_at": "2027-03-05T08:00", "confirm_holds_at_risk": True})
    task_service.open_task(session, env, "red_flag", "reply:x", "fever", patient_id=e.patient_id)
    kinds = [i.kind for i in worklist(session, env, staff["coordinator"])]
    assert kinds[:2] == ["red_flag", "hold_at_risk"]


@pytest.mark.parametrize(("lang", "words"), [("en", "We'll text when to stop your anti-platelet medicine."),
                                             ("es", "Le avisaremos cuándo dejar de tomar su antiplaquetario.")])
def test_moving_later_names_the_medicines_with_a_new_last_dose_day(
    session, env, staff, make_patient, make_episode, lang, words
) -> None:
    patient = make_patient(data={"language": lang})
    e = make_episode(patient, holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    result = ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-17T08:00"})
    assert result.applied and not result.holds_at_risk
    (notice,) = [m for m in _msgs(session, e, "date_changed")]
    assert words in notice.body and notice.body.endswith(env.rules.clinic.phone)
    assert "clopidogrel" not in notice.body.lower()  # default texts name no drug
    assert segments(notice.body).segments <= env.rules.definition.max_segments("date_changed", lang)


def test_a_detailed_date_change_names_each_drug(session, env, staff, make_patient, make_episode) -> None:
    patient = make_patient(data={"detailed_texts": True})
    e = make_episode(patient, holds=[{"drug": "clopidogrel"}, {"drug": "apixaban"}])
    for h in e.holds:
        _approve(session, env, staff, h)
    ep.reschedule(session, env, staff["coordinator"], e.id, {"procedure_at": "2027-03-17T08:00"})
    (notice,) = _msgs(session, e, "date_changed")
    assert "We'll text when to stop clopidogrel and apixaban." in notice.body


# --- cancelling ----------------------------------------------------------------------------


def test_cancel_without_a_reason_is_refused_naming_reason(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    with pytest.raises(ValidationError) as refused:
        ep.cancel_episode(session, env, staff["coordinator"], e.id, {})
    assert "reason" in refused.value.errors
    assert e.status == "scheduled"


def test_cancel_before_any_stop_keeps_todays_text_and_opens_no_task(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "insurance"})
    (notice,) = _msgs(session, e, "cancelled")
    assert notice.body.endswith("before restarting any medicine you stopped.")
    assert not session.scalars(select(Task).where(Task.kind == "restart_after_cancel")).all()


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "Restart your blood thinner only as your doctor says. Call "),
    ("es", "Vuelva a tomar su anticoagulante solo si su médico se lo indica. Dudas: "),
])
def test_cancel_after_a_stop_tells_the_patient_to_restart_and_opens_a_call_task(
    session, env, staff, make_patient, make_episode, lang, words
) -> None:
    patient = make_patient(data={"language": lang})
    e = make_episode(patient, holds=[{"drug": "apixaban"}])
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    later = at(env, datetime(2027, 3, 9, 15, 0, tzinfo=UTC))  # after the last dose, the day before
    assert hold.last_dose_on is not None and hold.last_dose_on < date(2027, 3, 9)
    ep.cancel_episode(session, later, staff["coordinator"], e.id, {"reason": "surgeon unwell"})
    (notice,) = _msgs(session, e, "cancelled")
    assert words in notice.body and notice.body.endswith(env.rules.clinic.phone)
    assert segments(notice.body).segments <= env.rules.definition.max_segments("cancelled", lang)
    # No restart text was planned (it waits for the recorded end), so none can go.
    assert _msgs(session, e, "restart") == []
    (task,) = session.scalars(select(Task).where(Task.kind == "restart_after_cancel")).all()
    items = worklist(session, later, staff["coordinator"])
    assert items[0].kind == "restart_after_cancel" and items[0].task_id == task.id
    with pytest.raises(ValidationError):
        task_service.resolve_task(session, later, staff["coordinator"], task.id, "")
    task_service.resolve_task(session, later, staff["coordinator"], task.id, "Reached patient: restart tomorrow")
    assert "restart_after_cancel" not in {i.kind for i in worklist(session, later, staff["coordinator"])}


def test_a_move_earlier_across_the_dst_change_counts_local_days(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}], procedure_at="2027-03-17T08:00")  # EDT
    (hold,) = e.holds
    _approve(session, env, staff, hold)
    assert hold.last_dose_on == date(2027, 3, 9)
    result = ep.reschedule(session, env, staff["coordinator"], e.id,
                           {"procedure_at": "2027-03-12T08:00", "confirm_holds_at_risk": True})  # EST
    assert e.procedure_at == datetime(2027, 3, 12, 13, 0, tzinfo=UTC)
    assert [(r.problem, r.last_dose_on) for _, r in result.holds_at_risk] == [("hold_too_short", date(2027, 3, 4))]
    assert hold.last_dose_on == date(2027, 3, 4) and hold.clearance == "requested" and hold.signed_at is None
    # Signed again for the new plan: its last-dose text goes at 17:00 EST the evening before the new
    # last dose, and the worklist item is gone.
    _approve(session, env, staff, hold)
    (text,) = [m for m in _msgs(session, e, "last_dose") if m.status == "scheduled"]
    assert text.send_at == datetime(2027, 3, 3, 22, 0, tzinfo=UTC)
    assert "hold_at_risk" not in {i.kind for i in worklist(session, env, staff["coordinator"])}


def test_an_hour_based_hold_is_at_risk_when_its_last_dose_instant_comes_earlier() -> None:
    plan = HoldPlanInput(stop_hours=24, restart_hours=24)
    now = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)
    signed = datetime(2027, 3, 9, 13, 0, tzinfo=UTC)  # 24 h before 10 March 08:00 EST
    earlier = hold_at_risk("h1", "enoxaparin", plan, signed_last_dose=signed,
                           procedure_at=datetime(2027, 3, 10, 12, 0, tzinfo=UTC), tz=NY,
                           duration=timedelta(hours=1), now=now)
    assert earlier is not None and earlier.problem == HOLD_TOO_SHORT
    later = hold_at_risk("h1", "enoxaparin", plan, signed_last_dose=signed,
                         procedure_at=datetime(2027, 3, 10, 15, 0, tzinfo=UTC), tz=NY,
                         duration=timedelta(hours=1), now=now)
    assert later is None


def test_cancelling_closes_the_re_sign_task_of_a_moved_hold(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _approve(session, env, staff, e.holds[0])
    ep.reschedule(session, env, staff["coordinator"], e.id,
                  {"procedure_at": "2027-03-05T08:00", "confirm_holds_at_risk": True})
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "patient declined"})
    (task,) = session.scalars(select(Task).where(Task.kind == "hold_at_risk")).all()
    assert task.resolved_at == env.now and "cancelled" in task.resolution


def test_a_cancellation_after_a_stop_names_each_medicine_as_the_patients_other_texts_do(
    session, env, staff, make_episode
) -> None:
    e = make_episode(holds=[{"drug": "apixaban", "patient_label": "Eliquis"}, {"drug": "clopidogrel"}])
    for hold in e.holds:
        _approve(session, env, staff, hold)
    later = at(env, datetime(2027, 3, 9, 15, 0, tzinfo=UTC))  # both last doses are past
    ep.cancel_episode(session, later, staff["coordinator"], e.id, {"reason": "surgeon unwell"})
    (notice,) = _msgs(session, e, "cancelled")
    assert "Restart Eliquis and your anti-platelet medicine only as your doctor says" in notice.body
