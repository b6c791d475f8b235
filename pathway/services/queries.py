"""Read-side use cases for the staff pages and the API: a patient's record, an episode's
timeline, the outbox.

Each is a few bounded queries with eager loading (no N+1). Every time a patient's record or a
list of patients is shown to a person it is written to the audit table (who, what, when, from
where), like every change, by the function that reads it: a page and the API audit alike. A
page shown again with a form's errors shows the record again, so it is audited again. The
``load_*`` functions serve form pages that show only a name and are not audited.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pathway.models import Episode, Message, MessageEvent, Milestone, Observation, Patient, Reply, Task
from pathway.services.base import Actor, Env, NotFound, ValidationError, audit, get_or_404
from pathway.services.conversation import ThreadEntry, cannot_text, entries, limit_words
from pathway.services.episodes import CheckItem, Decision, decide, done_from, outside_window
from pathway.services.outcomes import OutcomeRow, outcome_rows
from pathway.services.patients import PatientList, find
from pathway.services.worklist import PERSON_OWNED_GRACE, milestone_overdue
from pathway.timeline.arrival import effective_arrival, name_left_out, place_words
from pathway.timeline.gonogo import Blocker
from pathway.timeline.vocabulary import CARE_TEAM, MessageKind, Role

# Statuses the outbox page filters on; "attention" = failed or unknown.
OUTBOX_FILTERS = ("scheduled", "sending", "sent", "delivered", "undelivered", "failed", "unknown",
                  "suppressed", "cancelled", "attention")
MESSAGE_KINDS = tuple(k.value for k in MessageKind)
# Milestones a person marks done on the episode page (the procedure is closed by its end time,
# a hold's clearance by recording the prescriber's answer), and the statuses they may be in.
COMPLETABLE = ("check_72h", "follow_up", "pt_start", "pre_procedure")
COMPLETABLE_FROM = ("planned", "due", "missed")


@dataclass
class PatientRecord:
    patient: Patient
    episodes: list[Episode]
    open_tasks: list[Task]


@dataclass(frozen=True)
class TimelineStep:
    """One milestone on the episode's timeline, as the episode page shows it."""

    milestone: Milestone
    when: datetime
    phase: str  # past | today | upcoming, in the clinic's day (a window: whether now is inside it)
    status: str  # the milestone's status, or "overdue" (worklist.milestone_overdue)
    label: str
    completable: bool  # a person may mark it done from the page
    done_from: datetime | None = None  # set while it may not be marked done yet (episodes.done_from)


@dataclass
class EpisodeRecord:
    episode: Episode
    patient: Patient
    messages: list[Message]
    replies: list[Reply]
    open_tasks: list[Task]
    checklist: list[CheckItem]
    timeline: list[TimelineStep] = field(default_factory=list)
    may_sign_holds: bool = False  # the viewer may record a prescriber's answer and sign the plan
    decision: Decision | None = None  # go / no go (episodes.decide), the same as the API's
    observations: list[Observation] = field(default_factory=list)  # pain scores, stopped medicines...
    outcomes: list[OutcomeRow] = field(default_factory=list)  # current outcome values (issue 12)
    # The day-before text's arrival (the episode's own or the default lead) and the place it names.
    arrival_at: datetime | None = None
    place_in_text: str = ""
    # Why the facility's name is not in that text (arrival.NAME_REVEALS / NAME_TOO_LONG), and the
    # characters the name and address line may take together there.
    name_left_out: str | None = None
    place_max_chars: int = 0
    thread: list[ThreadEntry] = field(default_factory=list)  # the conversation (conversation.entries)
    text_refusal: str | None = None  # why a one-off text cannot be sent now, if it cannot
    text_limit: str = ""  # the longest one-off text, in words

    @property
    def open(self) -> bool:
        """Changes are accepted (a cancelled episode takes none)."""
        return self.episode.status != "cancelled"

    @property
    def reschedulable(self) -> bool:
        return self.open and self.episode.ended_at is None

    @property
    def follow_up_outside_window(self) -> bool:
        """The booked follow-up visit falls outside its day 7-10 window (as the API's answer says)."""
        appt = self.episode.appointment("follow_up")
        return appt is not None and outside_window(self.episode, appt.appointment_at)

    @property
    def go(self) -> bool:
        return self.decision is not None and self.decision.go

    @property
    def blockers(self) -> list[Blocker]:
        return self.decision.blockers if self.decision is not None else []

    @property
    def episode_messages(self) -> list[Message]:
        """The texts of this episode alone (``messages`` also holds the patient's others)."""
        return [m for m in self.messages if m.episode_id == self.episode.id]


