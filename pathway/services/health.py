"""Health: is the database there, is a worker alive, is anything overdue?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pathway.models import Message, WorkerHeartbeat
from pathway.services.base import Env

# A text still not sent this long after its time counts as overdue.
OVERDUE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class HealthReport:
    heartbeat_age_seconds: float | None
    max_age_seconds: float
    overdue_unsent: int
    unknown: int
    workers: int

    @property
    def healthy(self) -> bool:
        return self.heartbeat_age_seconds is not None and self.heartbeat_age_seconds <= self.max_age_seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "database": "ok",
            "worker_heartbeat_age_seconds": self.heartbeat_age_seconds,
            "worker_heartbeat_max_age_seconds": self.max_age_seconds,
            "workers_seen": self.workers,
            "overdue_unsent_messages": self.overdue_unsent,
            "unknown_messages": self.unknown,
        }


def health_report(session: Session, env: Env, *, tick_seconds: float) -> HealthReport:
    session.execute(text("SELECT 1"))
    newest = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    workers = session.scalar(select(func.count()).select_from(WorkerHeartbeat).where(
        WorkerHeartbeat.beat_at >= env.now - timedelta(seconds=3 * tick_seconds)))
    overdue = session.scalar(select(func.count()).select_from(Message).where(
        Message.status == "scheduled", Message.send_at < env.now - OVERDUE_AFTER))
    unknown = session.scalar(select(func.count()).select_from(Message).where(Message.status == "unknown"))
    age = None
    if newest is not None:
        age = max(0.0, (env.now - newest).total_seconds())
    return HealthReport(heartbeat_age_seconds=age, max_age_seconds=3 * tick_seconds,
                        overdue_unsent=int(overdue or 0), unknown=int(unknown or 0), workers=int(workers or 0))
