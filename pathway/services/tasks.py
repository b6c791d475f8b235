"""Coordinator tasks: something a person must do. At most one open task per kind and subject."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import MedicationHold, Task
from pathway.schemas.inputs import StopDecisionIn, TaskResolveIn
from pathway.services.base import Actor, Conflict, Env, NotFound, ValidationError, audit, get_or_404, read_input
from pathway.timeline.vocabulary import CARE_TEAM, Role

# Lower is more urgent. Red flags go to the top of the worklist.
PRIORITY = {
    "red_flag": 0,
    "hold_not_stopped": 1,  # the patient has not stopped a held medicine: right below red flags
    "hold_at_risk": 2,  # a move broke a signed hold: right below red flags
    # A reply from a number that matches no patient, or that several share: someone must say whom
    # it concerns before it can be acted on (a red flag among them is at red-flag priority, 0).
    "unmatched_reply": 5,
    "stop_unconfirmed": 3,  # no answer to the stop question by the day before the procedure: call
    "restart_after_cancel": 3,  # cancelled after a stop: the patient must hear how to restart
    "restart_after_removal": 3,  # a hold removed after its last dose: the same call, about one medicine
    "restart_after_postpone": 3,  # postponed after a stop: the same call, and when to stop again
    # A 72-hour pain score at or over the threshold, or far over the baseline: a same-day call.
    "pain_high": 4,
    # A change to the procedure (moved, cancelled) whose text could not reach the patient before
    # the procedure ends (quiet hours, or a notice still waiting when it ended): call them.
    "notice_too_late": 4,
    "stop_request": 10,
    "phone_invalid": 20,
    "opted_out": 25,
    "send_failed": 30,
    "text_undelivered": 30,
    "reconcile_unknown": 35,
    "reply": 40,
    "answer_unread": 40,  # an answer that could not be read, even re-asked: a person reads it
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
    priority: int | None = None,
) -> Task:
    """Open a task, or return the open one for the same kind and subject (idempotent)."""
    existing = session.scalar(
        select(Task).where(Task.kind == kind, Task.subject == subject, Task.resolved_at.is_(None))
    )
    if existing is not None:
        return existing
    task = Task(
        kind=kind, subject=subject, priority=PRIORITY.get(kind, 50) if priority is None else priority,
        summary=summary, patient_id=patient_id,
        episode_id=episode_id, message_id=message_id, reply_id=reply_id, created_at=env.now,
    )
    with session.begin_nested():
        session.add(task)
    return task


MAX_RESOLUTION = 500


# Tasks closed only by a person saying what they did (the call, and what the patient was told).
NOTE_REQUIRED = {
    "restart_after_cancel": "record the call: whom you reached and what they were told",
    "restart_after_removal": "record the call: whom you reached and what they were told",
    "restart_after_postpone": "record the call: whom you reached and what they were told",
    "red_flag": "record what was done: called the patient, sent them to the emergency department, advised...",
    "unmatched_reply": "say why the reply concerns no patient and what was done (or link it to a patient)",
    "hold_not_stopped": "record the clinician's decision: go ahead, postpone, or the plan agreed with the prescriber",
}

# Tasks only a clinician may close: the decision is a clinical one.
CLINICIAN_DECIDES = frozenset({"hold_not_stopped"})

# What is usually done about a red flag, offered as choices on the page next to a free-text note.
RED_FLAG_OUTCOMES = (
    "Called the patient: advised and reassured",
    "Called the patient: booked to be seen at the clinic",
    "Called the patient: sent to the emergency department",
    "Called 911 for the patient",
    "Could not reach the patient: left a message, will try again",
)


def resolve_task(session: Session, env: Env, actor: Actor, task_id: Any,
                 resolution: str | Mapping[str, Any]) -> Task:
    """Mark a task done with what the person wrote (an API body or a page's text). Red flags
    and a few other kinds need that note: a 422 naming ``resolution`` says what to write."""
    actor.require(*CARE_TEAM)
    if not isinstance(resolution, str):
        resolution = read_input(TaskResolveIn, resolution).resolution
    task: Task = get_or_404(session, Task, task_id, "task")
    if task.resolved_at is None and task.kind in CLINICIAN_DECIDES:
        actor.require(Role.CLINICIAN)
    if task.resolved_at is None and task.kind in NOTE_REQUIRED and not (resolution or "").strip():
        raise ValidationError({"resolution": NOTE_REQUIRED[task.kind]})
    if task.resolved_at is None:
        # What the person wrote, trimmed and at most 500 characters; "done" if nothing.
        note = (resolution or "").strip()[:MAX_RESOLUTION] or "done"
        task.resolved_at, task.resolved_by_id, task.resolution = env.now, actor.user_id, note
        audit(session, env, actor, "task.resolve", "task", task.id, patient_id=task.patient_id,
              detail={"kind": task.kind})
        if task.kind == "hold_not_stopped":
            # The note may name someone: it stays on the task, never in the audit detail.
            audit(session, env, actor, "hold.stop_decision", "hold", int(task.subject.split(":")[1]),
                  patient_id=task.patient_id, detail={"task_id": task.id})
    return task


def decide_not_stopped(session: Session, env: Env, actor: Actor, hold_id: Any,
                       data: Mapping[str, Any]) -> Task:
    """A clinician's decision about a medicine the patient says they have not stopped: it closes
    the ``hold_not_stopped`` item and lifts its blocker of the go / no go (audited)."""
    actor.require(Role.CLINICIAN)
    form = read_input(StopDecisionIn, data)
    key = int(hold_id) if str(hold_id).isdigit() else None
    hold = session.get(MedicationHold, key) if key is not None else None
    if hold is None:
        raise NotFound("hold")
    task = session.scalar(select(Task).where(Task.kind == "hold_not_stopped", Task.subject == f"hold:{hold.id}",
                                             Task.resolved_at.is_(None)))
    if task is None:
        raise Conflict("the patient has not said they did not stop this medicine (or a decision is recorded): "
                       "nothing to decide")
    return resolve_task(session, env, actor, task.id, form.note)


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
