"""Outcomes (issue 12): measures at the pathway's time points, recorded by staff or asked by text.

Recording: ``POST /episodes/<id>/outcomes`` and the episode page's outcome form store one value of
a measure (nprs, walk_minutes, stand_minutes, odi, zcq_symptom, global_change) at a time point,
through the one writer of observations (``observations.add_observation``): a later value for the
same episode, time point and measure replaces the current one, which stays in the history.

Asking by text: at each time point the pathway file marks ``asked_by_text`` the patient is asked,
one question a text, the measures its ``asks`` lists in order (as shipped: their pain (nprs), how
long they can walk (walk_minutes) and, from six weeks on, how they are overall (global_change,
1-7)). The first question goes at the ``outcome``
send rule's local time on the time point's day (the baseline at enrolment, or when its window
opens, while the procedure is ahead); the next once the previous is answered; one reminder
``[answers] answer_window_hours`` after a question nobody answered, and after an unanswered
reminder nothing more at that time point. Never while another question is open (a reply must
answer one question), never outside the time point's window, never to a patient without consent
or who opted out, never for a cancelled episode; quiet hours move a text to their end. At 72 hours
the 72-hour check asks the pain: walking is asked once it is answered.

At send time a question (or its reminder) that waited past its time point's window (a worker
stopped for days; patient-local dates from the procedure's local date) is cancelled, as one whose
quiet hours last until the window closes. A question that never reached the patient (failed,
suppressed, undelivered, or too late for its window) ends the time point's texting and puts one
low-priority ``outcome_not_asked`` item per episode and time point on the worklist (:func:`not_asked`):
a person asks it at a call or records it at the next visit.

A reply that only acknowledges ("ok", "thanks", "👍", "gracias": answers.toml [acknowledgement]) is
no answer: the question stays open, is not asked again, and opens no item (``replies``); except
from the procedure day to ``[timing] read_replies_days_after`` days after it, when every reply is
read by a person (the 72-hour and follow-up questions), and for a yes/no question.

Staff and patients recording the same measure: a value a person records (visit, phone) cancels
that measure's question at that time point while it is still waiting to be sent, and the time
point's next question follows (:func:`cancel_waiting`; a value recorded through the observations
API is caught at send time). A question already sent stays open: if the patient answers it after
the person recorded the value, the patient's answer is the last entry and becomes the current
value (the person's stays in the history), as with any two entries.

:func:`ask_due` runs in the worker's housekeeping tick; :func:`ask_next` also runs at once when an
episode is scheduled and when a patient's answer is stored, so the next question does not wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, contains_eager

from pathway.models import Episode, Message, Observation, Patient, Task
from pathway.schemas.fields import Context
from pathway.schemas.inputs import OutcomeIn
from pathway.services import outbox, questions
from pathway.services.answer_reader import load_answers
from pathway.services.base import Actor, Env, ValidationError, audit, get_or_404, read_input
from pathway.services.observations import add_observation
from pathway.services.tasks import open_task
from pathway.timeline import text_context
from pathway.timeline.definition import PathwayDefinition, TimePoint
from pathway.timeline.localtime import at_local, local_date
from pathway.timeline.vocabulary import (
    AT_72H,
    BASELINE,
    CARE_TEAM,
    OUTCOME_MEASURES,
    TIME_POINTS,
    EpisodeStatus,
    MessageKind,
    MessageStatus,
    ObservationCode,
)

# A question text still waiting or on its way: the sequence waits for it.
PENDING = (MessageStatus.SCHEDULED, MessageStatus.SENDING, MessageStatus.UNKNOWN)
# A question text that went out.
ASKED = (MessageStatus.SENT, MessageStatus.DELIVERED)


def text_measures(tp: TimePoint) -> tuple[str, ...]:
    """The measures a time point asks by text, in order (`[[time_point]] asks`; none when staff
    enter it)."""
    return tp.asks if tp.asked_by_text else ()


# --- recording ---------------------------------------------------------------------------------


def record_outcome(session: Session, env: Env, actor: Actor, episode_id: Any,
                   data: Mapping[str, Any] | OutcomeIn) -> Observation:
    """A person records an outcome at a time point (the API's POST, the episode page's form).

    Coordinators and clinicians both may: coordinators make the follow-up calls and clinicians
    see the patient at the visit, and the ODI and ZCQ totals are scored by whoever gave the
    clinic's form. Audited, with the value it replaced."""
    actor.require(*CARE_TEAM)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode", lock=True)
    form = read_input(OutcomeIn, data, Context(now=env.now, tz=ZoneInfo(episode.patient.timezone)))
    code = load_answers().codes[form.measure]
    why = code.check(form.value)
    if why:
        raise ValidationError({"value": f"{why} for {form.measure}"})
    assert form.recorded_at is not None
    obs = add_observation(session, env, episode, form.measure, form.value, time_point=form.time_point,
                          received_at=form.recorded_at, source=form.source, recorded_by_id=actor.user_id)
    if form.time_point is not None and cancel_waiting(session, env, episode, form.time_point, form.measure,
                                                      actor.label):
        ask_next(session, env, episode)  # the time point's next question, if any, goes instead
    replaced = session.scalar(select(Observation.id).where(Observation.superseded_by_id == obs.id))
    audit(session, env, actor, "outcome.record", "observation", obs.id, patient_id=episode.patient_id,
          detail={"episode_id": episode.id, "measure": obs.code, "time_point": obs.time_point,
                  "value": str(obs.value), "source": obs.source, "replaced_id": replaced})
    return obs