@dataclass(frozen=True)
class Fix:
    """What fixes a text that did not reach the patient, and where it is done."""

    words: str
    target: str  # edit_patient | episode | patient | none
    patient_id: int
    episode_id: int | None = None
    task_id: int | None = None


@dataclass
class OutboxPage:
    rows: list[tuple[Message, Patient]]
    history: dict[int, list[MessageEvent]]  # each shown message's delivery events, oldest first
    status: str | None
    offset: int
    limit: int
    has_next: bool
    fixes: dict[int, Fix] = field(default_factory=dict)  # each shown text that did not reach the patient
    patient: Patient | None = None  # the patient filtered on
    kind: str | None = None
    date_from: date | None = None  # days in the clinic's zone, both included
    date_to: date | None = None

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in (self.status, self.patient, self.kind, self.date_from, self.date_to))


def find_patients(session: Session, env: Env, actor: Actor, query: str, *, limit: int = 50) -> list[Patient]:
    """The first page of patients a query finds (audited), e.g. whom a reply concerns."""
    return [f.patient for f in patient_list(session, env, actor, query, limit=limit).rows]


def patient_list(session: Session, env: Env, actor: Actor, query: str, *, limit: int = 50,
                 offset: int = 0) -> PatientList:
    """A page of patients: those the query finds, or without one the active patients
    (``patients.find``). Pages and the API alike; the audit names the query and whom it showed."""
    actor.require(*CARE_TEAM)
    limit = max(1, min(int(limit), 500))
    offset = max(0, int(offset))
    found = find(session, query, limit=limit, offset=offset, now=env.now)
    # Like every list of patients, the audit names whom the list showed.
    audit(session, env, actor, "patient.search", "patient", None,
          detail={"query": query, "results": len(found.rows), "patient_ids": sorted(f.patient.id for f in found.rows)})
    return found


def form_viewed(session: Session, env: Env, actor: Actor, record: Patient | Episode, page: str) -> None:
    """Audit a form page that shows a patient's record (their name, details or procedure time):
    a view like any other, named by the page (``edit``, ``schedule``, ``reschedule``)."""
    actor.require(*CARE_TEAM)
    if isinstance(record, Patient):
        audit(session, env, actor, "patient.view", "patient", record.id, patient_id=record.id, detail={"page": page})
    else:
        audit(session, env, actor, "episode.view", "episode", record.id, patient_id=record.patient_id,
              detail={"page": page})


def _open_tasks(session: Session, patient_id: int, limit: int = 20) -> list[Task]:
    return list(session.scalars(
        select(Task).where(Task.patient_id == patient_id, Task.resolved_at.is_(None))
        .order_by(Task.priority, Task.created_at).limit(limit)
    ))


def patient_record(session: Session, env: Env, actor: Actor, patient_id: Any) -> PatientRecord:
    actor.require(*CARE_TEAM)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    episodes = list(session.scalars(
        select(Episode).where(Episode.patient_id == patient.id).order_by(Episode.procedure_at.desc()).limit(50)
    ))
    audit(session, env, actor, "patient.view", "patient", patient.id, patient_id=patient.id)
    return PatientRecord(patient, episodes, _open_tasks(session, patient.id))


def load_patient(session: Session, actor: Actor, patient_id: Any) -> Patient:
    """A patient for a form page; a page that shows the form audits it (``form_viewed``)."""
    actor.require(*CARE_TEAM)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    return patient


def load_episode(session: Session, actor: Actor, episode_id: Any) -> Episode:
    """An episode for a form page; a page that shows the form audits it (``form_viewed``)."""
    actor.require(*CARE_TEAM)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode")
    return episode


