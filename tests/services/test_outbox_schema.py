"""The schema itself makes a duplicate planned text impossible."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pathway.models import Message


def _copy(msg: Message, **changes: object) -> Message:
    fields = {c: getattr(msg, c) for c in ("patient_id", "episode_id", "milestone_id", "kind", "language", "body",
                                           "plan_key", "send_at", "status", "attempts", "created_at", "updated_at")}
    fields.update(changes)
    return Message(**fields)


def test_the_same_planned_text_cannot_be_stored_twice_while_live(session, make_episode) -> None:
    e = make_episode()
    original = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "pre_procedure")).one()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(_copy(original))
        session.flush()


def test_a_cancelled_text_releases_its_key_for_a_new_plan(session, make_episode) -> None:
    e = make_episode()
    original = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "pre_procedure")).one()
    original.status = "cancelled"
    session.flush()
    session.add(_copy(original, status="scheduled"))
    session.flush()
    assert len(session.scalars(select(Message).where(Message.plan_key == original.plan_key)).all()) == 2
