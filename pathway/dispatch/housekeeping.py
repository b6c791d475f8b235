"""The slow tick: recover stuck claims, move milestones to due/missed, write a heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from pathway.models import Episode, Message, Milestone, WorkerHeartbeat
from pathway.services import outbox

# Milestones with a window are missed when it closes without being done.
WINDOWED = ("hold_clearance", "follow_up", "pt_start")


@dataclass
class HousekeepingReport:
    recovered: int = 0
    due: int = 0
    missed: int = 0
    outcome_texts: int = 0  # outcome questions queued (the worker's tick; services/outcomes.py)


def recover_expired_leases(session: Session, now: datetime, worker_id: str) -> int:
    """A worker died while sending: its texts' outcome is unknown, to be reconciled."""
    return len(outbox.record_where(session, outbox.Unknown("lease expired while sending (worker stopped?)"),
                                   expect="sending", where=Message.lease_until < now, now=now, source="dispatch",
                                   actor=worker_id))


def advance_milestones(session: Session, now: datetime) -> tuple[int, int]:
    active = select(Episode.id).where(Episode.status != "cancelled")
    due = cast(CursorResult[Any], session.execute(
        update(Milestone)
        .where(Milestone.status == "planned", Milestone.episode_id.in_(active),
               func.coalesce(Milestone.due_at, Milestone.window_start) <= now)
        .values(status="due")
        .execution_options(synchronize_session=False)
    )).rowcount
    missed = cast(CursorResult[Any], session.execute(
        update(Milestone)
        .where(Milestone.status.in_(("planned", "due")), Milestone.kind.in_(WINDOWED),
               Milestone.window_end.is_not(None), Milestone.window_end < now,
               Milestone.episode_id.in_(active),
               # A visit booked after the window is not missed until its own time passes.
               or_(Milestone.due_at.is_(None), Milestone.due_at < now))
        .values(status="missed")
        .execution_options(synchronize_session=False)
    )).rowcount
    return int(due or 0), int(missed or 0)


def heartbeat(session: Session, worker_id: str, now: datetime, sent: int = 0) -> None:
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        session.add(WorkerHeartbeat(worker_id=worker_id, started_at=now, beat_at=now, sent_total=sent))
    else:
        row.beat_at = now
        row.sent_total += sent


def housekeeping(session: Session, now: datetime, worker_id: str) -> HousekeepingReport:
    report = HousekeepingReport()
    report.recovered = recover_expired_leases(session, now, worker_id)
    report.due, report.missed = advance_milestones(session, now)
    heartbeat(session, worker_id, now)
    return report