def episode_record(session: Session, env: Env, actor: Actor, episode_id: Any) -> EpisodeRecord:
    """An episode with its patient, texts, replies, tasks, checklist and timeline; audits the view."""
    actor.require(*CARE_TEAM)
    try:
        key = int(episode_id)
    except (TypeError, ValueError):
        raise NotFound("episode") from None
    episode = session.scalars(
        select(Episode).where(Episode.id == key).options(
            selectinload(Episode.patient), selectinload(Episode.holds), selectinload(Episode.all_holds),
            selectinload(Episode.milestones),
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
    audit(session, env, actor, "episode.view", "episode", episode.id, patient_id=patient.id)
    decision = decide(env, episode)
    place = (episode.facility, episode.facility_address, env.rules.definition.revealing_words)
    how: dict[str, Any] = {"detailed": patient.detailed_texts, "max_chars": env.rules.definition.place_max_chars}
    observations = list(session.scalars(select(Observation).where(Observation.episode_id == episode.id)
                                        .order_by(Observation.received_at, Observation.id)))
    return EpisodeRecord(episode, patient, messages, replies, _open_tasks(session, patient.id),
                         decision.checklist, timeline(env, episode, messages),
                         may_sign_holds=actor.role == Role.CLINICIAN, decision=decision,
                         arrival_at=effective_arrival(episode.procedure_at, episode.arrival_at,
                                                      env.rules.definition.arrival_before),
                         place_in_text=place_words(*place, **how), name_left_out=name_left_out(*place, **how),
                         place_max_chars=env.rules.definition.place_max_chars,
                         thread=entries(session, episode, messages), text_refusal=cannot_text(patient, episode),
                         text_limit=limit_words(env.rules.definition.staff_text_max_segments),
                         observations=observations, outcomes=outcome_rows(session, episode.id))


# What a step whose time has passed shows when it is not closed: never "due" (a past step is
# done, missed or overdue). Steps a person completes are overdue after their grace (the
# worklist's rule); a reminder step is done when its text went, missed when none will go.
_WENT = frozenset({"sent", "delivered"})
_WILL_NOT_GO = frozenset({"cancelled", "suppressed", "failed", "undelivered"})


def shown_status(milestone: Milestone, now: datetime, texts: Sequence[Message] = ()) -> str:
    """The status a person reads for a step: its stored status, unless its time has passed
    while it is still planned or due."""
    if milestone_overdue(milestone, now):
        return "overdue"
    status = milestone.status
    deadline = milestone.deadline
    if status not in ("planned", "due") or deadline is None or deadline > now:
        return status
    if milestone.kind in PERSON_OWNED_GRACE:
        return "due"  # within the grace a person has to close it (the worklist's rule): current, not past
    if any(t.status in _WENT for t in texts):
        return "done"
    if texts and all(t.status in _WILL_NOT_GO for t in texts):
        return "missed"
    return "overdue" if texts else "missed"


def timeline(env: Env, episode: Episode, messages: Sequence[Message] = ()) -> list[TimelineStep]:
    """The episode's milestones in time order, each marked past / today / upcoming, and with
    the status a person reads (``shown_status``)."""
    now = env.now
    texts: dict[int, list[Message]] = {}
    for msg in messages:
        if msg.milestone_id is not None:
            texts.setdefault(msg.milestone_id, []).append(msg)
    tz = env.rules.clinic.tz
    today = now.astimezone(tz).date()
    definition = env.rules.definition
    holds = {h.ref: h for h in episode.all_holds}  # a removed hold's steps still name its medicine
    steps = []
    for m in episode.milestones:
        when = m.due_at or m.window_start or m.window_end
        if when is None:
            continue
        if m.status == "done" and m.completed_at is not None and m.due_at is None:
            phase = "past"
        elif m.window_start is not None and m.window_end is not None and m.due_at is None:
            phase = "today" if m.window_start <= now < m.window_end else ("past" if m.window_end <= now else "upcoming")
        else:
            day = when.astimezone(tz).date()
            phase = "today" if day == today else ("past" if day < today else "upcoming")
        try:
            label = definition.milestone_label(m.kind)
        except KeyError:
            label = m.kind.replace("_", " ")
        hold = holds.get(m.ref)
        markable = episode.status != "cancelled" and m.kind in COMPLETABLE and m.status in COMPLETABLE_FROM
        opens = done_from(m)
        early = opens is not None and now < opens
        steps.append(TimelineStep(
            milestone=m, when=when, phase=phase,
            status=shown_status(m, now, texts.get(m.id, ())),
            label=(f"{label}: {hold.drug_name}" + (" (hold removed)" if hold.removed_at is not None else "")
                   if hold else label),
            completable=markable and not early,
            done_from=opens if markable and early else None,
        ))
    steps.sort(key=lambda s: (s.when, s.milestone.id))
    return steps


def _day(raw: Any, name: str) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError({name: "must be a date, e.g. 2027-03-10"}) from None


def outbox(
    session: Session, env: Env, actor: Actor, *, status: str | None = None, limit: int = 50, offset: int = 0,
    patient_id: Any = None, kind: str | None = None, date_from: Any = None, date_to: Any = None,
) -> OutboxPage:
    """Texts across patients, newest first (scheduled ones soonest first), one page at a time.

    Filters: ``status`` (one of ``OUTBOX_FILTERS``), ``patient_id``, ``kind`` (a MessageKind),
    ``date_from``/``date_to``: days of the send time in the clinic's zone, both included. A bad
    filter is a ValidationError naming it. Each shown text that did not reach the patient carries
    what fixes it (``Fix``)."""
    actor.require(*CARE_TEAM)
    status = (status or "").strip() or None
    if status is not None and status not in OUTBOX_FILTERS:
        raise ValidationError({"status": f"must be one of {', '.join(OUTBOX_FILTERS)}"})
    kind = (kind or "").strip() or None
    if kind is not None and kind not in MESSAGE_KINDS:
        raise ValidationError({"kind": f"must be one of {', '.join(MESSAGE_KINDS)}"})
    first, last = _day(date_from, "from"), _day(date_to, "to")
    if first is not None and last is not None and last < first:
        raise ValidationError({"to": "must be on or after the first day"})
    patient = None
    if patient_id not in (None, ""):
        patient = get_or_404(session, Patient, patient_id, "patient")
    limit = max(1, min(int(limit), 200))
    offset = max(0, int(offset))
    stmt = select(Message, Patient).join(Patient, Patient.id == Message.patient_id)
    if status == "attention":
        stmt = stmt.where(Message.status.in_(("failed", "unknown")))
    elif status is not None:
        stmt = stmt.where(Message.status == status)
    if patient is not None:
        stmt = stmt.where(Message.patient_id == patient.id)
    if kind is not None:
        stmt = stmt.where(Message.kind == kind)
    tz = env.rules.clinic.tz
    if first is not None:
        stmt = stmt.where(Message.send_at >= datetime.combine(first, time(0), tz).astimezone(UTC))
    if last is not None:
        stmt = stmt.where(Message.send_at < datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC))
    if status == "scheduled":
        stmt = stmt.order_by(Message.send_at, Message.id)
    else:
        stmt = stmt.order_by(Message.send_at.desc(), Message.id.desc())
    rows = [(m, p) for m, p in session.execute(stmt.limit(limit + 1).offset(offset))]
    shown = rows[:limit]
    history: dict[int, list[MessageEvent]] = {}
    if shown:
        for ev in session.scalars(select(MessageEvent).where(MessageEvent.message_id.in_([m.id for m, _ in shown]))
                                  .order_by(MessageEvent.id)):
            history.setdefault(ev.message_id, []).append(ev)
    audit(session, env, actor, "outbox.view", "outbox", None,
          detail={"patient_ids": sorted({p.id for _, p in shown})})
    return OutboxPage(rows=shown, history=history, status=status, offset=offset, limit=limit,
                      has_next=len(rows) > limit, fixes=_fixes(session, shown), patient=patient, kind=kind,
                      date_from=first, date_to=last)


# Texts that did not reach the patient (a text "unknown" is being checked with the provider).
NOT_DELIVERED = ("failed", "undelivered")


def _fixes(session: Session, shown: list[tuple[Message, Patient]]) -> dict[int, Fix]:
    """What fixes each failed or undelivered text (the dispatcher and the status callbacks open
    the tasks, pathway/dispatch/outbox.py and services/delivery.py):

    - the patient opted out (STOP, carrier 21610): texts cannot reach them; the "opted out" task
      says to reach them by phone for the rest of the pathway;
    - the number cannot take texts (a permanent refusal, a landline, an unknown or unreachable
      handset): the phone was flagged; correcting the mobile number clears the flag, and the new
      number gets the enrolment text;
    - anything else (given up after retries, filtered by the carrier): the text's task says to
      call the patient."""
    failed = [(m, p) for m, p in shown if m.status in NOT_DELIVERED]
    if not failed:
        return {}
    subjects = {f"message:{m.id}" for m, _ in failed} | {f"patient:{p.id}" for _, p in failed}
    tasks = {t.subject: t for t in session.scalars(
        select(Task).where(Task.subject.in_(subjects), Task.resolved_at.is_(None)))}
    fixes: dict[int, Fix] = {}
    for m, p in failed:
        if p.opted_out_at is not None:
            task = tasks.get(f"patient:{p.id}")
            fixes[m.id] = Fix("The patient opted out of texts: call them instead", "episode" if m.episode_id
                              else "patient", p.id, m.episode_id, task.id if task else None)
        elif p.phone_flagged_at is not None:
            fixes[m.id] = Fix("The number cannot take texts: correct the mobile number", "edit_patient", p.id)
        else:
            task = tasks.get(f"message:{m.id}")
            fixes[m.id] = Fix("Call the patient", "episode" if m.episode_id else "patient", p.id, m.episode_id,
                              task.id if task else None)
    return fixes


# --- what changed since a page was loaded (optimistic concurrency) -------------------------


def _when(at: datetime | None, tz: ZoneInfo) -> str:
    if at is None:
        return "not set"
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M %Z}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def patient_snapshot(p: Patient) -> dict[str, str]:
    """What a page shows of a patient's details, by label: kept in the page's form (``seen``), so
    a change refused as stale can say which of them someone else changed, old and new."""
    return {
        "Given name": p.given_name, "Family name": p.family_name, "Mobile phone": p.phone,
        "Time zone": p.timezone, "Language of texts": p.language, "Detailed texts": _yes(p.detailed_texts),
        "Consent to texts": f"yes ({p.sms_consent_method or 'recorded'})" if p.sms_consent_at else "no",
        "Opted out": f"yes ({p.opted_out_via or 'recorded'})" if p.opted_out_at else "no",
    }


