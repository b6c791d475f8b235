"""Coordinator tasks: something a person must do. At most one open task per kind and subject."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Task
from pathway.services.base import Actor, Env, NotFound, ValidationError, audit
from pathway.timeline.vocabulary import CARE_TEAM

# Lower is more urgent. Red flags go to the top of the worklist.
PRIORITY = {
    "red_flag": 0,
    "hold_at_risk": 2,  # a move broke a signed hold: right below red flags
    "restart_after_cancel": 3,  # cancelled after a stop: the patient must hear how to restart
    "restart_after_removal": 3,  # a hold removed after its last dose: the same call, about one medicine
    "stop_request": 10,
    "phone_invalid": 20,
    "opted_out": 25,
    "send_failed": 30,
    "text_undelivered": 30,
    "reconcile_unknown": 35,
    "reply": 40,
}


def open_task(
    session: Session,
    env: Env,
    kind: str,
    subject: str,
    summary: str,
    *,
    patient_id: int | None = None,
    episode_id: int | None = None,
    message_id: int | None = None,
    reply_id: int | None = None,
) -> Task:
    """Open a task, or return the open one for the same kind and subject (idempotent)."""
    existing = session.scalar(
        select(Task).where(Task.kind == kind, Task.subject == subject, Task.resolved_at.is_(None))
    )
    if existing is not None:
        return existing
    task = Task(
        kind=kind, subject=subject, priority=PRIORITY.get(kind, 50), summary=summary, patient_id=patient_id,
        episode_id=episode_id, message_id=message_id, reply_id=reply_id, created_at=env.now,
    )
    with session.begin_nested():
        session.add(task)
    return task


MAX_RESOLUTION = 500


# Tasks closed only by a person saying what they did (the call, and what the patient was told).
NOTE_REQUIRED = ("restart_after_cancel", "restart_after_removal")


def resolve_task(session: Session, env: Env, actor: Actor, task_id: Any, resolution: str) -> Task:
    actor.require(*CARE_TEAM)
    task = session.get(Task, int(task_id)) if str(task_id).isdigit() else None
    if task is None:
        raise NotFound("task")
    if task.resolved_at is None and task.kind in NOTE_REQUIRED and not (resolution or "").strip():
        raise ValidationError({"resolution": "record the call: whom you reached and what they were told"})
    if task.resolved_at is None:
        # What the person wrote, trimmed and at most 500 characters; "done" if nothing.
        note = (resolution or "").strip()[:MAX_RESOLUTION] or "done"
        task.resolved_at, task.resolved_by_id, task.resolution = env.now, actor.user_id, note
        audit(session, env, actor, "task.resolve", "task", task.id, patient_id=task.patient_id,
              detail={"kind": task.kind})
    return task


def close_open(session: Session, env: Env, actor: Actor, kind: str, subjects: list[str], resolution: str) -> int:
    """Resolve the open tasks of ``kind`` about ``subjects`` that no longer need a person
    (e.g. re-signing a hold of an episode that was cancelled). Returns how many."""
    if not subjects:
        return 0
    found = list(session.scalars(select(Task).where(Task.kind == kind, Task.subject.in_(subjects),
                                                    Task.resolved_at.is_(None))))
    for task in found:
        task.resolved_at, task.resolved_by_id, task.resolution = env.now, actor.user_id, resolution
        audit(session, env, actor, "task.resolve", "task", task.id, patient_id=task.patient_id,
              detail={"kind": task.kind})
    return len(found)
