"""The outbox: every text the system means to send, its transitions, and patients' replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pathway.db import Base, check_in
from pathway.timeline.vocabulary import MessageKind, MessageStatus

LIVE_WHERE = text(f"status NOT IN ('{MessageStatus.CANCELLED}', '{MessageStatus.SUPPRESSED}')")
DUE_WHERE = text(f"status = '{MessageStatus.SCHEDULED}'")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        check_in("status", MessageStatus),
        check_in("kind", MessageKind),
        # The same planned text can never be stored twice while it is live.
        Index(
            "uq_messages_patient_id_plan_key_live",
            "patient_id",
            "plan_key",
            unique=True,
            sqlite_where=LIVE_WHERE,
            postgresql_where=LIVE_WHERE,
        ),
        # The dispatcher's "due and not sent" query reads only this small index.
        Index("ix_messages_due", "send_at", sqlite_where=DUE_WHERE, postgresql_where=DUE_WHERE),
        # The worklist's failed/unknown texts, and the outbox page filtered by status, by time.
        Index("ix_messages_status_updated_at", "status", "updated_at"),
        Index("ix_messages_status_send_at", "status", "send_at"),
        Index("ix_messages_send_at", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"))
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    plan_key: Mapped[str] = mapped_column(String(120))
    send_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.SCHEDULED)
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    # A person marked it urgent (a one-off text): it goes at once, even in the patient's quiet hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The person who typed a one-off text (null for planned texts and answers to replies).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Dispatch bookkeeping.
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None]
    attempt_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    events: Mapped[list[MessageEvent]] = relationship(
        back_populates="message", order_by="MessageEvent.id", cascade="all, delete-orphan"
    )


class MessageEvent(Base):
    """Every transition of a message and every delivery callback, with time and reason."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))  # a MessageEventSource
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str | None] = mapped_column(String(120))
    provider_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any] | None]

    message: Mapped[Message] = relationship(back_populates="events")


class Reply(Base):
    """A text a patient sent us."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    from_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime]
    classification: Mapped[str] = mapped_column(String(20))  # a ReplyClassification
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