def episode_snapshot(e: Episode) -> dict[str, str]:
    """What the episode page shows of an episode, its holds and appointments, by label (see
    ``patient_snapshot``)."""
    tz = ZoneInfo(e.patient.timezone)
    snap = {
        "Status": e.status, "Procedure": _when(e.procedure_at, tz), "Procedure ended": _when(e.ended_at, tz),
        "Facility": e.facility or "-", "Facility address": e.facility_address or "-",
        "Arrival": _when(e.arrival_at, tz) if e.arrival_at else "the usual time",
        "Proceduralist": e.proceduralist or "-", "Levels": e.levels or "-",
        "MRI reviewed on": e.mri_reviewed_on.isoformat() if e.mri_reviewed_on else "not set",
        "Tried physical therapy": _yes(e.tried_pt), "Tried medication": _yes(e.tried_medication),
        "Tried injections": _yes(e.tried_injections), "Escort arranged": _yes(e.escort_arranged),
    }
    for h in e.all_holds:
        if h.removed_at is not None:
            state = "removed"
        else:
            parts = [f"clearance {h.clearance.replace('_', ' ')}", "signed" if h.signed_at else "not signed"]
            if h.patient_label:
                parts.append(f"called \"{h.patient_label}\"")
            if h.inr_value is not None:
                parts.append(f"INR {h.inr_value}")
            state = ", ".join(parts)
        snap[f"{h.drug_name} hold"] = state
    for a in e.appointments:
        if a.status != "cancelled":
            label = "Follow-up visit" if a.kind == "follow_up" else "PT start"
            snap[label] = f"{_when(a.appointment_at, tz)} ({a.status})"
    done = sorted(m.kind.replace("_", " ") for m in e.milestones if m.status == "done")
    snap["Steps done"] = ", ".join(done) or "none"
    return snap


def what_changed(seen: str | None, now: dict[str, str]) -> list[tuple[str, str, str]]:
    """(label, as the page showed it, as it is now) for each detail that differs. ``seen`` is the
    page's own copy (JSON); a missing or unreadable one shows every detail as it is now."""
    try:
        before = json.loads(seen or "{}")
    except ValueError:
        before = {}
    if not isinstance(before, dict):
        before = {}
    labels = [*now, *(k for k in before if k not in now)]
    pairs = [(k, str(before.get(k, "-")), now.get(k, "-")) for k in labels]
    return [(k, old, new) for k, old, new in pairs if old != new]


def snapshot_json(snap: dict[str, str]) -> str:
    return json.dumps(snap, ensure_ascii=False, separators=(",", ":"))


def seen_of(record: Patient | Episode) -> str:
    """The ``seen`` copy a page's form keeps of the record it was made from."""
    return snapshot_json(patient_snapshot(record) if isinstance(record, Patient) else episode_snapshot(record))


def changed_since(record: Patient | Episode, seen: str | None) -> list[tuple[str, str, str]]:
    return what_changed(seen, patient_snapshot(record) if isinstance(record, Patient) else episode_snapshot(record))
