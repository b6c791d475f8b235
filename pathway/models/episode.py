"""The episode aggregate: one MILD procedure with its holds, appointments and milestones."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import flag_modified

from pathway.db import Base, check_in
from pathway.timeline.vocabulary import (
    AppointmentKind,
    AppointmentStatus,
    ClearanceStatus,
    EpisodeStatus,
    MilestoneKind,
    MilestoneStatus,
)

if TYPE_CHECKING:
    from pathway.models.patient import Patient

UNRESOLVED_WHERE = text(f"clearance IN ('{ClearanceStatus.NEEDED}', '{ClearanceStatus.REQUESTED}')")


class Episode(Base):
    __tablename__ = "episodes"
    __table_args__ = (
        check_in("status", EpisodeStatus),
        # The board and the worklist look at active episodes around today.
        Index("ix_episodes_status_procedure_at", "status", "procedure_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure_at: Mapped[datetime] = mapped_column(index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    ended_at: Mapped[datetime | None]
    facility: Mapped[str] = mapped_column(String(200), default="")
    # The facility's address line as the patient reads it in the day-before text.
    facility_address: Mapped[str] = mapped_column(String(60), default="", server_default="")
    # When the patient is asked to arrive; None: the pathway's default lead before the procedure.
    arrival_at: Mapped[datetime | None]
    proceduralist: Mapped[str] = mapped_column(String(200), default="", index=True)
    levels: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default=EpisodeStatus.SCHEDULED, index=True)
    # Candidacy checklist.
    mri_reviewed_on: Mapped[date | None] = mapped_column(Date)
    tried_pt: Mapped[bool] = mapped_column(Boolean, default=False)
    tried_medication: Mapped[bool] = mapped_column(Boolean, default=False)
    tried_injections: Mapped[bool] = mapped_column(Boolean, default=False)
    escort_arranged: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    moved_at: Mapped[datetime | None]  # when the procedure time last changed (a late start is judged from it)
    # Bumped by every re-plan; services lock the row, so two re-plans never interleave.
    plan_revision: Mapped[int] = mapped_column(Integer, default=0)
    # Optimistic concurrency: bumped by every UPDATE of the row, and by any change to its holds or
    # appointments (``_bump_episodes`` below); a change sent with an older one is a 409.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)

    patient: Mapped[Patient] = relationship(back_populates="episodes")
    # The episode's holds; a hold removed before the procedure (``removed_at`` set) is kept for
    # the record (its texts, milestones and audit rows name it) but is no longer one of them.
    holds: Mapped[list[MedicationHold]] = relationship(
        back_populates="episode", order_by="MedicationHold.id", cascade="all, delete-orphan",
        primaryjoin="and_(Episode.id == MedicationHold.episode_id, MedicationHold.removed_at.is_(None))",
    )
    # Every hold ever entered, removed ones too: for the record (a removed hold's steps and texts
    # still name it). Read-only; change holds through ``holds``.
    all_holds: Mapped[list[MedicationHold]] = relationship(order_by="MedicationHold.id", viewonly=True)
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="episode", order_by="Milestone.id", cascade="all, delete-orphan"
    )
    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="episode", order_by="Appointment.id", cascade="all, delete-orphan"
    )

    def appointment(self, kind: str) -> Appointment | None:
        for a in self.appointments:
            if a.kind == kind and a.status != AppointmentStatus.CANCELLED:
                return a
        return None


class MedicationHold(Base):
    __tablename__ = "medication_holds"
    __table_args__ = (
        check_in("clearance", ClearanceStatus),
        CheckConstraint("NOT (stop_days IS NOT NULL AND stop_hours IS NOT NULL)", name="one_stop_interval"),
        # The worklist's holds still waiting for clearance, nearest last dose first.
        Index("ix_medication_holds_unresolved", "last_dose_on",
              sqlite_where=UNRESOLVED_WHERE, postgresql_where=UNRESOLVED_WHERE),
    )

    # The interval_source of a hold whose intervals a clinician entered when signing (the catalogue's
    # rule no longer applies to it).
    CLINICIAN_PLAN: ClassVar[str] = "clinician plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), index=True)
    drug_key: Mapped[str | None] = mapped_column(String(64))  # catalogue key; None for free text
    drug_name: Mapped[str] = mapped_column(String(120))
    # What the patient calls it ("Plavix", "the small white pill"): texts name the drug by it.
    patient_label: Mapped[str | None] = mapped_column(String(40))
    interval_source: Mapped[str] = mapped_column(String(200))  # catalogue citation, or CLINICIAN_PLAN
    stop_days: Mapped[int | None] = mapped_column(Integer)
    stop_hours: Mapped[int | None] = mapped_column(Integer)
    restart_hours: Mapped[int | None] = mapped_column(Integer)
    # Creatinine clearance (mL/min) when recorded: renal-dependent holds (dabigatran) follow it.
    crcl_ml_min: Mapped[int | None] = mapped_column(Integer)
    # Computed from the intervals and the procedure; recomputed by every re-plan.
    last_dose_on: Mapped[date | None] = mapped_column(Date)
    last_dose_at: Mapped[datetime | None]
    restart_at: Mapped[datetime | None]
    prescriber_name: Mapped[str] = mapped_column(String(200), default="")
    prescriber_phone: Mapped[str] = mapped_column(String(20), default="")
    clearance: Mapped[str] = mapped_column(String(16), default=ClearanceStatus.NEEDED)
    clearance_by: Mapped[str | None] = mapped_column(String(200))  # the prescriber who answered
    clearance_at: Mapped[datetime | None]
    clearance_note: Mapped[str | None] = mapped_column(Text)
    clearance_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None]
    # The procedure time the signature was given for: after a move it stands only as far as the
    # hold's interval still fits (the go / no go's hold_too_short).
    signed_for_procedure_at: Mapped[datetime | None]
    inr_required: Mapped[bool] = mapped_column(Boolean, default=False)
    inr_value: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    inr_at: Mapped[datetime | None]
    inr_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Removed from the episode before the procedure: kept for the record, left out of the plan,
    # the texts, the go / no go and every list (``Episode.holds`` does not load it).
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    episode: Mapped[Episode] = relationship(back_populates="holds")

    @property
    def ref(self) -> str:
        return f"h{self.id}"

    @property
    def approved_and_signed(self) -> bool:
        # A removed hold tells the patient nothing, whatever it said before.
        return self.clearance == ClearanceStatus.APPROVED and self.signed_at is not None and self.removed_at is None

    @property
    def has_plan(self) -> bool:
        return self.stop_days is not None or self.stop_hours is not None

    @property
    def restart_estimated(self) -> bool:
        """``restart_at`` counts from the expected end until the procedure's end is recorded
        (no restart text goes until then)."""
        return self.restart_at is not None and self.episode.ended_at is None


class Appointment(Base):
    """The clinic follow-up visit and the physical-therapy start, once booked."""

    __tablename__ = "appointments"
    __table_args__ = (
        check_in("kind", AppointmentKind),
        check_in("status", AppointmentStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    appointment_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=AppointmentStatus.BOOKED)
    booked_at: Mapped[datetime]
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    episode: Mapped[Episode] = relationship(back_populates="appointments")


class Milestone(Base):
    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("episode_id", "kind", "ref"),
        check_in("kind", MilestoneKind),
        check_in("status", MilestoneStatus),
        # Overdue steps: open milestones by window end, or by due time where there is no window.
        Index("ix_milestones_status_window_end_due_at", "status", "window_end", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(20), default="")  # the hold ("h12") for per-hold kinds
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("medication_holds.id"))
    due_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=MilestoneStatus.PLANNED)
    rule: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result: Mapped[dict[str, Any] | None]

    episode: Mapped[Episode] = relationship(back_populates="milestones")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"

    @property
    def deadline(self) -> datetime | None:
        return self.window_end or self.due_at

    @property
    def due_estimated(self) -> bool:
        """A restart step's due time is an estimate until the procedure's end is recorded."""
        return self.kind == MilestoneKind.RESTART and self.due_at is not None and self.episode.ended_at is None


@event.listens_for(Session, "before_flush")
def _bump_episodes(session: Session, _ctx: Any, _instances: Any) -> None:
    """A change to an episode's holds, appointments or steps is a change to the episode: its
    ``version`` goes up with it (the UPDATE also checks the version this session read, so two
    people changing the same hold at once cannot both win). The worker's bulk updates of steps
    (housekeeping) are not ORM changes and leave it alone."""
    touched: set[int] = set()
    parts = (MedicationHold, Appointment, Milestone)
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if not isinstance(obj, parts) or (obj in session.dirty and not session.is_modified(obj)):
            continue
        episode = obj.episode
        if episode is None and obj.episode_id is not None:
            episode = session.get(Episode, obj.episode_id)
        if episode is None or id(episode) in touched or episode in session.new or episode in session.deleted:
            continue
        touched.add(id(episode))
        if not session.is_modified(episode):
            episode.plan_revision = episode.plan_revision  # loaded, so it can be flagged
            flag_modified(episode, "plan_revision")
