"""Patients' replies: opt-out and opt-in keywords, HELP, red flags, and everything else.

Every reply is stored. STOP-type keywords opt out at once; START-type opt back in; HELP gets
the clinic's name and phone. A reply that mentions a red flag goes to the top of the worklist
and is answered at once with instructions to call the clinic or 911. A free-text wish to stop
("please don't text me") becomes a task for a person, who honours it. Reading the words is
``reply_reader``'s (pure, word lists in data/replies.toml); this module stores and acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Episode, MedicationHold, Message, Patient, Reply, Task
from pathway.schemas.inputs import ReplyDismissIn, ReplyLinkIn
from pathway.services import outbox, outcomes, questions
from pathway.services.answer_reader import PAIN, YES_NO, Answer, is_acknowledgement
from pathway.services.base import Actor, Conflict, Env, ValidationError, audit, get_or_404, read_input
from pathway.services.observations import add_observation, after_observation
from pathway.services.patients import WITHDRAWN_VIA, opt_in, opt_out
from pathway.services.reply_reader import UNCLEAR, FlagHit, Lexicon, Reading, read_reply
from pathway.services.reply_reader import load_lexicon as load_lexicon  # kept importable from here
from pathway.services.tasks import open_task
from pathway.services.worklist import _reads_soon as reads_soon
from pathway.timeline import text_context
from pathway.timeline.plan import plan_key_refs
from pathway.timeline.vocabulary import CARE_TEAM, ObservationCode, ReplyClassification

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


def _latest_episode(session: Session, patient: Patient) -> Episode | None:
    return session.scalar(select(Episode).where(Episode.patient_id == patient.id, Episode.status != "cancelled")
                          .order_by(Episode.procedure_at.desc(), Episode.id.desc()).limit(1))


def _senders(session: Session, phone: str) -> list[Patient]:
    """The patients a reply from ``phone`` may be from: the one patient on the number; or, when
    several share it (a family phone), those with an episode not cancelled (the one such patient
    if there is just one), else all of them. Empty: the number matches no patient."""
    patients = list(session.scalars(select(Patient).where(Patient.phone == phone).order_by(Patient.id)))
    if len(patients) <= 1:
        return patients
    active = [p for p in patients if _latest_episode(session, p) is not None]
    return active or patients


def receive_reply(session: Session, env: Env, *, from_number: str, body: str, provider_id: str | None) -> InboundResult:
    """Store and act on one incoming text. Idempotent on the provider's message id.

    A reply from a number that matches no patient, or that several share, becomes one
    ``unmatched_reply`` task (at red-flag priority when it reads as a red flag) until a person
    links it to a patient (:func:`link_reply`) or dismisses it with a note. STOP and START from a
    shared number act on every patient on it; HELP is answered once."""
    if provider_id:
        seen = session.scalar(select(Reply).where(Reply.provider_id == provider_id))
        if seen is not None:
            return InboundResult(seen.id, seen.classification, None)
    senders = _senders(session, from_number)
    patient = senders[0] if len(senders) == 1 else None
    episode = _latest_episode(session, patient) if patient is not None else None
    reading = read_reply(body)
    kind = reading.kind
    question = questions.open_question(session, env, episode) if episode is not None else None
    if patient is not None and question is not None and _answers_question(kind, patient, question):
        return _receive_answer(session, env, patient, episode, question, reading, from_number=from_number,
                               body=body, provider_id=provider_id)
    reply = Reply(patient_id=patient.id if patient else None, episode_id=episode.id if episode else None,
                  from_number=from_number, body=body[:1600], provider_id=provider_id, received_at=env.now,
                  classification=kind)
    session.add(reply)
    session.flush()
    answer: str | None = None
    if kind in ("help", "red_flag"):
        answer = _answer(env, senders, kind)
    if patient is not None:
        _act(session, env, reply, patient, episode, kind, reading.groups)
        if answer:
            _record_answer(session, env, patient, episode, reply, kind, answer)
    elif senders and kind in ("stop", "start", "help"):
        for each in senders:  # a shared number: the keyword speaks for everyone on it
            if kind == "start" and each.opted_out_via == WITHDRAWN_VIA:
                continue  # but not over a consent staff recorded as withdrawn: that person said no
            _act(session, env, reply, each, _latest_episode(session, each), kind, reading.groups)
    else:
        _open_unmatched(session, env, reply, len(senders), reading.groups)
    return InboundResult(reply.id, kind, answer, reading.groups)


def _answers_question(kind: str, patient: Patient, question: questions.OpenQuestion) -> bool:
    """Whether a reply is read as the answer to the open question. STOP always opts out and HELP is
    always answered; YES (an opt-in keyword) answers a yes/no question unless the patient has opted
    out, when it opts them back in as carriers expect."""
    if kind in ("stop", "help"):
        return False
    if kind == "start":
        return questions.is_yes_no(question) and patient.opted_out_at is None
    return True


def _receive_answer(session: Session, env: Env, patient: Patient, episode: Episode | None,
                    question: questions.OpenQuestion, reading: Reading, *, from_number: str, body: str,
                    provider_id: str | None) -> InboundResult:
    """A reply while a question is open: its answer first, then the red-flag reader's reading.

    Read, the answer is stored as an observation; words beyond it go to a person to read. Not
    read, the question is asked again once (if the patient may be texted) and a person reads it.
    A red flag in it is a red flag, whatever the answer."""
    assert episode is not None
    answer = questions.read(question, body)
    hits = tuple(h for h in reading.hits if not _part_of_the_answer(h, answer, question))
    red = bool(hits)
    groups = tuple(dict.fromkeys(h.group for h in hits))
    # Only "ok", "thanks", "👍"...: most often about the text before (the baseline question goes
    # with the enrolment text). Kept, and the question stays open: no re-ask, nothing to read;
    # but from the procedure day to [timing] read_replies_days_after days after it every reply is
    # read by a person (the worklist's own rule), and a yes/no "ok" may mean yes.
    acknowledged = (not red and not answer.read and question.question.answer != YES_NO
                    and not reads_soon(env, env.now, episode.procedure_at) and is_acknowledgement(body))
    if red:
        kind = "red_flag"
    elif answer.read:
        kind = "answer"
    elif acknowledged:
        kind = ReplyClassification.ACKNOWLEDGEMENT
    else:
        kind = "text"
    reply = Reply(patient_id=patient.id, episode_id=episode.id, from_number=from_number, body=body[:1600],
                  provider_id=provider_id, received_at=env.now, classification=kind)
    session.add(reply)
    session.flush()
    q = question.question
    text: str | None = None
    if answer.read:
        assert answer.value is not None
        # A stop question is about the holds its text named ("stop_confirm:h1+h2:..."), one
        # observation each; another question is about the episode.
        holds: list[MedicationHold | None] = [None]
        if q.code == ObservationCode.STOPPED_MEDICINE:
            refs = plan_key_refs(question.message.plan_key)
            holds = [h for h in episode.all_holds if h.ref in refs]
        for hold in holds:
            obs = add_observation(session, env, episode, q.code, answer.value, time_point=q.time_point,
                                  received_at=env.now, source="sms", message_id=question.message.id,
                                  reply_id=reply.id, hold_id=hold.id if hold else None)
            after_observation(session, env, episode, obs)
        if q.time_point is not None and not red:
            outcomes.ask_next(session, env, episode)  # the time point's next question, not a tick later
        if not red and answer.rest:  # more than the answer: a person reads the rest
            _act(session, env, reply, patient, episode, "text", ())
    elif not red and not acknowledged:
        open_task(session, env, "answer_unread", f"reply:{reply.id}",
                  f"The patient's answer to the {env.rules.definition.message_label(question.message.kind)} "
                  f"could not be read ({answer.why}): read it and call if needed",
                  patient_id=patient.id, episode_id=episode.id, reply_id=reply.id)
        if patient.opted_out_at is None and not questions.reasked(session, question):
            text = _answer(env, [patient], q.reask)
            _record_answer(session, env, patient, episode, reply, q.reask, text,
                           plan_key=questions.reask_key(question))
    if red:
        _act(session, env, reply, patient, episode, "red_flag", groups)
        text = _answer(env, [patient], "red_flag")
        _record_answer(session, env, patient, episode, reply, "red_flag", text)
    return InboundResult(reply.id, kind, text, groups)


def _part_of_the_answer(hit: FlagHit, answer: Answer, question: questions.OpenQuestion) -> bool:
    """A red-flag match the answer itself explains: a pain score ("8/10", "pain 9") is judged by
    the pain thresholds, not as severe-pain words; and a reply that is nothing but its answer
    ("my pain is 4") is not the safety net's unexplained talk of the body."""
    if not answer.read:
        return False
    if hit.group == "severe_pain" and question.question.answer == PAIN and any(c.isdigit() for c in hit.words):
        return True
    return hit.group == UNCLEAR and not answer.rest


