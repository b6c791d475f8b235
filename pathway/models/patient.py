from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pathway.db import Base
from pathway.timeline.vocabulary import Language

if TYPE_CHECKING:
    from pathway.models.calendar import CalendarLink
    from pathway.models.episode import Episode

OPTED_OUT_WHERE = text("opted_out_at IS NOT NULL")
# A search key: a name folded (lower case, no accents, words split by single spaces) and compared
# byte by byte, so a prefix is one range on an index whatever the database's own collation.
SearchKey = String(120).with_variant(String(120, collation="C"), "postgresql")


class Patient(Base):
    __tablename__ = "patients"
    # Patients who opted out, for the worklist (few of them: a small partial index).
    __table_args__ = (
        Index("ix_patients_opted_out_at", "opted_out_at", sqlite_where=OPTED_OUT_WHERE,
              postgresql_where=OPTED_OUT_WHERE),
        # The patient search (services/patients.py): a prefix of either name, each index holding both
        # names so a search reads no table row until the page it shows.
        Index("ix_patients_search_family_given", "search_family", "search_given"),
        Index("ix_patients_search_given_family", "search_given", "search_family"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str] = mapped_column(String(120))
    family_name: Mapped[str] = mapped_column(String(120), index=True)
    # The names as the search reads them (``patients.fold``), written with the names (``set_names``).
    search_family: Mapped[str] = mapped_column(SearchKey, default="", server_default="")
    search_given: Mapped[str] = mapped_column(SearchKey, default="", server_default="")
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default=Language.EN)
    detailed_texts: Mapped[bool] = mapped_column(Boolean, default=False)
    # Consent to texts: when, how it was recorded, by whom.
    sms_consent_at: Mapped[datetime | None]
    sms_consent_method: Mapped[str | None] = mapped_column(String(40))  # a ConsentMethod
    sms_consent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Opt-out (STOP, a free-text request honoured by a coordinator, or carrier error 21610).
    opted_out_at: Mapped[datetime | None]
    opted_out_via: Mapped[str | None] = mapped_column(String(40))
    # A number Twilio refused permanently (invalid, landline, unreachable).
    phone_flagged_at: Mapped[datetime | None]
    phone_flag_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # Optimistic concurrency: bumped by every UPDATE of the row (SQLAlchemy's version counter,
    # which also adds ``WHERE version = :seen`` to it); a change sent with an older one is a 409.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)

    episodes: Mapped[list[Episode]] = relationship(back_populates="patient", order_by="Episode.procedure_at")
    # The patient's calendar link that works (none once staff revoked it). Read-only.
    calendar_links: Mapped[list[CalendarLink]] = relationship(
        viewonly=True, order_by="CalendarLink.id",
        primaryjoin="and_(Patient.id == CalendarLink.patient_id, CalendarLink.revoked_at.is_(None))",
    )

    @property
    def calendar_token(self) -> str | None:
        return self.calendar_links[-1].token if self.calendar_links else None

    @property
    def can_text(self) -> bool:
        return self.sms_consent_at is not None and self.opted_out_at is None and self.phone_flagged_at is None

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"