@dataclass(frozen=True)
class OutcomeRow:
    """The current value of a measure at a time point, its change from the baseline, and the
    values it replaced (newest first)."""

    current: Observation
    label: str
    change_from_baseline: Decimal | None
    history: tuple[Observation, ...]


def outcome_rows(session: Session, episode_id: int) -> list[OutcomeRow]:
    """Every measure's current value at every time point, in time-point then measure order."""
    rows = list(session.scalars(select(Observation).where(
        Observation.episode_id == episode_id, Observation.time_point.is_not(None),
        Observation.code.in_(list(OUTCOME_MEASURES))).order_by(Observation.id)))
    current: dict[tuple[str, str], Observation] = {}
    replaced: dict[tuple[str, str], list[Observation]] = {}
    for o in rows:
        key = (o.time_point or BASELINE, o.code)
        if o.superseded_at is None:
            current[key] = o
        else:
            replaced.setdefault(key, []).append(o)
    codes = load_answers().codes
    order: dict[str, int] = {str(code): n for n, code in enumerate(OUTCOME_MEASURES)}
    out = []
    for (tp, code), obs in sorted(current.items(), key=lambda kv: (TIME_POINTS.index(kv[0][0]), order[kv[0][1]])):
        base = current.get((BASELINE, code))
        change = obs.value - base.value if base is not None and tp != BASELINE else None
        history = sorted(replaced.get((tp, code), []), key=lambda o: (o.superseded_at, o.id), reverse=True)
        out.append(OutcomeRow(obs, codes[code].label, change, tuple(history)))
    return out


def list_outcomes(session: Session, env: Env, actor: Actor, episode_id: Any) -> list[OutcomeRow]:
    """What ``GET /episodes/<id>/outcomes`` answers (audited, as every view of a patient's record)."""
    actor.require(*CARE_TEAM)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode")
    audit(session, env, actor, "outcome.list", "episode", episode.id, patient_id=episode.patient_id)
    return outcome_rows(session, episode.id)


def measure_choices() -> list[tuple[str, str]]:
    """(code, label) of every outcome measure, for a form."""
    codes = load_answers().codes
    return [(str(code), codes[code].label) for code in OUTCOME_MEASURES]


def outcome_row(session: Session, obs: Observation) -> OutcomeRow:
    """The row of one just-recorded value."""
    return next(r for r in outcome_rows(session, obs.episode_id) if r.current.id == obs.id)


# --- asking by text ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    """When a time point's questions may go: from `start` (the first one's nominal moment) to `end`."""

    tp: TimePoint
    start: datetime
    end: datetime


def window_end(tp: TimePoint, procedure_at: datetime, tz: ZoneInfo) -> datetime:
    """When a time point's window closes: the start of the patient-local day after its
    ``window_end_day`` (days from the procedure's local date); the baseline's at the procedure."""
    if tp.code == BASELINE:
        return procedure_at
    return at_local(local_date(procedure_at, tz) + timedelta(days=tp.window_end_day + 1), time(0, 0), tz)


def question_window_end(definition: PathwayDefinition, msg: Any, procedure_at: datetime,
                        tz: ZoneInfo) -> datetime | None:
    """When an outcome question text (a message or a claimed row: its kind and plan key) is too
    late to go: its time point's window closed. None for any other text."""
    question = questions.question_of(msg) if msg.kind == MessageKind.OUTCOME else None
    if question is None or question.time_point is None:
        return None
    try:
        tp = definition.time_point(question.time_point)
    except KeyError:
        return None
    return window_end(tp, procedure_at, tz)


