"""Patients' replies: opt-out and opt-in keywords, HELP, red flags, and everything else.

Every reply is stored. STOP-type keywords opt out at once; START-type opt back in; HELP gets
the clinic's name and phone. A reply that mentions a red flag goes to the top of the worklist
and is answered at once with instructions to call the clinic or 911. A free-text wish to stop
("please don't text me") becomes a task for a person, who honours it. Reading the words is
``reply_reader``'s (pure, word lists in data/replies.toml); this module stores and acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Episode, Message, Patient, Reply
from pathway.services import outbox
from pathway.services.base import Actor, Env
from pathway.services.patients import opt_in, opt_out
from pathway.services.reply_reader import Lexicon, read_reply
from pathway.services.reply_reader import load_lexicon as load_lexicon  # kept importable from here
from pathway.services.tasks import open_task
from pathway.timeline import text_context

PATIENT = Actor(role="system", label="patient")


def classify(body: str, lexicon: Lexicon | None = None) -> str:
    """stop | start | help | red_flag | stop_request | text (see reply_reader.read_reply for why)."""
    return read_reply(body, lexicon).kind


@dataclass(frozen=True)
class InboundResult:
    reply_id: int
    classification: str
    answer: str | None  # text to send straight back (TwiML), or None
    red_flag_groups: tuple[str, ...] = ()  # fever, bleeding, ... as replies.toml names them


def _find_patient(session: Session, phone: str) -> tuple[Patient | None, Episode | None]:
    """The patient with this number; with several (a shared family phone), the one whose
    episode is soonest active. Ambiguity is resolved by a person through the task."""
    patients = list(session.scalars(select(Patient).where(Patient.phone == phone).order_by(Patient.id)))
    best: tuple[Patient | None, Episode | None] = (patients[0] if len(patients) == 1 else None, None)
    for p in patients:
        ep = session.scalar(select(Episode).where(Episode.patient_id == p.id, Episode.status != "cancelled")
                            .order_by(Episode.procedure_at.desc()).limit(1))
        if ep is not None and (best[1] is None or ep.procedure_at > best[1].procedure_at):
            best = (p, ep)
    return best


def _answer(env: Env, patient: Patient | None, kind: str) -> str:
    lang = patient.language if patient else "en"
    tz = ZoneInfo(patient.timezone) if patient else env.rules.clinic.tz
    ctx = text_context({}, lang=lang, tz=tz, clinic_name=env.rules.clinic.name, clinic_phone=env.rules.clinic.phone)
    return env.rules.templates.render(kind, lang, ctx)


def receive_reply(session: Session, env: Env, *, from_number: str, body: str, provider_id: str | None) -> InboundResult:
    """Store and act on one incoming text. Idempotent on the provider's message id."""
    if provider_id:
        seen = session.scalar(select(Reply).where(Reply.provider_id == provider_id))
        if seen is not None:
            return InboundResult(seen.id, seen.classification, None)
    patient, episode = _find_patient(session, from_number)
    reading = read_reply(body)
    kind = reading.kind
    reply = Reply(patient_id=patient.id if patient else None, episode_id=episode.id if episode else None,
                  from_number=from_number, body=body[:1600], provider_id=provider_id, received_at=env.now,
                  classification=kind)
    session.add(reply)
    session.flush()
    answer: str | None = None
    pid = patient.id if patient else None
    eid = episode.id if episode else None
    if kind == "stop" and patient is not None:
        opt_out(session, env, PATIENT, patient, "STOP reply")
        if episode is not None:
            open_task(session, env, "opted_out", f"patient:{patient.id}",
                      "The patient replied STOP mid-pathway: reach them by phone", patient_id=pid, episode_id=eid,
                      reply_id=reply.id)
    elif kind == "start" and patient is not None:
        opt_in(session, env, PATIENT, patient, "START reply")
    elif kind == "help":
        answer = _answer(env, patient, "help")
    elif kind == "red_flag":
        answer = _answer(env, patient, "red_flag")
        open_task(session, env, "red_flag", f"reply:{reply.id}",
                  f"Patient reported a possible red-flag symptom ({_group_words(reading.groups)}): call them today",
                  patient_id=pid, episode_id=eid, reply_id=reply.id)
    elif kind == "stop_request":
        open_task(session, env, "stop_request", f"reply:{reply.id}",
                  "The patient asked in their own words to stop texts: confirm with them and opt them out",
                  patient_id=pid, episode_id=eid, reply_id=reply.id)
    else:
        open_task(session, env, "reply", f"reply:{reply.id}", "A patient replied: read and answer",
                  patient_id=pid, episode_id=eid, reply_id=reply.id)
    if answer and patient is not None:
        _record_answer(session, env, patient, episode, reply, kind, answer)
    return InboundResult(reply.id, kind, answer, reading.groups)


def _group_words(groups: tuple[str, ...]) -> str:
    """The red-flag groups for a person: ("bladder_bowel", "fall") -> "bladder or bowel, fall"."""
    return ", ".join(GROUP_WORDS.get(g, g.replace("_", " ")) for g in groups)


GROUP_WORDS = {"bladder_bowel": "bladder or bowel", "severe_pain": "severe pain", "chest": "chest or breathing",
               "saddle": "groin or saddle numbness", "numbness": "leg numbness", "weakness": "leg weakness",
               "urgent": "says it is urgent"}


def _record_answer(session: Session, env: Env, patient: Patient, episode: Episode | None, reply: Reply, kind: str,
                   body: str) -> None:
    """The TwiML answer leaves with Twilio's response; keep it in the outbox history too."""
    msg = Message(patient_id=patient.id, episode_id=episode.id if episode else None, kind="reply",
                  language=patient.language, body=body, plan_key=f"reply:{reply.id}:{kind}", send_at=env.now,
                  attempts=1, created_at=env.now)
    outbox.record(session, msg, outbox.Sent(f"answered {kind} reply at once (TwiML)", sent_at=env.now), now=env.now,
                  source="dispatch")