def _act(session: Session, env: Env, reply: Reply, patient: Patient, episode: Episode | None, kind: str,
         groups: tuple[str, ...], *, linked: bool = False) -> None:
    """What a reply from ``patient`` sets going. ``linked``: a person said whom a reply from an
    unknown or shared number concerns, so a keyword in it is a request for a person to confirm."""
    pid, eid = patient.id, episode.id if episode else None
    if kind == "stop" and linked:
        kind = "stop_request"
    if kind == "stop":
        opt_out(session, env, PATIENT, patient, "STOP reply")
        if episode is not None:
            open_task(session, env, "opted_out", f"patient:{patient.id}",
                      "The patient replied STOP mid-pathway: reach them by phone", patient_id=pid, episode_id=eid,
                      reply_id=reply.id)
    elif kind == "start":
        if not linked:
            opt_in(session, env, PATIENT, patient, "START reply")
    elif kind == "help":
        pass  # answered at once (TwiML)
    elif kind == "red_flag":
        open_task(session, env, "red_flag", f"reply:{reply.id}",
                  f"Patient reported a possible red-flag symptom ({group_words(groups)}): call them today",
                  patient_id=pid, episode_id=eid, reply_id=reply.id)
    elif kind == "stop_request":
        open_task(session, env, "stop_request", f"reply:{reply.id}",
                  "The patient asked in their own words to stop texts: confirm with them and opt them out",
                  patient_id=pid, episode_id=eid, reply_id=reply.id)
    else:
        open_task(session, env, "reply", f"reply:{reply.id}", "A patient replied: read and answer",
                  patient_id=pid, episode_id=eid, reply_id=reply.id)