def _periods(env: Env, episode: Episode, tz: ZoneInfo) -> list[_Period]:
    definition = env.rules.definition
    ask_at: time | None = definition.rule(MessageKind.OUTCOME).local_time
    assert ask_at is not None
    day = local_date(episode.procedure_at, tz)
    out = []
    for tp in definition.time_points:
        if not text_measures(tp):
            continue
        if tp.code == BASELINE:
            # At enrolment, or when the window opens if enrolled earlier; until the procedure starts.
            start = max(episode.created_at, at_local(day + timedelta(days=tp.window_start_day), ask_at, tz))
            end = episode.procedure_at
        else:
            start = at_local(day + timedelta(days=tp.day), ask_at, tz)
            end = window_end(tp, episode.procedure_at, tz)
        out.append(_Period(tp, start, end))
    return out


def ask_next(session: Session, env: Env, episode: Episode) -> Message | None:
    """Queue the episode's next outcome question (or reminder) if one is due now; None otherwise."""
    if episode.status == EpisodeStatus.CANCELLED or not episode.patient.can_text:
        return None
    tz = ZoneInfo(episode.patient.timezone)
    now = env.now
    for period in _periods(env, episode, tz):
        if period.start <= now < period.end:
            due = _step(session, env, episode, period)
            if due is None:
                return None
            if questions.open_question(session, env, episode) is not None:
                return None  # one question at a time: a reply must answer one question
            code, key, reason = due
            return _queue(session, env, episode, period, code, key, reason)
    return None


def _sent(session: Session, patient_id: int, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.patient_id == patient_id, Message.plan_key == key)
                          .order_by(Message.id.desc()).limit(1))


def _step(session: Session, env: Env, episode: Episode, period: _Period) -> tuple[str, str, str] | None:
    """The time point's next text, as (measure, plan key, why): the first measure without a value
    is asked, or reminded once; None while waiting, or when the time point has nothing more to ask."""
    tp = period.tp
    for code in text_measures(tp):
        if session.scalar(select(Observation.id).where(
                Observation.episode_id == episode.id, Observation.time_point == tp.code,
                Observation.code == code, Observation.superseded_at.is_(None)).limit(1)) is not None:
            continue
        if tp.code == AT_72H and code == ObservationCode.NPRS:
            return None  # the 72-hour check asks it; walking is asked once it is answered
        key = questions.outcome_key(episode.id, tp.code, code)
        first = _sent(session, episode.patient_id, key)
        if first is None:
            return code, key, "outcome question due"
        if first.status in PENDING:
            return None
        if first.status not in ASKED or first.sent_at is None:
            return None  # it never reached the patient (suppressed, failed): a person follows up
        reminder_key = questions.outcome_key(episode.id, tp.code, code, reminder=True)
        if _sent(session, episode.patient_id, reminder_key) is None:
            if env.now >= first.sent_at + env.rules.definition.answer_window:
                return code, reminder_key, "no answer: one reminder"
            return None
        return None  # reminded once: waiting for the answer, or nothing more at this time point
    return None


def _queue(session: Session, env: Env, episode: Episode, period: _Period, code: str, key: str,
           reason: str) -> Message | None:
    patient = episode.patient
    tz = ZoneInfo(patient.timezone)
    send_at = env.rules.quiet.next_allowed(env.now, tz)
    if send_at >= period.end:
        return None  # quiet hours last until the window closes (a baseline: until the procedure)
    msg = Message(patient_id=patient.id, episode_id=episode.id, kind=MessageKind.OUTCOME, language=patient.language,
                  body=_words(env, patient, code), plan_key=key, send_at=send_at, attempts=0, created_at=env.now)
    outbox.record(session, msg, outbox.Scheduled(f"{reason} ({period.tp.code}, {code})"), now=env.now,
                  source="plan")
    return msg


def _words(env: Env, patient: Patient, code: str) -> str:
    """The question's text in the patient's language (the pain question is the plain template)."""
    context = text_context({}, lang=patient.language, tz=ZoneInfo(patient.timezone), detailed=patient.detailed_texts,
                           clinic_name=env.rules.clinic.name, clinic_phone=env.rules.clinic.phone)
    variant = "" if code == ObservationCode.NPRS else code
    return env.rules.templates.render(MessageKind.OUTCOME, patient.language, context, variant)


