"""Questions with answers (issue 11), end to end: the worker sends the 72-hour check through the
real twilio SDK to the fake Twilio; the patient answers through the signed inbound webhook; the
answer is an observation, a high score a same-day item, an unreadable one re-asked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import Message, Observation, Patient, Reply, Task
from pathway.services import episodes as ep
from pathway.services import observations as obs_service
from tests.dispatch.conftest import text_in

PHONE = "+12125550001"
PROCEDURE = "2027-02-02T08:00"  # New York, EST: 13:00 UTC
CHECK_AT = datetime(2027, 2, 5, 13, 0, tzinfo=UTC)  # 72 hours later


@pytest.fixture
def asked(seed: Any, people: Any, enrol: Any, clock: Any, make_dispatcher: Any, sessions: Any) -> Any:
    """A patient whose 72-hour check text has gone out: (patient id, episode id, the text's id)."""

    def make(language: str = "en", procedure_at: str = PROCEDURE, check_at: datetime = CHECK_AT,
             baseline: int | None = None) -> tuple[int, int, int]:
        pid = enrol(language=language, phone=PHONE)
        eid = seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": procedure_at})
        if baseline is not None:
            seed(obs_service.record_observation, people["coordinator"], eid,
                 {"code": "nprs", "value": baseline, "time_point": "baseline"})
        clock.set(check_at)
        make_dispatcher().dispatch_due()
        with sessions() as s:
            check = s.scalars(select(Message).where(Message.episode_id == eid, Message.kind == "check_72h")).one()
            assert check.status == "sent" and check.sent_at == check_at, (check.status, check.sent_at)
            return pid, eid, check.id

    return make


def _observations(sessions: Any, eid: int) -> list[Observation]:
    with sessions() as s:
        return list(s.scalars(select(Observation).where(Observation.episode_id == eid).order_by(Observation.id)))


def _tasks(sessions: Any, pid: int) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(Task.kind).where(Task.patient_id == pid).order_by(Task.id)))


def _answers_sent(sessions: Any, pid: int) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.patient_id == pid, Message.kind == "reply")
                              .order_by(Message.id)))


@pytest.mark.parametrize(
    ("language", "body", "score"),
    [("en", "about a 6", 6), ("en", "4/10", 4), ("es", "siete", 7), ("es", "mi mamá dice que un 5", 5),
     ("en", "3️⃣", 3), ("en", "my wife says 2", 2), ("es", "sin dolor", 0)],
)
def test_an_answer_to_the_72_hour_check_is_stored_as_a_pain_score(app, sessions, fake_twilio, asked, clock,
                                                                   language: str, body: str, score: int) -> None:
    pid, eid, check_id = asked(language=language)
    clock.advance(timedelta(hours=3))
    twiml = text_in(app, fake_twilio, body)
    assert "<Message>" not in twiml  # nothing to ask again, no red flag
    (o,) = _observations(sessions, eid)
    assert (o.code, o.value, o.unit, o.time_point, o.source) == ("nprs", Decimal(score), "points", "72h", "sms")
    assert o.message_id == check_id and o.received_at == CHECK_AT + timedelta(hours=3)
    with sessions() as s:
        reply = s.get(Reply, o.reply_id)
        assert (reply.classification, reply.body, reply.patient_id) == ("answer", body, pid)
    assert _tasks(sessions, pid) == []  # an answer alone needs nobody to read it


def test_words_beyond_the_answer_still_reach_a_person(app, sessions, fake_twilio, asked, clock) -> None:
    pid, eid, _ = asked()
    text_in(app, fake_twilio, "3, walking to the mailbox already")
    assert [o.value for o in _observations(sessions, eid)] == [3]
    assert _tasks(sessions, pid) == ["reply"]


def test_red_flag_words_in_an_answer_make_a_red_flag_and_the_score_is_kept(app, sessions, fake_twilio,
                                                                           asked) -> None:
    pid, eid, _ = asked()
    twiml = text_in(app, fake_twilio, "6 but I have a fevr since last night")
    assert "911" in twiml
    assert [o.value for o in _observations(sessions, eid)] == [6]
    assert _tasks(sessions, pid) == ["red_flag"]
    with sessions() as s:
        assert s.scalars(select(Reply.classification)).one() == "red_flag"


def test_a_red_flag_in_spanish_in_an_unreadable_answer_is_a_red_flag_not_a_retry(app, sessions, fake_twilio,
                                                                                  asked) -> None:
    pid, eid, _ = asked(language="es")
    twiml = text_in(app, fake_twilio, "no puede orinar desde ayer")
    assert "911" in twiml and "no entendimos" not in twiml
    assert _observations(sessions, eid) == [] and _tasks(sessions, pid) == ["red_flag"]


@pytest.mark.parametrize(("body", "high"), [("8", True), ("8/10", True), ("7", False), ("10 out of 10", True),
                                            ("ocho", True)])
