"""The worklist: what needs a person today, most urgent first.

Sources, each one bounded query (LIMIT) on an indexed status or time column, merged and sorted
in Python (never a loop over all patients):

1. open tasks (``tasks.resolved_at IS NULL``): red flags from patients first, then by priority;
2. blood-thinner holds whose clearance is still needed or requested, from the day the episode
   is created, more urgent as the last dose (or, for a drug with no default, the procedure) nears;
3. texts that failed or whose fate is unknown, recently, and with no task about them;
4. follow-up visits not booked by day 5 after the procedure;
5. person-owned milestones past their deadline and not done;
6. patients who opted out of texts while an episode is active;
7. signed holds whose last dose is today or was yesterday with no last-dose text (signed too
   late in the day for quiet hours, or after the day): a person must call the patient;
8. procedures with a held medicine whose end is still not recorded some hours after the
   expected end (``[timing] procedure_end_missing_after_hours``): restarts count from the end,
   and no restart text goes until it is recorded (the item clears when it is);
9. signed holds whose restart moment (from the recorded end) has come in the last days with no
   restart text sent or to be sent (the end was recorded more than a day late, or the text came
   too late to be useful): a person must call the patient about restarting.

10. replies from a number that matches no patient or that several patients share
   (``unmatched_reply``), with the number, the words and the patients on it, until a person
   links them to a patient or dismisses them with a note.

A patient's free-text reply (a ``reply`` task) from the procedure day to
``[timing] read_replies_days_after`` days after it comes right after the hold items; outside
that window it stays at its routine priority.

Cancelled episodes are left out (a patient's reply is always shown: it is about the patient; so is
the call telling a patient of a change, a cancellation among them, that no text could bring in time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, contains_eager

from pathway.models import Appointment, Episode, MedicationHold, Message, Milestone, Observation, Patient, Reply, Task
from pathway.services.base import Actor, Env, audit
from pathway.timeline.plan import plan_key_refs
from pathway.timeline.vocabulary import CARE_TEAM, ClearanceStatus

__all__ = ["PERSON_OWNED_GRACE", "PRIORITY", "Candidate", "WorklistItem", "hold_urgency", "milestone_overdue",
           "worklist"]

# Lower is more urgent. Task rows carry their own priority (services.tasks.PRIORITY); these
# are for the items derived from the pathway's state.
PRIORITY = {
    "red_flag": 0,
    "hold_at_risk": 2,
    "restart_after_cancel": 3,
    "restart_after_removal": 3,
    "restart_after_postpone": 3,
    "stop_unconfirmed": 3,  # no answer to the stop question by the day before the procedure: call
    "unmatched_reply": 5,
    "reply_to_read": 12,  # a free-text reply in the days after the procedure
    "hold_unresolved_urgent": 15,
    "hold_unresolved": 20,
    "last_dose_not_texted": 21,
    "restart_not_texted": 21,
    "procedure_end_missing": 22,
    "opted_out": 25,
    "text_failed": 30,
    "text_unknown": 35,
    "follow_up_unbooked": 40,
    "milestone_overdue": 45,
    "task": 50,
    "hold_unresolved_normal": 60,
}
# A follow-up visit should be booked by this day after the procedure (day 0 = procedure day),
# leaving time to fit it into the day 7-10 window (data/mild_pathway.toml).
FOLLOW_UP_BOOK_BY_DAY = 5
# How far back the derived sources look. Older items have either been handled or belong to an
# episode that someone must close; bounding the range keeps every query an index range scan.
LOOKBACK_DAYS = 30
# Failed or unknown texts stay on the worklist this long unless a task already covers them.
TEXT_LOOKBACK_DAYS = 7
# Milestones a person completes (reminders to the patient are not on the worklist), with the
# grace after the deadline before they count as overdue.
PERSON_OWNED_GRACE = {
    "hold_clearance": timedelta(0),
    "procedure": timedelta(hours=12),  # record the procedure's end the same day
    "check_72h": timedelta(hours=24),  # the call is due the day the 72-hour text goes out
    "follow_up": timedelta(0),
    "pt_start": timedelta(0),
}
OPEN_MILESTONE = ("planned", "due")



def _day(d: date) -> str:
    """A date as the pages show one ("Tue 8 Dec 2026"), not ISO: a coordinator reads this line."""
    return f"{d:%a} {d.day} {d:%b %Y}"

def milestone_overdue(milestone: Milestone, now: datetime) -> bool:
    """A person-owned step, not done, whose deadline (window end, else due time) passed more than
    its grace ago: the same rule as the worklist's query, for the episode page."""
    grace = PERSON_OWNED_GRACE.get(milestone.kind)
    deadline = milestone.deadline
    return (grace is not None and milestone.status in OPEN_MILESTONE and deadline is not None
            and deadline < now - grace)


