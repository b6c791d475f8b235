"""Read-side use cases for the staff pages: a patient's record, an episode's timeline, the outbox.

Each is a few bounded queries with eager loading (no N+1). Viewing a patient's record is
written to the audit table (who, what, when, from where), like every change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pathway.models import Episode, Message, MessageEvent, Patient, Reply, Task
from pathway.services.base import Actor, Env, NotFound, ValidationError, audit, get_or_404
from pathway.services.episodes import CheckItem, go_no_go
from pathway.services.patients import search_patients

CARE = ("coordinator", "clinician")
# Statuses the outbox page filters on; "attention" = failed or unknown.
OUTBOX_FILTERS = ("scheduled", "sending", "sent", "delivered", "undelivered", "failed", "unknown",
                  "suppressed", "cancelled", "attention")
# Milestones a person marks done on the episode page (the procedure is closed by its end time,
# a hold's clearance by recording the prescriber's answer).
COMPLETABLE = ("check_72h", "follow_up", "pt_start", "pre_procedure")


@dataclass
class PatientRecord:
    patient: Patient
    episodes: list[Episode]
    open_tasks: list[Task]


@dataclass
class EpisodeRecord:
    episode: Episode
    patient: Patient
    messages: list[Message]
    replies: list[Reply]
    open_tasks: list[Task]
    checklist: list[CheckItem]
    other_episodes: list[Episode] = field(default_factory=list)

    @property
    def episode_messages(self) -> list[Message]:
        """The texts of this episode alone (``messages`` also holds the patient's others)."""
        return [m for m in self.messages if m.episode_id == self.episode.id]


@dataclass
class OutboxPage:
    rows: list[tuple[Message, Patient]]
    status: str | None
    offset: int
    limit: int
    has_next: bool


def find_patients(session: Session, env: Env, actor: Actor, query: str, *, limit: int = 50) -> list[Patient]:
    actor.require(*CARE)
    found = search_patients(session, query, limit=limit)
    audit(session, env, actor, "patient.search", "patient", None, detail={"results": len(found)})
    return found


def _open_tasks(session: Session, patient_id: int, limit: int = 20) -> list[Task]:
    return list(session.scalars(
        select(Task).where(Task.patient_id == patient_id, Task.resolved_at.is_(None))
        .order_by(Task.priority, Task.created_at).limit(limit)
    ))


def patient_record(session: Session, env: Env, actor: Actor, patient_id: Any) -> PatientRecord:
    actor.require(*CARE)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    episodes = list(session.scalars(
        select(Episode).where(Episode.patient_id == patient.id).order_by(Episode.procedure_at.desc()).limit(50)
    ))
    audit(session, env, actor, "patient.view", "patient", patient.id, patient_id=patient.id)
    return PatientRecord(patient, episodes, _open_tasks(session, patient.id))


def load_patient(session: Session, actor: Actor, patient_id: Any) -> Patient:
    """A patient for a form page (no audit: the form itself shows only the name)."""
    actor.require(*CARE)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    return patient


def episode_record(
    session: Session, env: Env, actor: Actor, episode_id: Any, *, audit_view: bool = True
) -> EpisodeRecord:
    actor.require(*CARE)
    try:
        key = int(episode_id)
    except (TypeError, ValueError):
        raise NotFound("episode") from None
    episode = session.scalars(
        select(Episode).where(Episode.id == key).options(
            selectinload(Episode.patient), selectinload(Episode.holds), selectinload(Episode.milestones),
            selectinload(Episode.appointments),
        )
    ).first()
    if episode is None:
        raise NotFound("episode")
    patient = episode.patient
    messages = list(session.scalars(
        select(Message)
        .where(Message.patient_id == patient.id,
               (Message.episode_id == episode.id) | Message.episode_id.is_(None))
        .options(selectinload(Message.events))
        .order_by(Message.send_at, Message.id)
        .limit(200)
    ))
    replies = list(session.scalars(
        select(Reply).where(Reply.patient_id == patient.id).order_by(Reply.received_at.desc()).limit(50)
    ))
    others = list(session.scalars(
        select(Episode).where(Episode.patient_id == patient.id, Episode.id != episode.id)
        .order_by(Episode.procedure_at.desc()).limit(20)
    ))
    if audit_view:
        audit(session, env, actor, "episode.view", "episode", episode.id, patient_id=patient.id)
    return EpisodeRecord(episode, patient, messages, replies, _open_tasks(session, patient.id),
                         go_no_go(env, episode), others)


def outbox(
    session: Session, env: Env, actor: Actor, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> OutboxPage:
    """Texts across patients, newest first (scheduled ones soonest first), one page at a time."""
    actor.require(*CARE)
    status = (status or "").strip() or None
    if status is not None and status not in OUTBOX_FILTERS:
        raise ValidationError({"status": f"must be one of {', '.join(OUTBOX_FILTERS)}"})
    limit = max(1, min(int(limit), 200))
    offset = max(0, int(offset))
    stmt = select(Message, Patient).join(Patient, Patient.id == Message.patient_id)
    if status == "attention":
        stmt = stmt.where(Message.status.in_(("failed", "unknown")))
    elif status is not None:
        stmt = stmt.where(Message.status == status)
    if status == "scheduled":
        stmt = stmt.order_by(Message.send_at, Message.id)
    else:
        stmt = stmt.order_by(Message.send_at.desc(), Message.id.desc())
    rows = [(m, p) for m, p in session.execute(stmt.limit(limit + 1).offset(offset))]
    return OutboxPage(rows=rows[:limit], status=status, offset=offset, limit=limit, has_next=len(rows) > limit)


def message_history(session: Session, actor: Actor, message_ids: list[int]) -> dict[int, list[Any]]:
    """Delivery events for a page of messages, in one query."""
    actor.require(*CARE)
    if not message_ids:
        return {}
    out: dict[int, list[Any]] = {}
    for ev in session.scalars(select(MessageEvent).where(MessageEvent.message_id.in_(message_ids))
                              .order_by(MessageEvent.id)):
        out.setdefault(ev.message_id, []).append(ev)
    return out
