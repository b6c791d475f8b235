"""Last-dose confirmation (issue 11), end to end: the worker texts the question the morning after
each hold's last-dose day (through the real twilio SDK to the fake Twilio); the patient answers
through the signed inbound webhook; yes is recorded and shown in the go / no go, no blocks the
procedure until a clinician decides, and no answer by the day before is a call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, Episode, MedicationHold, Message, Observation, Patient, Reply, Task
from pathway.services import episodes as ep
from pathway.services import tasks as tasks_service
from pathway.services.base import Env, Forbidden
from pathway.services.patients import opt_out
from pathway.services.worklist import worklist
from tests.dispatch.test_questions import PHONE, text_in

PROCEDURE = "2027-03-10T08:00"  # Wed, New York (EST)
# Clopidogrel: 7 days' hold, so the last dose is Tue 2 Mar; the question goes Wed 3 Mar 09:00 EST.
ASK_AT = datetime(2027, 3, 3, 14, 0, tzinfo=UTC)
READY = {"mri_reviewed_on": "2027-01-15", "tried_pt": True, "escort_arranged": True}


@pytest.fixture
def signed(seed: Any, people: Any, enrol: Any, clock: Any, sessions: Any) -> Any:
    """A patient with a signed clopidogrel hold: (patient id, episode id, hold id)."""

    def make(language: str = "en", procedure_at: str = PROCEDURE, drugs: tuple[str, ...] = ("clopidogrel",),
             **patient: Any) -> tuple[int, int, list[int]]:
        pid = enrol(language=language, **{"phone": PHONE, **patient})
        eid = seed(ep.schedule_episode, people["coordinator"], pid,
                   {"procedure_at": procedure_at, "holds": [{"drug": d} for d in drugs], **READY})
        with sessions() as s:
            hold_ids = list(s.scalars(select(MedicationHold.id).where(MedicationHold.episode_id == eid)
                                      .order_by(MedicationHold.id)))
        for hold_id in hold_ids:
            seed(ep.record_clearance, people["clinician"], hold_id, {"status": "approved", "by": "Dr. Ortiz"})
        return pid, eid, hold_ids

    return make


def _asked(sessions: Any, eid: int) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.episode_id == eid, Message.kind == "stop_confirm")
                              .order_by(Message.id)))


def _decision(sessions: Any, rules: Any, clock: Any, eid: int) -> Any:
    with sessions() as s:
        return ep.decide(Env(rules=rules, now=clock()), s.get(Episode, eid))


def _task_kinds(sessions: Any, pid: int) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(Task.kind).where(Task.patient_id == pid, Task.resolved_at.is_(None))
                              .order_by(Task.id)))


def test_the_question_goes_the_morning_after_the_last_dose_day_naming_the_medicine_as_its_texts_do(
        signed, sessions, clock, make_dispatcher) -> None:
    _, eid, _ = signed()
    (question,) = _asked(sessions, eid)
    assert question.send_at == ASK_AT and question.status == "scheduled"
    with sessions() as s:
        stop_text = s.scalars(select(Message).where(Message.episode_id == eid, Message.kind == "last_dose")).one()
    assert "your anti-platelet medicine" in stop_text.body and "your anti-platelet medicine" in question.body
    assert "clopidogrel" not in question.body.lower() and "Plavix" not in question.body
    clock.set(ASK_AT - timedelta(minutes=1))
    make_dispatcher().dispatch_due()
    assert _asked(sessions, eid)[0].status == "scheduled"
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    assert _asked(sessions, eid)[0].status == "sent"


def test_a_spanish_patient_with_detailed_texts_is_asked_in_spanish_naming_the_drug(signed, sessions) -> None:
    _, eid, _ = signed(language="es", detailed_texts=True)
    (question,) = _asked(sessions, eid)
    assert question.body.startswith("Riverside") and "¿Ya dejó de tomar" in question.body
    assert "clopidogrel" in question.body.lower() and "Responda SÍ o NO" in question.body


@pytest.mark.parametrize(("language", "body"), [("en", "YES"), ("en", "yep i stopped it"), ("es", "sí, ya lo dejé"),
                                                ("en", "👍"), ("es", "ya no la toma, soy su hija")])
def test_yes_is_recorded_and_shown_in_the_go_no_go(app, signed, sessions, clock, make_dispatcher, fake_twilio,
                                                   rules, language: str, body: str) -> None:
    pid, eid, (hold_id,) = signed(language=language)
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    clock.advance(timedelta(hours=2))
    assert "<Message>" not in text_in(app, fake_twilio, body)
    (question,) = _asked(sessions, eid)
    with sessions() as s:
        (o,) = s.scalars(select(Observation).where(Observation.episode_id == eid)).all()
        assert (o.code, int(o.value), o.hold_id, o.source, o.unit) == ("stopped_medicine", 1, hold_id, "sms", "yes/no")
        assert o.message_id == question.id
        reply = s.get(Reply, o.reply_id)
        assert reply.classification == "answer"
        # "YES" is an opt-in keyword for carriers, but here it answered the open question.
        assert s.get(Patient, pid).opted_out_at is None
    decision = _decision(sessions, rules, clock, eid)
    item = next(c for c in decision.checklist if c.item.endswith("stop confirmed"))
    assert item.ok and item.detail.startswith("stop confirmed: the patient replied yes (Wed 3 Mar)")
    assert "hold_not_stopped" not in [b.code for b in decision.blockers]
    assert _task_kinds(sessions, pid) == [] or _task_kinds(sessions, pid) == ["reply"]  # extra words are read


@pytest.mark.parametrize(("language", "body"), [("en", "no"), ("en", "Not yet"), ("es", "todavía no"),
                                                ("es", "la sigo tomando")])
def test_no_blocks_the_procedure_until_a_clinician_decides(app, signed, sessions, clock, make_dispatcher,
                                                            fake_twilio, rules, people, seed, language: str,
                                                            body: str) -> None:
    pid, eid, (hold_id,) = signed(language=language)
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    text_in(app, fake_twilio, body)
    with sessions() as s:
        task = s.scalars(select(Task).where(Task.kind == "hold_not_stopped")).one()
        assert (task.priority, task.patient_id, task.subject) == (1, pid, f"hold:{hold_id}")
    decision = _decision(sessions, rules, clock, eid)
    assert decision.go is False and [b.code for b in decision.blockers] == ["hold_not_stopped"]
    assert "NOT stopped" in decision.blockers[0].message
    # Right below red flags on the worklist.
    with sessions() as s:
        items = worklist(s, Env(rules=rules, now=clock()), people["coordinator"])
        assert items[0].kind == "hold_not_stopped" and items[0].priority == 1
    # A coordinator cannot decide; a clinician can, with a note (audited), and the blocker goes.
    with pytest.raises(Forbidden):
        seed(tasks_service.decide_not_stopped, people["coordinator"], hold_id, {"note": "go ahead"})
    seed(tasks_service.decide_not_stopped, people["clinician"], hold_id,
         {"note": "called the prescriber: stop today, procedure postponed a week"})
    decision = _decision(sessions, rules, clock, eid)
    assert decision.go is True and decision.blockers == []
    item = next(c for c in decision.checklist if c.item.endswith("stop confirmed"))
    assert item.ok and "a clinician's decision is recorded" in item.detail
    with sessions() as s:
        assert s.scalars(select(AuditEvent.action).where(AuditEvent.action == "hold.stop_decision",
                                                         AuditEvent.entity_id == hold_id)).one()


def test_an_unreadable_answer_is_asked_again_once_in_the_patients_language(app, signed, sessions, clock,
                                                                          make_dispatcher, fake_twilio) -> None:
    pid, _, _ = signed(language="es")
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    twiml = text_in(app, fake_twilio, "no se, cual medicina?")
    assert "no entendimos" in twiml and "Responda SÍ o NO" in twiml
    assert _task_kinds(sessions, pid) == ["answer_unread"]
    text_in(app, fake_twilio, "si")
    with sessions() as s:
        assert [int(o.value) for o in s.scalars(select(Observation))] == [1]


def test_stop_still_opts_out_while_the_question_is_open(app, signed, sessions, clock, make_dispatcher,
                                                        fake_twilio) -> None:
    pid, _, _ = signed()
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    text_in(app, fake_twilio, "STOP")
    with sessions() as s:
        assert s.get(Patient, pid).opted_out_via == "STOP reply"
        assert s.scalars(select(Observation)).all() == []


def test_yes_from_an_opted_out_patient_opts_them_back_in_rather_than_answering(app, signed, sessions, clock,
                                                                               make_dispatcher, fake_twilio,
                                                                               rules) -> None:
    pid, _, _ = signed()
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    with sessions.begin() as s:
        opt_out(s, Env(rules=rules, now=clock()), _patient(), s.get(Patient, pid), "STOP reply")
    text_in(app, fake_twilio, "YES")
    with sessions() as s:
        assert s.get(Patient, pid).opted_out_at is None
        assert s.scalars(select(Observation)).all() == []


def _patient() -> Any:
    from pathway.services.replies import PATIENT

    return PATIENT


def test_no_answer_by_the_day_before_the_procedure_is_a_call(signed, sessions, clock, make_dispatcher, rules,
                                                              people) -> None:
    _, eid, _ = signed()
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()

    def kinds(at: datetime) -> list[str]:
        with sessions() as s:
            return [i.kind for i in worklist(s, Env(rules=rules, now=at), people["coordinator"])
                    if i.episode_id == eid]

    assert "stop_unconfirmed" not in kinds(datetime(2027, 3, 9, 4, 59, tzinfo=UTC))  # Mon 8 Mar 23:59 EST
    day_before = kinds(datetime(2027, 3, 9, 5, 0, tzinfo=UTC))  # Tue 9 Mar 00:00 EST
    assert "stop_unconfirmed" in day_before
    assert "stop_unconfirmed" not in kinds(datetime(2027, 3, 10, 13, 0, tzinfo=UTC))  # the procedure has begun


def test_an_answer_takes_the_call_off_the_worklist(app, signed, sessions, clock, make_dispatcher, fake_twilio,
                                                   rules, people) -> None:
    _, eid, _ = signed()
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    clock.set(datetime(2027, 3, 9, 15, 0, tzinfo=UTC))  # the day before, 10:00 EST: still open
    text_in(app, fake_twilio, "yes")
    with sessions() as s:
        items = worklist(s, Env(rules=rules, now=clock()), people["coordinator"])
        assert "stop_unconfirmed" not in [i.kind for i in items if i.episode_id == eid]


def test_no_question_for_a_cancelled_episode_an_opted_out_patient_or_a_removed_hold(
        signed, sessions, clock, make_dispatcher, seed, people, rules) -> None:
    _, cancelled, _ = signed()
    seed(ep.cancel_episode, people["coordinator"], cancelled, {"reason": "patient unwell"})
    assert all(m.status == "cancelled" for m in _asked(sessions, cancelled))
    pid, opted, _ = signed(phone="+12125550002")
    with sessions.begin() as s:
        opt_out(s, Env(rules=rules, now=clock()), _patient(), s.get(Patient, pid), "STOP reply")
    _, removed, (hold_id,) = signed(phone="+12125550003")
    seed(ep.remove_hold, people["coordinator"], hold_id)
    clock.set(ASK_AT)
    make_dispatcher().dispatch_due()
    assert [m.status for m in _asked(sessions, cancelled)] == ["cancelled"]
    assert [m.status for m in _asked(sessions, opted)] == ["suppressed"]
    assert [m.status for m in _asked(sessions, removed)] == ["cancelled"]


def test_across_the_dst_change_the_question_goes_at_9_local(app, signed, sessions, clock, make_dispatcher,
                                                             fake_twilio) -> None:
    # Procedure Sun 21 Mar: clopidogrel's last dose is Sat 13 Mar; the clocks go forward on Sun
    # 14 Mar, so 09:00 is EDT (13:00 UTC), not EST.
    _, eid, (hold_id,) = signed(procedure_at="2027-03-21T08:00")
    (question,) = _asked(sessions, eid)
    assert question.send_at == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    clock.set(datetime(2027, 3, 14, 13, 0, tzinfo=UTC))
    make_dispatcher().dispatch_due()
    assert _asked(sessions, eid)[0].status == "sent"
    text_in(app, fake_twilio, "y")
    with sessions() as s:
        assert [(o.hold_id, int(o.value)) for o in s.scalars(select(Observation))] == [(hold_id, 1)]


def test_two_medicines_stopped_the_same_day_are_asked_once_and_one_yes_covers_both(
        app, signed, sessions, clock, make_dispatcher, fake_twilio) -> None:
    _, eid, hold_ids = signed(drugs=("clopidogrel", "prasugrel"))
    questions = _asked(sessions, eid)
    clock.set(max(q.send_at for q in questions))
    make_dispatcher().dispatch_due()
    text_in(app, fake_twilio, "yes")
    with sessions() as s:
        answered = {o.hold_id for o in s.scalars(select(Observation))}
    # Each text names the holds its plan key names; the answer covers the latest question's.
    latest = max(questions, key=lambda q: (q.send_at, q.id))
    assert answered and answered <= set(hold_ids)
    assert len(answered) == len(latest.plan_key.split(":")[1].split("+"))
