"""Lists of holds across episodes: the clinicians' "Holds to sign"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, contains_eager

from pathway.models import Episode, MedicationHold, Patient
from pathway.services.base import Actor, Env, audit
from pathway.services.worklist import hold_urgency
from pathway.timeline.vocabulary import CARE_TEAM

__all__ = ["UnsignedHold", "unsigned_holds"]


@dataclass(frozen=True)
class UnsignedHold:
    hold: MedicationHold
    episode: Episode
    patient: Patient
    days_left: int | None = None  # clinic calendar days until the last dose (negative: passed)
    urgency: str | None = None  # the worklist's level for this hold: normal, high or urgent

    @property
    def last_dose_day(self) -> date | None:
        """The last-dose day in the patient's own calendar (an hour-based hold's time, there)."""
        h = self.hold
        if h.last_dose_on is not None:
            return h.last_dose_on
        if h.last_dose_at is not None:
            return h.last_dose_at.astimezone(ZoneInfo(self.patient.timezone)).date()
        return None


def unsigned_holds(session: Session, env: Env, actor: Actor, *, limit: int = 500) -> list[UnsignedHold]:
    """Holds waiting for a clinician's signature, earliest last dose first, with no time limit.

    "Unsigned" means, on an active (scheduled) episode, a hold whose clearance is
    ``requested`` (the coordinator asked the prescriber; no answer is recorded yet), or
    ``approved`` with no clinician's signature (``signed_at`` is null: the prescriber's
    approval was recorded, or kept after a move, without a clinician signing the plan).
    ``needed`` holds (clearance not yet requested) are the coordinators' worklist's;
    ``declined`` and ``not_required`` are answered. Holds without a last-dose date (no default
    interval) sort by their procedure time after those with one on the same day. Audited like
    the other lists, with the patient ids shown.
    """
    actor.require(*CARE_TEAM)
    limit = max(1, min(int(limit), 1000))
    far = datetime.max.replace(tzinfo=UTC)
    stmt = (
        select(MedicationHold)
        .join(MedicationHold.episode)
        .join(Episode.patient)
        .options(contains_eager(MedicationHold.episode).contains_eager(Episode.patient))
        .where(Episode.status == "scheduled", MedicationHold.removed_at.is_(None),
               or_(MedicationHold.clearance == "requested",
                   and_(MedicationHold.clearance == "approved", MedicationHold.signed_at.is_(None))))
        .order_by(MedicationHold.last_dose_on, Episode.procedure_at, MedicationHold.id)
        .limit(limit)
    )
    today = env.now.astimezone(env.rules.clinic.tz).date()
    rows = []
    for h in session.scalars(stmt):
        row = UnsignedHold(h, h.episode, h.episode.patient)
        day = row.last_dose_day
        if day is not None:  # the same urgency the coordinators' worklist gives this hold
            row = UnsignedHold(h, h.episode, h.episode.patient, (day - today).days, hold_urgency(env, day))
        rows.append(row)

    def key(r: UnsignedHold) -> tuple[date, datetime, datetime, int]:
        day = r.last_dose_day or r.episode.procedure_at.astimezone(UTC).date()
        return (day, r.hold.last_dose_at or far, r.episode.procedure_at, r.hold.id)

    rows.sort(key=key)
    audit(session, env, actor, "holds.unsigned.view", "holds", None,
          detail={"patient_ids": sorted({r.patient.id for r in rows})})
    return rows