# Task kinds shown under a more specific worklist kind.
TASK_KINDS = {
    "red_flag": "red_flag",
    "send_failed": "text_failed",
    "text_undelivered": "text_failed",
    "phone_invalid": "text_failed",
    "reconcile_unknown": "text_unknown",
    "opted_out": "opted_out",
    "stop_request": "opted_out",
    "pain_high": "pain_high",
    "answer_unread": "answer_unread",
    "hold_not_stopped": "hold_not_stopped",
    "notice_too_late": "notice_too_late",
}
TASK_ACTIONS = {
    "hold_not_stopped": "Clinician decides",
    "pain_high": "Call patient today",
    "answer_unread": "Read the reply",
    "red_flag": "Call patient today",
    "text_failed": "Call patient",
    "text_unknown": "Check text",
    "opted_out": "Review opt-out",
    "notice_too_late": "Call patient today",
    "task": "Open",
}
# Tasks still shown once their episode is cancelled: a patient's words, and the call telling a
# patient of the cancellation itself when its text could not reach them in time.
KEPT_WHEN_CANCELLED = ("red_flag", "reply", "notice_too_late")
NOTICE_TOO_LATE_TITLES = {
    False: "Call: the patient was not told the procedure moved before it ended",
    True: "Call: the patient was not told the procedure was cancelled before it ended",
}
MILESTONE_TITLES = {
    "hold_clearance": ("Hold clearance overdue", "Request clearance"),
    "procedure": ("Procedure end not recorded", "Record procedure end"),
    "check_72h": ("72-hour check not done", "Call patient"),
    "follow_up": ("Follow-up visit window passed", "Record visit"),
    "pt_start": ("Physical therapy not started", "Book PT"),
}
ACTIVE_EPISODE = ("scheduled", "completed")


@dataclass(frozen=True)
class Candidate:
    """A patient a reply from a shared number may concern."""

    patient_id: int
    patient_name: str
    mrn: str


@dataclass(frozen=True)
class WorklistItem:
    """One thing a person must do.

    ``subject_id`` is the row the item is about: the reply (red flag), the hold, the message,
    the milestone, the task (other tasks) or the patient (opted out). ``task_id`` is set when
    the item comes from an open Task row (resolve it when done). ``patient_id`` is None only for
    an ``unmatched_reply``, which carries the number, the words and the ``candidates`` instead.
    """

    kind: str
    priority: int
    patient_id: int | None
    episode_id: int | None
    subject_id: int | None
    title: str
    detail: str
    due_at: datetime | None
    action: str
    task_id: int | None = None
    patient_name: str = ""
    mrn: str = ""
    reply_id: int | None = None
    from_number: str | None = None
    reply_body: str | None = None
    candidates: tuple[Candidate, ...] = ()

    def sort_key(self) -> tuple[int, int, float, int, int]:
        due = self.due_at.timestamp() if self.due_at is not None else float("inf")
        return (self.priority, 0 if self.due_at is not None else 1, due, self.patient_id or 0, self.subject_id or 0)


def _local_midnight(day: date, env: Env) -> datetime:
    return datetime.combine(day, time(0), env.rules.clinic.tz)


def _today(env: Env) -> date:
    return env.now.astimezone(env.rules.clinic.tz).date()


def _not_cancelled(column: InstrumentedAttribute[int | None]) -> ColumnElement[bool]:
    return or_(column.is_(None), Episode.status != "cancelled")