def test_a_pain_of_8_or_more_is_a_same_day_item_not_a_red_flag(app, sessions, fake_twilio, asked, body: str,
                                                               high: bool) -> None:
    pid, _, _ = asked()
    twiml = text_in(app, fake_twilio, body)
    assert "911" not in twiml  # the score is judged by the pain thresholds of mild_pathway.toml
    assert _tasks(sessions, pid) == (["pain_high"] if high else [])
    if high:
        with sessions() as s:
            task = s.scalars(select(Task)).one()
            assert task.priority == 4 and task.reply_id is not None and "Call the patient today" in task.summary


def test_severe_pain_in_words_with_a_score_is_both_a_red_flag_and_a_pain_item(app, sessions, fake_twilio,
                                                                              asked) -> None:
    pid, _, _ = asked()
    assert "911" in text_in(app, fake_twilio, "9, unbearable")
    assert sorted(_tasks(sessions, pid)) == ["pain_high", "red_flag"]


@pytest.mark.parametrize(("baseline", "answer", "high"), [(3, "6", True), (4, "6", False), (2, "5/10", True)])
def test_a_score_3_points_over_the_patients_own_baseline_is_a_same_day_item(app, sessions, fake_twilio, asked,
                                                                            baseline: int, answer: str,
                                                                            high: bool) -> None:
    pid, _, _ = asked(baseline=baseline)
    text_in(app, fake_twilio, answer)
    assert ("pain_high" in _tasks(sessions, pid)) is high


@pytest.mark.parametrize(("language", "retry"), [("en", "one number from 0 (no pain) to 10"),
                                                 ("es", "un número del 0 (sin dolor) al 10")])
def test_an_unreadable_answer_is_asked_again_once_and_read_by_a_person(app, sessions, fake_twilio, asked,
                                                                       language: str, retry: str) -> None:
    pid, eid, _ = asked(language=language)
    twiml = text_in(app, fake_twilio, "was 8 now 4")
    assert retry in twiml and "Riverside" in twiml
    assert _tasks(sessions, pid) == ["answer_unread"]
    (reask,) = _answers_sent(sessions, pid)
    assert reask.status == "sent" and retry in reask.body and reask.language == language
    # Still unreadable: a person reads it; no second retry.
    assert "<Message>" not in text_in(app, fake_twilio, "better than yesterday")
    assert _tasks(sessions, pid) == ["answer_unread", "answer_unread"]
    assert len(_answers_sent(sessions, pid)) == 1
    # The answer, at last: stored, and the question is closed.
    text_in(app, fake_twilio, "4")
    assert [o.value for o in _observations(sessions, eid)] == [4]
    text_in(app, fake_twilio, "5")  # no longer an answer: an ordinary reply for a person
    assert [o.value for o in _observations(sessions, eid)] == [4]
    assert _tasks(sessions, pid)[-1] == "reply"


def test_stop_always_wins_over_an_open_question(app, sessions, fake_twilio, asked) -> None:
    pid, eid, _ = asked()
    text_in(app, fake_twilio, "STOP")
    with sessions() as s:
        assert s.get(Patient, pid).opted_out_via == "STOP reply"
    assert _observations(sessions, eid) == []


def test_help_is_answered_while_a_question_is_open(app, sessions, fake_twilio, asked) -> None:
    _pid, eid, _ = asked()
    assert "for help call us" in text_in(app, fake_twilio, "HELP")
    assert _observations(sessions, eid) == []


def test_a_reply_after_the_answer_window_is_an_ordinary_reply(app, sessions, fake_twilio, asked, clock) -> None:
    pid, eid, _ = asked()
    clock.advance(timedelta(hours=48, minutes=1))  # [answers] answer_window_hours = 48
    assert "<Message>" not in text_in(app, fake_twilio, "7")
    assert _observations(sessions, eid) == [] and _tasks(sessions, pid) == ["reply"]


def test_a_reply_before_the_question_went_out_is_no_answer(app, sessions, fake_twilio, seed, people, enrol,
                                                          clock) -> None:
    pid = enrol(phone=PHONE)
    eid = seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": PROCEDURE})
    clock.set(CHECK_AT - timedelta(hours=1))
    text_in(app, fake_twilio, "7")
    assert _observations(sessions, eid) == []


def test_a_cancelled_episode_has_no_open_question(app, sessions, fake_twilio, asked, seed, people) -> None:
    _pid, eid, _ = asked()
    seed(ep.cancel_episode, people["coordinator"], eid, {"reason": "patient unwell"})
    text_in(app, fake_twilio, "7")
    assert _observations(sessions, eid) == []


def test_across_the_dst_change_the_question_opens_72_hours_after_the_start_and_stays_open_48(
        app, sessions, fake_twilio, asked, clock) -> None:
    # Friday 12 March 2027, 08:00 EST; the clocks go forward on Sunday 14 March: 72 hours later is
    # Monday 09:00 EDT (13:00 UTC), and the answer window is counted in real hours.
    check_at = datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    _pid, eid, check_id = asked(procedure_at="2027-03-12T08:00", check_at=check_at)
    clock.advance(timedelta(hours=47, minutes=59))
    text_in(app, fake_twilio, "5")
    (o,) = _observations(sessions, eid)
    assert o.message_id == check_id and o.received_at == check_at + timedelta(hours=47, minutes=59)