def _open_unmatched(session: Session, env: Env, reply: Reply, shared_by: int, groups: tuple[str, ...]) -> None:
    red = reply.classification == "red_flag"
    who = (f"a number {shared_by} patients share: pick whom it concerns" if shared_by
           else "a number that matches no patient: link it to the patient or dismiss it with a note")
    what = f"Possible red flag ({group_words(groups)}) from " if red else "Reply from "
    open_task(session, env, "unmatched_reply", f"reply:{reply.id}", what + who, reply_id=reply.id,
              priority=0 if red else None)


def _answer(env: Env, senders: list[Patient], kind: str) -> str:
    """The answer in the patients' language (English unless everyone on the number shares another)."""
    langs = {p.language for p in senders}
    lang = langs.pop() if len(langs) == 1 else "en"
    tz = ZoneInfo(senders[0].timezone) if len(senders) == 1 else env.rules.clinic.tz
    ctx = text_context({}, lang=lang, tz=tz, clinic_name=env.rules.clinic.name, clinic_phone=env.rules.clinic.phone)
    return env.rules.templates.render(kind, lang, ctx)


# --- a person says whom a reply concerns ---------------------------------------------------


def _unmatched_task(session: Session, reply: Reply) -> Task | None:
    return session.scalar(select(Task).where(Task.kind == "unmatched_reply", Task.subject == f"reply:{reply.id}",
                                             Task.resolved_at.is_(None)))


def link_reply(session: Session, env: Env, actor: Actor, reply_id: Any, data: Mapping[str, Any]) -> Reply:
    """Attach a reply from an unknown or shared number (and any task it opened) to the patient
    it concerns, and its episode (given, else their latest not cancelled); from then on it is
    that patient's reply: a red flag becomes their red-flag item, free text their reply to read."""
    actor.require(*CARE_TEAM)
    form = read_input(ReplyLinkIn, data)
    reply: Reply = get_or_404(session, Reply, reply_id, "reply", lock=True)
    if reply.patient_id is not None:
        if reply.patient_id == form.patient_id and form.episode_id in (None, reply.episode_id):
            return reply  # linked already, as asked: nothing to do
        raise Conflict("this reply is already linked to a patient")
    task = _unmatched_task(session, reply)
    if task is None and reply.handled_at is not None:
        raise Conflict("this reply was dismissed; it can no longer be linked")
    patient = session.get(Patient, form.patient_id) if form.patient_id else None
    if patient is None:
        raise ValidationError({"patient_id": "no patient with this id: search for the patient and pick them"})
    if form.episode_id is not None:
        episode = session.get(Episode, form.episode_id)
        if episode is None or episode.patient_id != patient.id:
            raise ValidationError({"episode_id": "not an episode of this patient: pick one of theirs or leave it "
                                                 "out for their latest"})
    else:
        episode = _latest_episode(session, patient)
    reply.patient_id, reply.episode_id = patient.id, episode.id if episode else None
    # Tasks the reply opened before it had a patient (a red flag) now belong to them.
    for other in session.scalars(select(Task).where(Task.reply_id == reply.id, Task.patient_id.is_(None),
                                                    Task.kind != "unmatched_reply", Task.resolved_at.is_(None))):
        other.patient_id, other.episode_id = reply.patient_id, reply.episode_id
    if task is not None:
        task.resolved_at, task.resolved_by_id = env.now, actor.user_id
        task.resolution = f"linked to patient {patient.id}"
        task.patient_id, task.episode_id = reply.patient_id, reply.episode_id
        audit(session, env, actor, "task.resolve", "task", task.id, patient_id=patient.id,
              detail={"kind": task.kind})
    _act(session, env, reply, patient, episode, reply.classification, read_reply(reply.body).groups, linked=True)
    audit(session, env, actor, "reply.link", "reply", reply.id, patient_id=patient.id,
          detail={"episode_id": reply.episode_id, "classification": reply.classification})
    session.flush()
    return reply


