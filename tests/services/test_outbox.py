"""The outbox writer: each change writes the status and its event together, only forward."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import Message, MessageEvent
from pathway.services import outbox


def _text(session: Any, make_patient: Any) -> Message:
    patient = make_patient()
    session.flush()
    return session.scalars(select(Message).where(Message.patient_id == patient.id)).one()


def _history(session: Any, msg: Message) -> list[tuple[str | None, str | None, str]]:
    session.flush()
    return [(e.from_status, e.to_status, e.reason) for e in
            session.scalars(select(MessageEvent).where(MessageEvent.message_id == msg.id).order_by(MessageEvent.id))]


def test_a_planned_text_starts_scheduled_with_its_event(session, env, make_patient) -> None:
    msg = _text(session, make_patient)
    assert msg.status == "scheduled"
    assert _history(session, msg) == [(None, "scheduled", "consent recorded")]


def test_record_writes_the_status_and_its_event_together(session, env, make_patient) -> None:
    msg = _text(session, make_patient)
    assert outbox.record(session, msg, outbox.Sending(worker="w", lease_until=env.now + timedelta(minutes=1),
                                                      started_at=env.now), now=env.now, source="dispatch", actor="w")
    assert outbox.record(session, msg, outbox.Sent("accepted", sid="SM1", provider_status="queued", sent_at=env.now),
                         now=env.now, source="dispatch", actor="w")
    assert (msg.status, msg.provider_id, msg.attempts, msg.lease_until) == ("sent", "SM1", 1, None)
    assert _history(session, msg)[-2:] == [("scheduled", "sending", "claimed, attempt 1"),
                                           ("sending", "sent", "accepted")]


def test_a_text_never_moves_backwards(session, env, make_patient) -> None:
    msg = _text(session, make_patient)
    before = _history(session, msg)
    assert not outbox.record(session, msg, outbox.Sent("accepted", sid="SM1"), now=env.now, source="dispatch")
    assert not outbox.record(session, msg, outbox.Unknown("?"), now=env.now, source="dispatch")
    assert outbox.record(session, msg, outbox.Cancelled("re-planned"), now=env.now, source="plan")
    assert not outbox.record(session, msg, outbox.Scheduled("again"), now=env.now, source="plan")
    assert msg.status == "cancelled"
    assert _history(session, msg) == [*before, ("scheduled", "cancelled", "re-planned")]


def test_a_provider_report_only_raises_the_status(session, env, make_patient) -> None:
    msg = _text(session, make_patient)
    outbox.record(session, msg, outbox.Sending(worker="w", lease_until=env.now), now=env.now, source="dispatch")
    outbox.record(session, msg, outbox.Sent("ok", sid="SM1"), now=env.now, source="dispatch")
    assert outbox.record(session, msg, outbox.Reported("d", status="delivered", sid="SM1"), now=env.now,
                         source="callback")
    assert not outbox.record(session, msg, outbox.Reported("s", status="sent", sid="SM1"), now=env.now,
                             source="callback")
    assert msg.status == "delivered"


def test_record_where_moves_only_the_texts_still_at_the_expected_status(session, env, make_patient) -> None:
    first, second = _text(session, make_patient), _text(session, make_patient)
    outbox.record(session, first, outbox.Sending(worker="w", lease_until=env.now), now=env.now, source="dispatch")
    moved = outbox.record_where(session, outbox.Suppressed("opted out"), expect="scheduled",
                                where=Message.id.in_([first.id, second.id]), now=env.now, source="user", actor="u")
    assert [r.id for r in moved] == [second.id]
    session.expire_all()
    assert (first.status, second.status, second.status_reason) == ("sending", "suppressed", "opted out")
    assert _history(session, second)[-1] == ("scheduled", "suppressed", "opted out")


def test_record_where_refuses_a_move_that_is_not_forward(session, env, make_patient) -> None:
    with pytest.raises(ValueError, match="may not move"):
        outbox.record_where(session, outbox.Scheduled("back"), expect="sent", where=Message.id == 1, now=env.now,
                            source="dispatch")


def test_record_many_is_all_or_nothing(session, env, make_patient) -> None:
    first, second = _text(session, make_patient), _text(session, make_patient)
    for m in (first, second):
        outbox.record(session, m, outbox.Sending(worker="w", lease_until=env.now), now=env.now, source="dispatch")
    outbox.record(session, second, outbox.Unknown("timeout"), now=env.now, source="dispatch")
    session.flush()
    events = len(_history(session, first)) + len(_history(session, second))
    sent = [(m.id, outbox.Sent("ok", sid=f"SM{m.id}"), env.now) for m in (first, second)]
    savepoint = session.begin_nested()
    assert not outbox.record_many(session, sent, expect="sending", source="dispatch", actor="w")
    savepoint.rollback()  # the caller's part of the contract: roll back, then go one by one
    assert len(_history(session, first)) + len(_history(session, second)) == events
    assert outbox.record_many(session, sent[:1], expect="sending", source="dispatch", actor="w")
    session.expire_all()
    assert (first.status, first.provider_id) == ("sent", f"SM{first.id}")
    assert _history(session, first)[-1] == ("sending", "sent", "ok")


def test_a_note_keeps_an_event_without_changing_the_status(session, env, make_patient) -> None:
    msg = _text(session, make_patient)
    outbox.note(session, msg.id, "could not ask the provider", now=env.now, source="reconcile", actor="w")
    assert msg.status == "scheduled"
    assert _history(session, msg)[-1] == (None, None, "could not ask the provider")


def _columns(row: Any, table: Any, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in table.columns if c.key not in skip}


def test_create_stores_the_same_rows_as_recording_a_new_text(session, env, make_patient) -> None:
    """Core rows (a plan's texts, the import's path) and the ORM's one text at a time are one writer."""
    patient = make_patient(sms_consent=False)
    session.flush()
    base = {"patient_id": patient.id, "episode_id": None, "milestone_id": None, "kind": "enrolment",
            "language": "en", "body": "b", "send_at": env.now + timedelta(hours=1), "attempts": 0,
            "created_at": env.now}
    one = Message(**base, plan_key="orm")
    assert outbox.record(session, one, outbox.Scheduled("planned: x"), now=env.now, source="plan", actor="a")
    ids = outbox.create(session, [{**base, "plan_key": "core1"}, {**base, "plan_key": "core2"}],
                        outbox.Scheduled("planned: x"), now=env.now, source="plan", actor="a")
    session.expire_all()
    msgs = {m.id: m for m in session.scalars(select(Message).where(Message.patient_id == patient.id))}
    assert ids == sorted(ids) and set(ids) | {one.id} == set(msgs) and one.id < ids[0]  # in the order given
    assert [msgs[i].plan_key for i in ids] == ["core1", "core2"]
    orm = _columns(msgs[one.id], Message.__table__, ("id", "plan_key"))
    for i in ids:
        assert _columns(msgs[i], Message.__table__, ("id", "plan_key")) == orm
    events = {e.message_id: e for e in session.scalars(select(MessageEvent).where(MessageEvent.message_id.in_(msgs)))}
    assert len(events) == 3
    orm_event = _columns(events[one.id], MessageEvent.__table__, ("id", "message_id"))
    assert orm_event["data"] is None and orm_event["to_status"] == "scheduled"
    for i in ids:
        assert _columns(events[i], MessageEvent.__table__, ("id", "message_id")) == orm_event
    assert events[ids[0]].id < events[ids[1]].id


def test_create_writes_nothing_for_no_rows_and_only_new_texts(session, env, make_patient) -> None:
    assert outbox.create(session, [], outbox.Scheduled("x"), now=env.now, source="plan") == []
    with pytest.raises(ValueError, match="may not move"):
        outbox.create(session, [{}], outbox.Cancelled("x"), now=env.now, source="plan")  # type: ignore[arg-type]
