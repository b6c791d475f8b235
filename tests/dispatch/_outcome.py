"""Reading the outcome of a run: what the database says against what the fake Twilio got."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from pathway.models import Message, Patient, Task
from tests.fakes.fake_twilio import FakeTwilio

OPEN = ("scheduled", "sending", "unknown")
DELIVERED = ("sent", "delivered")


def open_count(sessions: sessionmaker[Session]) -> int:
    """Texts not yet settled. An ``unknown`` that a person was asked to resolve is settled."""
    with sessions() as s:
        flagged = select(Task.message_id).where(Task.message_id.is_not(None))
        return int(s.scalar(select(func.count()).select_from(Message).where(
            Message.status.in_(OPEN), ~((Message.status == "unknown") & Message.id.in_(flagged)))) or 0)


@dataclass
class Verdict:
    messages: int
    delivered: int
    flagged: int
    duplicates: list[tuple[str, str, int]]
    problems: list[str]

    def assert_clean(self) -> None:
        assert not self.duplicates, f"sent more than once: {self.duplicates[:5]}"
        assert not self.problems, "\n".join(self.problems[:20])


def check_outbox(sessions: sessionmaker[Session], fake: FakeTwilio, ids: list[int] | None = None) -> Verdict:
    """Every text reached the fake exactly once and says so, or is failed/unknown with a task."""
    records = fake.records()
    by_key = Counter((r.to, r.body) for r in records)
    sid_by_key = {(r.to, r.body): r.sid for r in records}
    duplicates = [(to, body[:30], n) for (to, body), n in by_key.items() if n > 1]
    problems: list[str] = []
    delivered = flagged = 0
    with sessions() as s:
        stmt = select(Message, Patient.phone).join(Patient, Patient.id == Message.patient_id).order_by(Message.id)
        if ids is not None:
            stmt = stmt.where(Message.id.in_(ids))
        rows = s.execute(stmt).all()
        tasks = {}
        for t in s.scalars(select(Task).where(or_(Task.message_id.is_not(None), Task.subject.like("message:%")))):
            mid = t.message_id or int(t.subject.split(":", 1)[1])
            tasks[mid] = t.kind
    for m, phone in rows:
        n = by_key.get((phone, m.body), 0)
        if m.status in DELIVERED:
            delivered += 1
            if n != 1:
                problems.append(f"message {m.id} is {m.status} but reached the fake {n} times")
            elif m.provider_id != sid_by_key[(phone, m.body)]:
                problems.append(f"message {m.id}: provider_id {m.provider_id} is not the fake's sid")
        elif m.status in ("failed", "unknown"):
            flagged += 1
            if m.id not in tasks:
                problems.append(f"message {m.id} is {m.status} without a task for a person")
        else:
            problems.append(f"message {m.id} did not settle: {m.status} ({m.status_reason})")
    if ids is not None and len(rows) != len(ids):
        problems.append(f"expected {len(ids)} messages, found {len(rows)}")
    return Verdict(len(rows), delivered, flagged, duplicates, problems)
