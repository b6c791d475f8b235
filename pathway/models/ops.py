"""Operational tables: coordinator tasks, worker heartbeats, the shared send rate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from pathway.db import Base

OPEN_WHERE = text("resolved_at IS NULL")


class Task(Base):
    """Something a person must do: call a patient whose text failed, reconcile, answer a red flag."""

    __tablename__ = "tasks"
    __table_args__ = (
        # One open task per (kind, subject): a retrying worker never piles up duplicates.
        Index("uq_tasks_kind_subject_open", "kind", "subject", unique=True,
              sqlite_where=OPEN_WHERE, postgresql_where=OPEN_WHERE),
        # The worklist reads open tasks, most urgent first.
        Index("ix_tasks_open_priority", "priority", "created_at", sqlite_where=OPEN_WHERE, postgresql_where=OPEN_WHERE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # a TaskKind
    subject: Mapped[str] = mapped_column(String(60))  # e.g. "message:12", "patient:4"
    priority: Mapped[int] = mapped_column(Integer, default=50)  # lower is more urgent
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    sent_total: Mapped[int] = mapped_column(Integer, default=0)


class SendRate(Base):
    """The sending rate shared by every worker: one row per sender, the next free slot."""

    __tablename__ = "send_rates"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_free_at: Mapped[datetime]