def _reads_soon(env: Env, received_at: datetime, procedure_at: datetime | None) -> bool:
    """A reply from the procedure day (clinic calendar) to ``read_replies_days_after`` days after it."""
    if procedure_at is None:
        return False
    day = procedure_at.astimezone(env.rules.clinic.tz).date()
    return (_local_midnight(day, env) <= received_at
            < _local_midnight(day + timedelta(days=env.rules.definition.read_replies_days_after + 1), env))


def _from_tasks(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    stmt = (
        select(Task, Patient, Episode.procedure_at, Reply.body, Reply.received_at, Episode.status, Message.kind)
        .join(Patient, Patient.id == Task.patient_id)
        .outerjoin(Episode, Episode.id == Task.episode_id)
        .outerjoin(Reply, Reply.id == Task.reply_id)
        .outerjoin(Message, Message.id == Task.message_id)
        .where(Task.resolved_at.is_(None), Task.kind.not_in(OWN_SOURCE_TASKS))
        .where(or_(Task.kind.in_(KEPT_WHEN_CANCELLED), Task.episode_id.is_(None), Episode.status != "cancelled"))
        .order_by(Task.priority, Task.created_at, Task.id)
        .limit(limit)
    )
    out = []
    for task, patient, procedure_at, body, received_at, episode_status, message_kind in session.execute(stmt):
        kind = TASK_KINDS.get(task.kind, "task")
        priority = 0 if kind == "red_flag" else task.priority
        if task.kind == "reply":
            soon = _reads_soon(env, received_at or task.created_at, procedure_at)
            subject, title = task.id, "Patient's reply after the procedure: read it" if soon else "Patient replied"
            if soon:
                priority = min(priority, PRIORITY["reply_to_read"])
        elif kind == "red_flag":
            subject, title = task.reply_id or task.id, "Red flag reply: call today"
        elif kind in ("text_failed", "text_unknown"):
            subject = task.message_id or task.id
            title = "Text not delivered" if kind == "text_failed" else "Text may not have been sent"
        elif kind == "opted_out":
            subject, title = patient.id, "Patient asked to stop texts"
        elif kind == "hold_not_stopped":
            subject, title = task.id, "Medicine not stopped: call; a clinician decides"
        elif kind == "pain_high":
            subject, title = task.id, "High pain after the procedure: call today"
        elif kind == "answer_unread":
            subject, title = task.id, "Answer to a question not understood: read it"
        elif kind == "notice_too_late":
            # The notice that did not go says which change it was; a notice never planned (quiet
            # hours would have held it past the end) leaves the episode's state to say it.
            cancelled = (message_kind or ("cancelled" if episode_status == "cancelled" else "")) == "cancelled"
            subject, title = task.id, NOTICE_TOO_LATE_TITLES[cancelled]
        else:
            subject, title = task.id, task.kind.replace("_", " ").capitalize()
        out.append(WorklistItem(
            kind=kind, priority=priority, patient_id=patient.id,
            episode_id=task.episode_id, subject_id=subject, title=title, detail=task.summary,
            due_at=task.created_at, action="Read the reply" if task.kind == "reply" else TASK_ACTIONS[kind],
            task_id=task.id, patient_name=patient.display_name, mrn=patient.mrn, reply_id=task.reply_id,
            reply_body=body,
        ))
    return out


LEGACY_UNMATCHED = ("red_flag", "reply", "stop_request")


def _from_unmatched_replies(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    """Replies no one has yet said whom they concern, with the patients on a shared number."""
    stmt = (
        select(Task, Reply)
        .join(Reply, Reply.id == Task.reply_id)
        .where(Task.resolved_at.is_(None),
               # Before unmatched_reply existed, such a reply opened its own task with no patient.
               or_(Task.kind == "unmatched_reply", and_(Task.patient_id.is_(None), Task.kind.in_(LEGACY_UNMATCHED))))
        .order_by(Task.priority, Task.created_at, Task.id)
        .limit(limit)
    )
    rows = list(session.execute(stmt))
    if not rows:
        return []
    on_number: dict[str, list[Candidate]] = {}
    for p in session.scalars(select(Patient).where(Patient.phone.in_({r.from_number for _, r in rows}))
                             .order_by(Patient.family_name, Patient.given_name, Patient.id)):
        on_number.setdefault(p.phone, []).append(Candidate(p.id, p.display_name, p.mrn))
    out = []
    for task, reply in rows:
        candidates = tuple(on_number.get(reply.from_number, ()))
        red = task.priority == 0
        if len(candidates) > 1:
            title = "Red flag from a shared number: call today" if red else "Reply from a shared number"
        else:
            title = "Red flag from an unknown number: call today" if red else "Reply from an unknown number"
        out.append(WorklistItem(
            kind="unmatched_reply", priority=task.priority, patient_id=None, episode_id=None, subject_id=reply.id,
            title=title, detail=task.summary, due_at=reply.received_at, action="Link to a patient", task_id=task.id,
            reply_id=reply.id, from_number=reply.from_number, reply_body=reply.body,
            candidates=candidates if len(candidates) > 1 else (),
        ))
    return out


# Task kinds with a source of their own below.
OWN_SOURCE_TASKS = ("hold_at_risk", "restart_after_cancel", "restart_after_removal", "restart_after_postpone")


def _from_hold_risks(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    """Holds a move broke (open ``hold_at_risk`` tasks) until signed again, and patients who
    may have stopped a drug for a cancelled procedure (``restart_after_cancel``) or whose
    hold was removed after its last dose (``restart_after_removal``) or whose procedure was
    postponed after its last dose (``restart_after_postpone``) until a person records
    the call, whatever the episode's status."""
    stmt = (
        select(Task, Patient)
        .join(Patient, Patient.id == Task.patient_id)
        .where(Task.resolved_at.is_(None), Task.kind.in_(OWN_SOURCE_TASKS))
        .order_by(Task.priority, Task.created_at, Task.id)
        .limit(limit)
    )
    rows = list(session.execute(stmt))
    hold_ids = {int(t.subject.partition(":")[2]) for t, _ in rows if t.subject.startswith("hold:")}
    holds = {h.id: h for h in session.scalars(select(MedicationHold).where(MedicationHold.id.in_(hold_ids)))}
    out = []
    for task, patient in rows:
        hold = holds.get(int(task.subject.partition(":")[2])) if task.subject.startswith("hold:") else None
        if task.kind == "hold_at_risk":
            if (hold is None or hold.approved_and_signed or hold.clearance in ("declined", "not_required")
                    or hold.episode.status == "cancelled" or hold.removed_at is not None):
                continue  # answered and signed again: nothing left to do
            title, action = f"Hold needs signing again: {hold.drug_name}", "Get clearance and sign"
        else:
            name = hold.drug_name if hold is not None else "a medicine"
            why = {"restart_after_removal": "Hold removed after its last dose",
                   "restart_after_postpone": "Postponed after a stop"}.get(task.kind, "Cancelled after a stop")
            title, action = f"{why}: call about restarting {name}", "Call patient, record call"
        out.append(WorklistItem(
            kind=task.kind, priority=PRIORITY[task.kind], patient_id=patient.id, episode_id=task.episode_id,
            subject_id=hold.id if hold is not None else task.id, title=title, detail=task.summary,
            due_at=task.created_at, action=action, task_id=task.id, patient_name=patient.display_name,
            mrn=patient.mrn,
        ))
    return out


def hold_urgency(env: Env, last_day: date) -> str:
    """``urgent`` within hold_urgent_days of the last dose (or past it), ``high`` within
    hold_high_days, else ``normal`` (days in the clinic's calendar)."""
    d = env.rules.definition
    days = (last_day - _today(env)).days
    if days <= d.hold_urgent_days:
        return "urgent"
    return "high" if days <= d.hold_high_days else "normal"


def _hold_priority(level: str) -> int:
    return PRIORITY["hold_unresolved" if level == "high" else f"hold_unresolved_{level}"]


def _from_holds(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    base = (
        select(MedicationHold)
        .join(MedicationHold.episode)
        .join(Episode.patient)
        .options(contains_eager(MedicationHold.episode).contains_eager(Episode.patient))
        .where(MedicationHold.clearance.in_(("needed", "requested")), Episode.status == "scheduled",
               MedicationHold.removed_at.is_(None))
    )
    with_date = base.where(MedicationHold.last_dose_on.is_not(None)).order_by(MedicationHold.last_dose_on).limit(limit)
    no_default = base.where(MedicationHold.last_dose_on.is_(None)).order_by(Episode.procedure_at).limit(limit)
    out = []
    for hold in list(session.scalars(with_date)) + list(session.scalars(no_default)):
        episode, patient = hold.episode, hold.episode.patient
        if hold.last_dose_on is not None:
            due = hold.last_dose_at or _local_midnight(hold.last_dose_on, env)
            level = hold_urgency(env, hold.last_dose_on)
            detail = f"{hold.drug_name}: clearance {hold.clearance}; last dose {_day(hold.last_dose_on)}"
        else:
            due = episode.procedure_at
            level = hold_urgency(env, due.astimezone(env.rules.clinic.tz).date())
            detail = f"{hold.drug_name}: no default hold; a clinician must enter the plan (clearance {hold.clearance})"
        if level != "normal":
            detail += f"; {level} priority"
        requested = hold.clearance == "requested"
        out.append(WorklistItem(
            kind="hold_unresolved", priority=_hold_priority(level), patient_id=patient.id,
            episode_id=episode.id, subject_id=hold.id,
            title="Hold awaiting prescriber" if requested else "Hold clearance not requested",
            detail=detail, due_at=due, action="Chase clearance" if requested else "Request clearance",
            patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def _from_messages(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    covered = exists().where(Task.message_id == Message.id)
    stmt = (
        select(Message, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .outerjoin(Episode, Episode.id == Message.episode_id)
        .where(Message.status.in_(("failed", "unknown")),
               Message.updated_at >= env.now - timedelta(days=TEXT_LOOKBACK_DAYS),
               _not_cancelled(Message.episode_id), ~covered)
        .order_by(Message.updated_at.desc())
        .limit(limit)
    )
    out = []
    for msg, patient in session.execute(stmt):
        failed = msg.status == "failed"
        out.append(WorklistItem(
            kind="text_failed" if failed else "text_unknown",
            priority=PRIORITY["text_failed" if failed else "text_unknown"], patient_id=patient.id,
            episode_id=msg.episode_id, subject_id=msg.id,
            title="Text not delivered" if failed else "Text may not have been sent",
            detail=f"{msg.kind.replace('_', ' ')} text {msg.status}"
                   + (f" (error {msg.error_code})" if msg.error_code else ""),
            due_at=msg.send_at, action="Call patient" if failed else "Check text",
            patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def _from_unbooked_follow_ups(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    # Procedure on local day D needs a booking from day D + 5: procedure_at < midnight of today - 4.
    cutoff = _local_midnight(_today(env) - timedelta(days=FOLLOW_UP_BOOK_BY_DAY - 1), env)
    booked = exists().where(Appointment.episode_id == Episode.id, Appointment.kind == "follow_up",
                            Appointment.status != "cancelled")
    stmt = (
        select(Episode, Patient, Milestone)
        .join(Patient, Patient.id == Episode.patient_id)
        .join(Milestone, and_(Milestone.episode_id == Episode.id, Milestone.kind == "follow_up", Milestone.ref == ""))
        .where(Episode.status.in_(ACTIVE_EPISODE),
               Episode.procedure_at < cutoff,
               Episode.procedure_at >= env.now - timedelta(days=LOOKBACK_DAYS),
               Milestone.status.in_(("planned", "due")), ~booked)
        .order_by(Episode.procedure_at)
        .limit(limit)
    )
    out = []
    for episode, patient, m in session.execute(stmt):
        out.append(WorklistItem(
            kind="follow_up_unbooked", priority=PRIORITY["follow_up_unbooked"], patient_id=patient.id,
            episode_id=episode.id, subject_id=m.id, title="Follow-up visit not booked",
            detail="Book the clinic visit for day 7 to 10 after the procedure",
            due_at=m.window_start, action="Book follow-up", patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def _from_milestones(session: Session, env: Env, limit: int) -> list[tuple[WorklistItem, str, str]]:
    since = env.now - timedelta(days=LOOKBACK_DAYS)
    out = []
    for column, no_window in ((Milestone.window_end, False), (Milestone.due_at, True)):
        late = or_(*[and_(Milestone.kind == kind, column < env.now - grace)
                     for kind, grace in PERSON_OWNED_GRACE.items()])
        stmt = (
            select(Milestone, Patient)
            .join(Episode, Episode.id == Milestone.episode_id)
            .join(Patient, Patient.id == Episode.patient_id)
            .where(Milestone.status.in_(OPEN_MILESTONE), column >= since, late,
                   Episode.status.in_(ACTIVE_EPISODE))
            .order_by(column)
            .limit(limit)
        )
        if no_window:
            stmt = stmt.where(Milestone.window_end.is_(None))
        for m, patient in session.execute(stmt):
            title, action = MILESTONE_TITLES[m.kind]
            out.append((WorklistItem(
                kind="milestone_overdue", priority=PRIORITY["milestone_overdue"], patient_id=patient.id,
                episode_id=m.episode_id, subject_id=m.id, title=title, detail=m.rule, due_at=m.deadline,
                action=action, patient_name=patient.display_name, mrn=patient.mrn,
            ), m.kind, m.ref))
    return out


def _from_opt_outs(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    active = or_(Episode.status == "scheduled",
                 and_(Episode.status == "completed", Episode.procedure_at >= env.now - timedelta(days=LOOKBACK_DAYS)))
    stmt = (
        select(Patient, Episode)
        .join(Episode, Episode.patient_id == Patient.id)
        .where(Patient.opted_out_at.is_not(None), active)
        .order_by(Patient.opted_out_at.desc(), Episode.id)
        .limit(limit)
    )
    out, seen = [], set()
    for patient, episode in session.execute(stmt):
        if patient.id in seen:
            continue
        seen.add(patient.id)
        out.append(WorklistItem(
            kind="opted_out", priority=PRIORITY["opted_out"], patient_id=patient.id, episode_id=episode.id,
            subject_id=patient.id, title="Opted out of texts during an episode",
            detail=f"No reminders will reach this patient (via {patient.opted_out_via or 'unknown'}); call instead",
            due_at=patient.opted_out_at, action="Call patient", patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def _from_untexted_last_doses(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    """Signed day-based holds whose last-dose day is today or yesterday and no text went or will go."""
    today = _today(env)
    stmt = (
        select(MedicationHold)
        .join(MedicationHold.episode)
        .join(Episode.patient)
        .options(contains_eager(MedicationHold.episode).contains_eager(Episode.patient))
        .where(MedicationHold.clearance == ClearanceStatus.APPROVED, MedicationHold.signed_at.is_not(None),
               MedicationHold.last_dose_on.between(today - timedelta(days=1), today),
               Episode.status == "scheduled", MedicationHold.removed_at.is_(None))
        .order_by(MedicationHold.last_dose_on)
        .limit(limit)
    )
    holds = list(session.scalars(stmt))
    if not holds:
        return []
    texted: set[tuple[int | None, str]] = set()
    rows = session.execute(select(Message.episode_id, Message.plan_key).where(
        Message.episode_id.in_({h.episode_id for h in holds}), Message.kind == "last_dose",
        Message.status != "cancelled"))
    for episode_id, plan_key in rows:
        texted.update((episode_id, ref) for ref in plan_key_refs(plan_key))
    out = []
    for hold in holds:
        if (hold.episode_id, hold.ref) in texted:
            continue
        patient = hold.episode.patient
        out.append(WorklistItem(
            kind="last_dose_not_texted", priority=PRIORITY["last_dose_not_texted"], patient_id=patient.id,
            episode_id=hold.episode_id, subject_id=hold.id, title="Last-dose text not sent",
            detail=f"{hold.drug_name}: last dose {_day(hold.last_dose_on) if hold.last_dose_on else ''}; "
                   "signed too late for a text that day (quiet hours) or after it: call the patient",
            due_at=_local_midnight(hold.last_dose_on, env) if hold.last_dose_on else None, action="Call patient",
            patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def _from_unconfirmed_stops(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    """Holds whose patient was asked whether they stopped the medicine and has not answered by
    the day before the procedure (patient-local): call them (``stop_unconfirmed``)."""
    stmt = (
        select(MedicationHold)
        .join(MedicationHold.episode)
        .join(Episode.patient)
        .options(contains_eager(MedicationHold.episode).contains_eager(Episode.patient))
        .where(MedicationHold.clearance == ClearanceStatus.APPROVED, MedicationHold.signed_at.is_not(None),
               MedicationHold.removed_at.is_(None), Episode.status == "scheduled",
               Episode.procedure_at > env.now, Episode.procedure_at <= env.now + timedelta(days=2))
        .order_by(Episode.procedure_at, MedicationHold.id)
        .limit(limit)
    )
    holds = []
    for hold in session.scalars(stmt):
        tz = ZoneInfo(hold.episode.patient.timezone)
        if env.now.astimezone(tz).date() >= hold.episode.procedure_at.astimezone(tz).date() - timedelta(days=1):
            holds.append(hold)
    if not holds:
        return []
    episode_ids = {h.episode_id for h in holds}
    asked: set[tuple[int | None, str]] = set()
    for episode_id, plan_key in session.execute(select(Message.episode_id, Message.plan_key).where(
            Message.episode_id.in_(episode_ids), Message.kind == "stop_confirm",
            Message.status.in_(("sent", "delivered")))):
        asked.update((episode_id, ref) for ref in plan_key_refs(plan_key))
    answered = set(session.scalars(select(Observation.hold_id).where(
        Observation.episode_id.in_(episode_ids), Observation.code == "stopped_medicine")))
    out = []
    for hold in holds:
        if (hold.episode_id, hold.ref) not in asked or hold.id in answered:
            continue
        patient = hold.episode.patient
        out.append(WorklistItem(
            kind="stop_unconfirmed", priority=PRIORITY["stop_unconfirmed"], patient_id=patient.id,
            episode_id=hold.episode_id, subject_id=hold.id, title="Stop not confirmed: call the patient",
            detail=f"{hold.drug_name}: the patient did not answer whether they stopped it; the procedure is "
                   f"{_day(hold.episode.procedure_at.astimezone(ZoneInfo(patient.timezone)).date())}. Call, and "
                   "record what they say (Observations: stopped the medicine)",
            due_at=hold.episode.procedure_at - timedelta(days=1), action="Call patient",
            patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def _from_missing_ends(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    """Procedures with a held medicine to restart, past their expected end plus the pathway's
    grace with no end recorded (episodes without such a hold keep the 12-hour overdue item)."""
    grace = env.rules.definition.end_missing_after
    if grace is None:
        return []
    restarts = exists().where(MedicationHold.episode_id == Episode.id, MedicationHold.restart_hours.is_not(None),
                              MedicationHold.removed_at.is_(None),
                              MedicationHold.clearance.not_in((ClearanceStatus.DECLINED, ClearanceStatus.NOT_REQUIRED)))
    stmt = (
        select(Episode, Patient)
        .join(Patient, Patient.id == Episode.patient_id)
        .where(Episode.status == "scheduled", Episode.ended_at.is_(None),
               Episode.procedure_at < env.now - grace,
               Episode.procedure_at >= env.now - timedelta(days=LOOKBACK_DAYS), restarts)
        .order_by(Episode.procedure_at)
        .limit(limit)
    )
    out = []
    for episode, patient in session.execute(stmt):
        expected_end = episode.procedure_at + timedelta(minutes=episode.duration_minutes)
        if expected_end + grace > env.now:
            continue
        out.append(WorklistItem(
            kind="procedure_end_missing", priority=PRIORITY["procedure_end_missing"], patient_id=patient.id,
            episode_id=episode.id, subject_id=episode.id, title="Procedure end not recorded",
            detail="The restart text for each held medicine is held until the procedure's end is recorded "
                   "(restarts count from the recorded end): record when the procedure ended",
            due_at=expected_end + grace, action="Record procedure end", patient_name=patient.display_name,
            mrn=patient.mrn,
        ))
    return out


# How far back a restart with no text stays on the worklist (a person calls well before).
RESTART_LOOKBACK_DAYS = 7


def _from_untexted_restarts(session: Session, env: Env, limit: int) -> list[WorklistItem]:
    """Signed holds whose restart moment, timed from the recorded end, has come with no restart
    text gone or going and the restart step not marked done."""
    stmt = (
        select(MedicationHold)
        .join(MedicationHold.episode)
        .join(Episode.patient)
        .join(Milestone, and_(Milestone.hold_id == MedicationHold.id, Milestone.kind == "restart"))
        .options(contains_eager(MedicationHold.episode).contains_eager(Episode.patient))
        .where(MedicationHold.clearance == ClearanceStatus.APPROVED, MedicationHold.signed_at.is_not(None),
               Episode.status == "completed", Episode.ended_at.is_not(None),
               MedicationHold.restart_at <= env.now,
               MedicationHold.restart_at > env.now - timedelta(days=RESTART_LOOKBACK_DAYS),
               Milestone.status.not_in(("done", "cancelled")))
        .order_by(MedicationHold.restart_at)
        .limit(limit)
    )
    holds = list(session.scalars(stmt))
    if not holds:
        return []
    texted: set[tuple[int | None, str]] = set()
    rows = session.execute(select(Message.episode_id, Message.plan_key).where(
        Message.episode_id.in_({h.episode_id for h in holds}), Message.kind == "restart",
        Message.status != "cancelled"))
    for episode_id, plan_key in rows:
        texted.update((episode_id, ref) for ref in plan_key_refs(plan_key))
    out = []
    for hold in holds:
        if (hold.episode_id, hold.ref) in texted:
            continue
        patient = hold.episode.patient
        out.append(WorklistItem(
            kind="restart_not_texted", priority=PRIORITY["restart_not_texted"], patient_id=patient.id,
            episode_id=hold.episode_id, subject_id=hold.id, title="Restart text not sent",
            detail=f"{hold.drug_name}: may restart from the recorded end plus {hold.restart_hours} h; no text "
                   "went (the end was recorded too late for one): call the patient about restarting",
            due_at=hold.restart_at, action="Call patient", patient_name=patient.display_name, mrn=patient.mrn,
        ))
    return out


def worklist(session: Session, env: Env, actor: Actor, *, limit: int = 200) -> list[WorklistItem]:
    """Everything that needs a person, most urgent first; at most ``limit`` items."""
    actor.require(*CARE_TEAM)
    limit = max(1, min(int(limit), 1000))
    tasks = (_from_tasks(session, env, limit) + _from_hold_risks(session, env, limit)
             + _from_unmatched_replies(session, env, limit))
    holds = _from_holds(session, env, limit)
    texts = _from_messages(session, env, limit)
    unbooked = _from_unbooked_follow_ups(session, env, limit)
    overdue = _from_milestones(session, env, limit)
    opted = _from_opt_outs(session, env, limit)
    ends = _from_missing_ends(session, env, limit)
    untexted = _from_untexted_last_doses(session, env, limit) + _from_untexted_restarts(session, env, limit)
    untexted += _from_unconfirmed_stops(session, env, limit)

    # One item per thing: a task, a hold or an unbooked follow-up already says what a
    # derived item would (a hold a move broke is shown once, as hold_at_risk).
    at_risk = {i.subject_id for i in tasks if i.kind == "hold_at_risk"}
    holds = [i for i in holds if i.subject_id not in at_risk]
    hold_ids = {i.subject_id for i in holds}
    hold_refs = {f"h{h}" for h in hold_ids}
    unbooked_episodes = {i.episode_id for i in unbooked}
    missing_end = {i.episode_id for i in ends}
    task_opt_out = {i.patient_id for i in tasks if i.kind == "opted_out"}
    kept_overdue = []
    for item, kind, ref in overdue:
        if kind == "hold_clearance" and ref in hold_refs:
            continue
        if kind == "follow_up" and item.episode_id in unbooked_episodes:
            continue
        if kind == "procedure" and item.episode_id in missing_end:
            continue
        kept_overdue.append(item)
    opted = [i for i in opted if i.patient_id not in task_opt_out]
    items = tasks + holds + texts + unbooked + kept_overdue + opted + ends + untexted
    items.sort(key=WorklistItem.sort_key)
    shown = items[:limit]
    audit(session, env, actor, "worklist.view", "worklist", None,
          detail={"patient_ids": sorted({i.patient_id for i in shown if i.patient_id is not None})})
    return shown

