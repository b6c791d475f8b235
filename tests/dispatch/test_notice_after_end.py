"""No notice about a change goes to a patient after the procedure it concerns has ended: checked
when the notice is planned and again when the worker would send it (it may have waited in the outbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pathway.clock import FixedClock
from pathway.models import Message, MessageEvent, Task
from pathway.services import episodes as ep
from pathway.services.base import Actor


def _notices(sessions: sessionmaker[Session], episode_id: int, kind: str) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.episode_id == episode_id, Message.kind == kind)))


@pytest.fixture
def scheduled(seed: Callable[..., Any], enrol: Callable[..., int], people: dict[str, Actor]) -> Callable[[str], int]:
    """A new patient's episode with its procedure at this local time (no holds): its id."""
    def schedule(procedure_at: str) -> int:
        return int(seed(ep.schedule_episode, people["coordinator"], enrol(), {"procedure_at": procedure_at,
                                                                               "holds": []}))
    return schedule


def test_a_queued_date_change_notice_is_not_sent_after_the_procedure_has_ended(
    scheduled: Callable[[str], int], seed: Callable[..., Any], people: dict[str, Actor], clock: FixedClock,
    make_dispatcher: Callable[..., Any], fake_twilio: Any, sessions: sessionmaker[Session],
) -> None:
    eid = scheduled("2027-03-10T08:00")
    d = make_dispatcher()
    d.dispatch_due()  # the enrolment text
    sent_before = fake_twilio.count()
    # Mon 1 Feb 10:00 in New York: moved to tomorrow 09:00; the notice is queued for now.
    seed(ep.reschedule, people["coordinator"], eid, {"procedure_at": "2027-02-02T09:00"})
    (notice,) = _notices(sessions, eid, "date_changed")
    assert notice.status == "scheduled" and notice.send_at <= clock()
    # The worker does not look again until the new procedure has ended (09:00 + 60 minutes).
    clock.advance(timedelta(days=1, hours=0, minutes=1))
    d.dispatch_due()
    assert fake_twilio.count() == sent_before  # nothing went to the patient
    (notice,) = _notices(sessions, eid, "date_changed")
    assert notice.status == "cancelled"
    with sessions() as s:
        reasons = list(s.scalars(select(MessageEvent.reason).where(MessageEvent.message_id == notice.id)))
        task = s.scalar(select(Task).where(Task.kind == "notice_too_late", Task.episode_id == eid))
    assert any("the procedure this notice is about has ended" in (r or "") for r in reasons)
    assert task is not None and task.resolved_at is None and "Call the patient" in task.summary


def test_a_notice_still_in_time_is_sent(
    scheduled: Callable[[str], int], seed: Callable[..., Any], people: dict[str, Actor], clock: FixedClock,
    make_dispatcher: Callable[..., Any], fake_twilio: Any, sessions: sessionmaker[Session],
) -> None:
    eid = scheduled("2027-03-10T08:00")
    d = make_dispatcher()
    d.dispatch_due()
    seed(ep.reschedule, people["coordinator"], eid, {"procedure_at": "2027-02-02T09:00"})
    clock.advance(timedelta(hours=2))  # noon the day before: still before the procedure
    d.dispatch_due()
    (notice,) = _notices(sessions, eid, "date_changed")
    assert notice.status in ("sent", "delivered")


def test_a_notice_that_quiet_hours_would_hold_past_the_end_is_not_planned_and_a_call_is_asked_for(
    scheduled: Callable[[str], int], seed: Callable[..., Any], people: dict[str, Actor], clock: FixedClock,
    sessions: sessionmaker[Session],
) -> None:
    eid = scheduled("2027-03-10T08:00")
    # 21:30 in New York (quiet hours until 08:00), moved to 07:00 tomorrow: the first allowed
    # moment (08:00) is when the procedure ends.
    clock.set(clock().replace(hour=2, minute=30) + timedelta(days=1))  # Tue 2 Feb 02:30 UTC = Mon 21:30 EST
    seed(ep.reschedule, people["coordinator"], eid, {"procedure_at": "2027-02-02T07:00"})
    assert _notices(sessions, eid, "date_changed") == []
    with sessions() as s:
        task = s.scalar(select(Task).where(Task.kind == "notice_too_late", Task.episode_id == eid))
    assert task is not None and "new date and time" in task.summary


def test_a_cancellation_notice_that_waited_past_the_procedure_is_not_sent(
    scheduled: Callable[[str], int], seed: Callable[..., Any], people: dict[str, Actor], clock: FixedClock,
    make_dispatcher: Callable[..., Any], fake_twilio: Any, sessions: sessionmaker[Session],
) -> None:
    eid = scheduled("2027-02-02T09:00")
    d = make_dispatcher()
    d.dispatch_due()
    sent_before = fake_twilio.count()
    seed(ep.cancel_episode, people["coordinator"], eid, {"reason": "patient unwell"})
    (notice,) = _notices(sessions, eid, "cancelled")
    assert notice.status == "scheduled"
    clock.advance(timedelta(days=2))  # the worker was stopped until well after the procedure's time
    d.dispatch_due()
    assert fake_twilio.count() == sent_before
    (notice,) = _notices(sessions, eid, "cancelled")
    assert notice.status == "cancelled"
