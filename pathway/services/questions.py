"""Questions texts ask, and the answers patients send back.

A text of a question kind (the 72-hour check asks for pain 0-10; an outcome question asks for
pain, walking minutes or the global impression of change) opens an expected answer on the
episode once it has gone out. While it is open, a reply from that patient is read as its answer
first (``answer_reader``): a readable answer is stored as an observation (source ``sms``, with the
question text's id and the reply's), an unreadable one is asked again once, politely, and put on
the worklist for a person to read. Red-flag words in an answer still make a red flag
(``replies`` runs the red-flag reader on every reply). STOP always wins; a yes/no question wins
over the YES opt-in keyword for a patient who has not opted out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from pathway.models import Episode, Message, Observation
from pathway.services.answer_reader import CHANGE, MINUTES, PAIN, YES_NO, Answer, read_answer
from pathway.services.base import Env
from pathway.timeline.vocabulary import (
    ASKED_BY_TEXT,
    AT_72H,
    EpisodeStatus,
    MessageKind,
    MessageStatus,
    ObservationCode,
)


@dataclass(frozen=True)
class Question:
    """What a kind of text asks: the answer's type, the observation it becomes, its re-ask text."""

    answer: str  # an answer_reader kind
    code: str  # an ObservationCode
    time_point: str | None
    reask: str  # the ReplyText template sent when an answer cannot be read
    # Open until the procedure starts (a stop question), rather than for [answers] answer_window_hours.
    until_procedure: bool = False


QUESTIONS: dict[str, Question] = {
    MessageKind.CHECK_72H: Question(PAIN, ObservationCode.NPRS, AT_72H, "reask_pain"),
    MessageKind.STOP_CONFIRM: Question(YES_NO, ObservationCode.STOPPED_MEDICINE, None, "reask_yes_no",
                                       until_procedure=True),
}

# The outcome questions (kind ``outcome``, issue 12): one code a text, named in the text's plan key
# ("outcome:<episode>:<time point>:<code>", a reminder with ":reminder" after it).
OUTCOME_QUESTIONS: dict[str, tuple[str, str]] = {
    ObservationCode.NPRS: (PAIN, "reask_pain"),
    ObservationCode.WALK_MINUTES: (MINUTES, "reask_minutes"),
    ObservationCode.GLOBAL_CHANGE: (CHANGE, "reask_change"),
}
assert tuple(OUTCOME_QUESTIONS) == ASKED_BY_TEXT, "a question for each measure a time point may ask by text"
REMINDER = "reminder"


def outcome_key(episode_id: int, time_point: str, code: str, *, reminder: bool = False) -> str:
    """The plan key of an outcome question (or of its one reminder)."""
    key = f"{MessageKind.OUTCOME}:{episode_id}:{time_point}:{code}"
    return f"{key}:{REMINDER}" if reminder else key


def question_of(msg: Message | Any) -> Question | None:
    """What a question text asks: by its kind, or for an outcome question by its plan key (``msg``:
    a message, or a row with its kind and plan key)."""
    if msg.kind != MessageKind.OUTCOME:
        return QUESTIONS.get(msg.kind)
    parts = msg.plan_key.split(":")
    if len(parts) < 4 or parts[3] not in OUTCOME_QUESTIONS:
        return None
    answer, reask = OUTCOME_QUESTIONS[parts[3]]
    return Question(answer, parts[3], parts[2], reask)


# A question has been asked once its text left (a report of delivery or failure comes later).
ASKED = (MessageStatus.SENT, MessageStatus.DELIVERED)


@dataclass(frozen=True)
class OpenQuestion:
    message: Message
    question: Question


def open_question(session: Session, env: Env, episode: Episode) -> OpenQuestion | None:
    """The question the patient's next reply answers: the latest question text of the episode
    that has gone out, is still open (``[answers] answer_window_hours`` after it was sent; a stop
    question until the procedure starts) and has no answer yet."""
    if episode.status == EpisodeStatus.CANCELLED:
        return None
    window = env.rules.definition.answer_window
    answered = exists().where(Observation.message_id == Message.id)
    asked = session.scalars(
        select(Message).where(Message.episode_id == episode.id,
                              Message.kind.in_([*QUESTIONS, MessageKind.OUTCOME]),
                              Message.status.in_(ASKED), Message.sent_at.is_not(None),
                              Message.sent_at <= env.now, ~answered)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(5))
    for msg in asked:
        question = question_of(msg)
        if question is None:
            continue
        assert msg.sent_at is not None
        still_open = (env.now < episode.procedure_at if question.until_procedure
                      else env.now < msg.sent_at + window)
        if still_open:
            return OpenQuestion(msg, question)
    return None


def read(question: OpenQuestion, body: str) -> Answer:
    return read_answer(question.question.answer, body)


def reasked(session: Session, question: OpenQuestion) -> bool:
    """Whether this question was already asked again (it is asked again once)."""
    return session.scalar(select(Message.id).where(Message.patient_id == question.message.patient_id,
                                                   Message.plan_key == reask_key(question)).limit(1)) is not None


def reask_key(question: OpenQuestion) -> str:
    return f"reask:{question.message.id}"


def is_yes_no(question: OpenQuestion | None) -> bool:
    return question is not None and question.question.answer == YES_NO


__all__ = ["OUTCOME_QUESTIONS", "QUESTIONS", "OpenQuestion", "Question", "is_yes_no", "open_question", "outcome_key",
           "question_of", "read", "reask_key", "reasked"]