def dismiss_reply(session: Session, env: Env, actor: Actor, reply_id: Any, data: Mapping[str, Any]) -> Reply:
    """Close a reply from an unknown or shared number that concerns no patient, with a note of
    why and what was done (a wrong number, spam, a caller already helped...)."""
    actor.require(*CARE_TEAM)
    form = read_input(ReplyDismissIn, data)
    reply: Reply = get_or_404(session, Reply, reply_id, "reply", lock=True)
    if reply.patient_id is not None:
        raise Conflict("this reply is linked to a patient: resolve its task instead")
    task = _unmatched_task(session, reply)
    if task is None and reply.handled_at is not None:
        return reply  # dismissed already
    reply.handled_at, reply.handled_by_id = env.now, actor.user_id
    # Its unmatched_reply task, and any task it opened with no patient (before that kind existed).
    for each in session.scalars(select(Task).where(Task.reply_id == reply.id, Task.patient_id.is_(None),
                                                   Task.resolved_at.is_(None))):
        each.resolved_at, each.resolved_by_id, each.resolution = env.now, actor.user_id, form.note
        audit(session, env, actor, "task.resolve", "task", each.id, detail={"kind": each.kind})
    # The note may name someone: it stays on the task, never in the audit detail.
    audit(session, env, actor, "reply.dismiss", "reply", reply.id, detail={"classification": reply.classification})
    session.flush()
    return reply


def group_words(groups: tuple[str, ...]) -> str:
    """The red-flag groups for a person: ("bladder_bowel", "fall") -> "bladder or bowel, fall"."""
    return ", ".join(GROUP_WORDS.get(g, g.replace("_", " ")) for g in groups)


GROUP_WORDS = {"bladder_bowel": "bladder or bowel", "severe_pain": "severe pain", "chest": "chest or breathing",
               "saddle": "groin or saddle numbness", "numbness": "leg numbness", "weakness": "leg weakness",
               "urgent": "says it is urgent"}


def _record_answer(session: Session, env: Env, patient: Patient, episode: Episode | None, reply: Reply, kind: str,
                   body: str, *, plan_key: str | None = None) -> None:
    """The TwiML answer leaves with Twilio's response; keep it in the outbox history too."""
    msg = Message(patient_id=patient.id, episode_id=episode.id if episode else None, kind="reply",
                  language=patient.language, body=body, plan_key=plan_key or f"reply:{reply.id}:{kind}",
                  send_at=env.now,
                  attempts=1, created_at=env.now)
    outbox.record(session, msg, outbox.Sent(f"answered {kind} reply at once (TwiML)", sent_at=env.now), now=env.now,
                  source="dispatch")


def reply_to_link(session: Session, env: Env, actor: Actor, reply_id: Any) -> tuple[Reply, list[Patient]]:
    """A reply from an unknown or shared number and the patients on that number (audited view:
    the page shows the number and the words)."""
    actor.require(*CARE_TEAM)
    reply: Reply = get_or_404(session, Reply, reply_id, "reply")
    on_number = list(session.scalars(select(Patient).where(Patient.phone == reply.from_number)
                                     .order_by(Patient.family_name, Patient.given_name, Patient.id)))
    audit(session, env, actor, "reply.view", "reply", reply.id, patient_id=reply.patient_id,
          detail={"patient_ids": [p.id for p in on_number]})
    return reply, on_number
