"""The conversation with a patient about an episode, and the one-off texts a person sends.

The thread is every text that went (or is going) to the patient, every reply they sent, and
every note a person wrote when they dealt with a reply (a red flag's resolution), in time
order. A one-off text is typed by a coordinator or clinician; it goes through the outbox like
any planned text (the dispatcher sends it and re-checks consent and opt-out at send time),
waits for the patient's quiet hours to end unless marked urgent, and is refused when it is
longer than the pathway file's ``[staff_text] max_segments``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pathway.models import Episode, Message, Patient, Reply, Task, User
from pathway.schemas.inputs import StaffTextIn
from pathway.services import outbox
from pathway.services.base import Actor, Conflict, Env, ValidationError, audit, get_or_404, read_input
from pathway.services.reply_reader import read_reply
from pathway.timeline import AmbiguousDrug
from pathway.timeline.texts import SegmentInfo, segments
from pathway.timeline.vocabulary import CARE_TEAM, MessageKind, MessageStatus

# Planned texts still waiting, or that never went, are the timeline's business, not the
# conversation's; a one-off text a person typed is shown whatever became of it.
_NOT_SENT = (MessageStatus.SCHEDULED, MessageStatus.CANCELLED, MessageStatus.SUPPRESSED)
THREAD_LIMIT = 300  # entries of each sort read for one thread (a pathway has a few dozen)


@dataclass(frozen=True)
class ThreadEntry:
    """One entry of the thread: exactly one of ``message``, ``reply`` and ``task`` is set."""

    type: str  # text | reply | note
    at: datetime
    message: Message | None = None
    reply: Reply | None = None
    task: Task | None = None
    red_flag_groups: tuple[str, ...] = ()
    open_task_id: int | None = None
    by: str | None = None  # the user who typed the text or wrote the note


@dataclass(frozen=True)
class Thread:
    episode: Episode
    patient: Patient
    entries: list[ThreadEntry] = field(default_factory=list)


def _shown(msg: Message) -> bool:
    return msg.kind == MessageKind.STAFF or msg.status not in _NOT_SENT


def _when(msg: Message) -> datetime:
    return msg.sent_at or msg.attempt_started_at or msg.send_at


def entries(session: Session, episode: Episode, messages: Sequence[Message] | None = None) -> list[ThreadEntry]:
    """The thread of ``episode``'s patient about it (and about nothing in particular: the
    enrolment text, a reply before any episode), oldest first. ``messages``: the texts already
    loaded with their events (the episode page has them), else they are read here."""
    patient_id = episode.patient_id
    about = (Message.episode_id == episode.id) | Message.episode_id.is_(None)
    if messages is None:
        messages = list(session.scalars(
            select(Message).where(Message.patient_id == patient_id, about)
            .options(selectinload(Message.events)).order_by(Message.send_at, Message.id).limit(THREAD_LIMIT)))
    replies = list(session.scalars(
        select(Reply).where(Reply.patient_id == patient_id,
                            (Reply.episode_id == episode.id) | Reply.episode_id.is_(None))
        .order_by(Reply.received_at, Reply.id).limit(THREAD_LIMIT)))
    tasks = list(session.scalars(
        select(Task).where(Task.reply_id.in_([r.id for r in replies])).order_by(Task.id))) if replies else []
    people = {m.created_by_id for m in messages if m.created_by_id} | {t.resolved_by_id for t in tasks
                                                                        if t.resolved_by_id}
    names = {u.id: u.name or u.email for u in session.scalars(select(User).where(User.id.in_(people)))} if people \
        else {}
    out: list[ThreadEntry] = []
    for msg in messages:
        if _shown(msg) and (msg.episode_id in (episode.id, None)):
            out.append(ThreadEntry("text", _when(msg), message=msg, by=names.get(msg.created_by_id or 0)))
    open_by_reply = {t.reply_id: t.id for t in tasks if t.resolved_at is None}
    for reply in replies:
        groups = read_reply(reply.body).groups if reply.classification == "red_flag" else ()
        out.append(ThreadEntry("reply", reply.received_at, reply=reply, red_flag_groups=groups,
                               open_task_id=open_by_reply.get(reply.id)))
    for task in tasks:
        if task.resolved_at is not None:
            out.append(ThreadEntry("note", task.resolved_at, task=task, by=names.get(task.resolved_by_id or 0)))
    order = {"reply": 0, "note": 1, "text": 2}  # at the same moment: the reply, what was done, the answer
    out.sort(key=lambda e: (e.at, order[e.type]))
    return out


def thread(session: Session, env: Env, actor: Actor, episode_id: Any) -> Thread:
    """The conversation about an episode (audited: it shows the patient's words)."""
    actor.require(*CARE_TEAM)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode")
    audit(session, env, actor, "episode.thread", "episode", episode.id, patient_id=episode.patient_id)
    return Thread(episode, episode.patient, entries(session, episode))


# --- one-off texts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffText:
    """A one-off text, checked (and, unless previewed, stored)."""

    episode: Episode
    body: str
    urgent: bool
    info: SegmentInfo
    max_segments: int
    send_at: datetime
    message: Message | None  # None for a preview
    # Words that name a medicine, a diagnosis or the procedure (see `identifying_words`).
    names: tuple[str, ...] = ()

    @property
    def waits_for_quiet_hours(self) -> bool:
        return not self.urgent and self.message is not None and self.send_at > self.message.created_at


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def identifying_words(env: Env, body: str) -> tuple[str, ...]:
    """The words of ``body`` that name a medicine the catalogue knows (a brand, a generic, a common
    misspelling) or a diagnosis or the procedure (`[staff_text] identifying_words`), as written:
    what a text to a patient without detailed texts should not carry."""
    found: list[str] = []
    catalogue = env.rules.catalogue
    for word in dict.fromkeys(re.findall(r"[^\W\d_]{4,}", body)):
        try:
            named = catalogue.find(word) is not None
        except AmbiguousDrug:  # a plain name with several regimens ("aspirin") is still a medicine
            named = True
        except ValueError:
            named = False
        if named:
            found.append(word)
    folded = _fold(body)
    for term in env.rules.definition.staff_text_identifying_words:
        exact = term.isupper()
        hit = re.search(rf"\b{re.escape(term if exact else _fold(term))}\b", body if exact else folded)
        if hit is not None and term not in found:
            found.append(hit.group(0) if exact else term)
    return tuple(w for w in found if not any(w != other and _fold(w) in _fold(other) for other in found))


def limit_words(max_segments: int) -> str:
    """The limit as a person reads it: '3 SMS segments (459 characters, or 201 with accents or emoji)'."""
    return (f"{max_segments} SMS segment{'s' if max_segments != 1 else ''} ({_capacity('GSM-7', max_segments)} "
            f"characters, or {_capacity('UCS-2', max_segments)} with accented letters or emoji)")


def _capacity(encoding: str, n: int) -> int:
    single, part = (160, 153) if encoding == "GSM-7" else (70, 67)
    return single if n == 1 else part * n


def cannot_text(patient: Patient, episode: Episode) -> str | None:
    """Why the patient cannot be texted now, in words that say what to do instead."""
    if episode.status == "cancelled":
        return "this episode is cancelled and the patient was told: call them instead of texting"
    if patient.opted_out_at is not None:
        return "the patient opted out of texts (they replied STOP or asked to stop): call them instead"
    if patient.sms_consent_at is None:
        return "the patient has not consented to texts: record their consent first, or call them"
    if patient.phone_flagged_at is not None:
        return "the patient's phone number was refused by the carrier: correct the number, or call them"
    return None


def send_staff_text(session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any], *,
                    preview: bool = False, key: str | None = None) -> StaffText:
    """Put a one-off text to the episode's patient in the outbox (or, with ``preview``, say what
    would go and when, storing nothing). ``key``: a page's one-time form key, so a form sent twice
    (a double click, a reload) stores one text."""
    actor.require(*CARE_TEAM)
    form = read_input(StaffTextIn, data)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode", lock=not preview)
    patient = episode.patient
    max_segments = env.rules.definition.staff_text_max_segments
    info = segments(form.body)
    if info.segments > max_segments:
        raise ValidationError({"body": f"too long: {info.segments} SMS segments ({info.units} "
                                       f"{'characters' if info.encoding == 'GSM-7' else 'UCS-2 units'}); at most "
                                       f"{limit_words(max_segments)}. Shorten it, or call the patient"})
    refusal = cannot_text(patient, episode)
    if refusal is not None:
        raise Conflict(refusal)
    tz = ZoneInfo(patient.timezone)
    send_at = env.now if form.urgent else env.rules.quiet.next_allowed(env.now, tz)
    names = () if patient.detailed_texts else identifying_words(env, form.body)
    if preview:
        return StaffText(episode, form.body, form.urgent, info, max_segments, send_at, None, names)
    plan_key = f"staff:{key or uuid.uuid4().hex}"
    if key is not None:
        seen = session.scalar(select(Message).where(Message.patient_id == patient.id, Message.plan_key == plan_key))
        if seen is not None:  # the same form sent again: it is in the outbox already
            return StaffText(episode, seen.body, seen.urgent, segments(seen.body), max_segments, seen.send_at, seen)
    msg = Message(patient_id=patient.id, episode_id=episode.id, milestone_id=None, kind=MessageKind.STAFF,
                  language=patient.language, body=form.body, plan_key=plan_key, send_at=send_at, attempts=0,
                  urgent=form.urgent, created_by_id=actor.user_id, created_at=env.now)
    reason = "typed by a person" + (
        ", marked urgent: goes at once, even in the patient's quiet hours" if form.urgent
        else "" if send_at == env.now else ": waits for the patient's quiet hours to end")
    outbox.record(session, msg, outbox.Scheduled(reason), now=env.now, source="user", actor=actor.label)
    session.flush()
    # The words may name someone or something clinical: they stay in the outbox, never in the audit.
    audit(session, env, actor, "message.send", "message", msg.id, patient_id=patient.id,
          detail={"episode_id": episode.id, "kind": "staff", "urgent": form.urgent, "segments": info.segments})
    return StaffText(episode, form.body, form.urgent, info, max_segments, send_at, msg, names)

