"""Calendar feed links: a patient's private calendar, and staff feeds per proceduralist or facility."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from pathway.db import Base, check_in
from pathway.timeline.vocabulary import CalendarKind


class CalendarLink(Base):
    """An unguessable token (256 random bits, URL-safe) that opens one calendar at
    ``/ical/<token>.ics`` without signing in. A patient's link is shown on every answer about
    them, so the token itself is kept (like a password-reset link, it is random, not derived);
    revoking it ends it at once (404), and a new one is issued in its place."""

    __tablename__ = "calendar_links"
    __table_args__ = (check_in("kind", CalendarKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    # A staff feed's proceduralist or facility, exactly as episodes spell it.
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
