"""Questions texts ask, and the answers patients send back.

A text of a question kind (the 72-hour check asks for pain 0-10) opens an expected answer on the
episode once it has gone out. While it is open, a reply from that patient is read as its answer
first (``answer_reader``): a readable answer is stored as an observation (source ``sms``, with the
question text's id and the reply's), an unreadable one is asked again once, politely, and put on
the worklist for a person to read. Red-flag words in an answer still make a red flag
(``replies`` runs the red-flag reader on every reply). STOP always wins; a yes/no question wins
over the YES opt-in keyword for a patient who has not opted out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from pathway.models import Episode, Message, Observation
from pathway.services.answer_reader import PAIN, YES_NO, Answer, read_answer
from pathway.services.base import Env
from pathway.timeline.vocabulary import AT_72H, EpisodeStatus, MessageKind, MessageStatus, ObservationCode


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
        select(Message).where(Message.episode_id == episode.id, Message.kind.in_(list(QUESTIONS)),
                              Message.status.in_(ASKED), Message.sent_at.is_not(None),
                              Message.sent_at <= env.now, ~answered)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(5))
    for msg in asked:
        question = QUESTIONS[msg.kind]
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


__all__ = ["QUESTIONS", "OpenQuestion", "Question", "is_yes_no", "open_question", "read", "reask_key", "reasked"]