RECORDED = "not sent: a person recorded this value"


def cancel_waiting(session: Session, env: Env, episode: Episode, time_point: str, code: str, actor: str) -> int:
    """A person recorded ``code`` at ``time_point``: its question (or reminder) still waiting to be
    sent is not sent. One already sent stays open: the patient's later answer is the last entry,
    and wins. Returns how many were cancelled."""
    keys = [questions.outcome_key(episode.id, time_point, code, reminder=r) for r in (False, True)]
    return len(outbox.record_where(session, outbox.Cancelled(RECORDED), expect=MessageStatus.SCHEDULED,
                                   where=(Message.patient_id == episode.patient_id) & Message.plan_key.in_(keys),
                                   now=env.now, source="plan", actor=actor))


NOT_ASKED = "outcome_not_asked"


def not_asked(session: Session, env: Env, msg: Any) -> Task | None:
    """A time point's question never reached the patient (failed, suppressed, undelivered, or too
    late for its window): its texting ends there, so a person asks at a call or the next visit.
    One worklist item per episode and time point, however many of its texts did not go (and not
    again once a person resolved it); none for a reminder (the question itself went), a baseline
    (it cannot be asked after the procedure) or a cancelled episode. ``msg``: a message or a
    claimed row (its id, kind, plan key, patient and episode)."""
    if msg.kind != MessageKind.OUTCOME or msg.episode_id is None or msg.plan_key.endswith(f":{questions.REMINDER}"):
        return None
    question = questions.question_of(msg)
    if question is None or question.time_point in (None, BASELINE):
        return None
    episode = session.get(Episode, msg.episode_id)
    if episode is None or episode.status == EpisodeStatus.CANCELLED:
        return None
    subject = f"{MessageKind.OUTCOME}:{episode.id}:{question.time_point}"
    if session.scalar(select(Task.id).where(Task.kind == NOT_ASKED, Task.subject == subject).limit(1)) is not None:
        return None
    try:
        label = env.rules.definition.time_point(question.time_point).label
    except KeyError:
        label = question.time_point
    return open_task(session, env, NOT_ASKED, subject,
                     f"The patient could not be asked their {label} outcome by text: ask it when you call, or "
                     "record it at the next visit", patient_id=msg.patient_id, episode_id=episode.id,
                     message_id=msg.id)


def reword_waiting(session: Session, env: Env, patient: Patient) -> None:
    """An outcome question still waiting (quiet hours) is re-worded in the patient's language
    after a change (it is in no plan, so a re-plan does not see it)."""
    for msg in session.scalars(select(Message).where(Message.patient_id == patient.id,
                                                     Message.kind == MessageKind.OUTCOME,
                                                     Message.status == MessageStatus.SCHEDULED)):
        question = questions.question_of(msg)
        if question is not None:
            session.execute(update(Message).where(Message.id == msg.id, Message.status == MessageStatus.SCHEDULED)
                            .values(body=_words(env, patient, question.code), language=patient.language)
                            .execution_options(synchronize_session="fetch"))


def ask_due(session: Session, env: Env) -> int:
    """The housekeeping tick: queue every outcome question or reminder due now. Returns how many."""
    definition = env.rules.definition
    first = min((t.window_start_day for t in definition.time_points), default=0)
    last = max((t.window_end_day for t in definition.time_points), default=0)
    near = select(Episode).join(Patient, Patient.id == Episode.patient_id).options(
        contains_eager(Episode.patient)).where(
        Episode.status != EpisodeStatus.CANCELLED, Patient.sms_consent_at.is_not(None),
        Patient.opted_out_at.is_(None), Patient.phone_flagged_at.is_(None),
        Episode.procedure_at >= env.now - timedelta(days=last + 2),
        Episode.procedure_at <= env.now + timedelta(days=-first + 2)).order_by(Episode.id)
    queued = 0
    for episode in session.scalars(near):
        if ask_next(session, env, episode) is not None:
            queued += 1
    return queued


__all__ = ["NOT_ASKED", "RECORDED", "OutcomeRow", "ask_due", "ask_next", "cancel_waiting", "list_outcomes",
           "measure_choices", "not_asked", "outcome_row", "outcome_rows", "question_window_end", "record_outcome",
           "reword_waiting", "text_measures", "window_end"]
