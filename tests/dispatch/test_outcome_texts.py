"""Outcome questions by text (issue 12), end to end: the worker's housekeeping tick queues the
question due at a time point, the dispatcher sends it through the real twilio SDK to the fake
Twilio, the patient answers through the signed inbound webhook; the answer is an observation at
that time point and the next question follows; one reminder after 48 hours; quiet hours in the
patient's zone, across a change of clocks; nothing after opt-out, cancellation or without consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from pathway.dispatch.worker import Worker
from pathway.models import Message, Observation
from pathway.services import episodes as ep
from pathway.services import patients as patient_service
from pathway.services.base import Actor
from tests.dispatch.conftest import PUBLIC_URL, text_in

NY = ZoneInfo("America/New_York")
PHONE = "+12125550001"
PROCEDURE = "2027-02-02T08:00"  # New York, EST
# Six weeks on (day 42) is 2027-03-16, after the clocks went forward on 2027-03-14: the question
# goes at 10:00 EDT, 14:00 UTC (at 15:00 UTC if the zone's January offset were kept).
SIX_WEEKS = datetime(2027, 3, 16, 14, 0, tzinfo=UTC)


@pytest.fixture
def worker(make_dispatcher: Any) -> Worker:
    return Worker(make_dispatcher())


def tick(worker: Worker) -> int:
    """The worker's housekeeping tick (which queues the outcome questions due), then a dispatch pass."""
    queued = worker.housekeeping_tick().outcome_texts
    worker.dispatcher.dispatch_due()
    return queued


def outcome_texts(sessions: Any, eid: int) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.episode_id == eid, Message.kind == "outcome")
                              .order_by(Message.id)))


def observations(sessions: Any, eid: int) -> list[tuple[str, str | None, Decimal, str]]:
    with sessions() as s:
        return [(o.code, o.time_point, o.value, o.source) for o in s.scalars(
            select(Observation).where(Observation.episode_id == eid, Observation.superseded_at.is_(None))
            .order_by(Observation.id))]


@pytest.fixture
def episode(seed: Any, people: Any, enrol: Any) -> Any:
    def make(language: str = "en", procedure_at: str = PROCEDURE, **patient: Any) -> tuple[int, int]:
        pid = enrol(language=language, phone=PHONE, **patient)
        eid = seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": procedure_at})
        return pid, eid

    return make


def test_the_baseline_is_asked_at_enrolment_one_question_a_text(app, sessions, fake_twilio, episode, worker,
                                                                 clock) -> None:
    _, eid = episode()
    tick(worker)
    (pain,) = outcome_texts(sessions, eid)
    assert pain.status == "sent" and pain.sent_at == clock()
    assert pain.body.endswith(": How bad is your pain when you stand or walk? Please reply with one number from 0 "
                              "(no pain) to 10 (worst pain).")
    clock.advance(timedelta(minutes=20))
    assert "<Message>" not in text_in(app, fake_twilio, "about a 6")
    assert observations(sessions, eid) == [("nprs", "baseline", Decimal(6), "sms")]
    # The next question is queued with the answer, and goes at the next pass.
    worker.dispatcher.dispatch_due()
    texts = outcome_texts(sessions, eid)
    assert [t.status for t in texts] == ["sent", "sent"]
    assert "How many minutes can you walk before you have to stop and rest?" in texts[1].body
    text_in(app, fake_twilio, "maybe 15 min")
    assert observations(sessions, eid)[-1] == ("walk_minutes", "baseline", Decimal(15), "sms")
    with sessions() as s:
        answer = s.scalars(select(Observation).where(Observation.code == "walk_minutes")).one()
        assert answer.message_id == texts[1].id
    # The baseline asks no global change: nothing more.
    assert tick(worker) == 0 and len(outcome_texts(sessions, eid)) == 2


def test_at_six_weeks_after_a_change_of_clocks_the_question_goes_at_ten_local(app, sessions, fake_twilio, episode,
                                                                               worker, clock) -> None:
    _, eid = episode(language="es")
    tick(worker)  # the baseline question goes; nobody answers it
    clock.set(SIX_WEEKS - timedelta(minutes=1))
    assert tick(worker) == 0
    clock.set(SIX_WEEKS)
    assert tick(worker) == 1
    pain = outcome_texts(sessions, eid)[-1]
    assert pain.plan_key.endswith(":6w:nprs") and pain.status == "sent" and pain.sent_at == SIX_WEEKS
    assert pain.sent_at.astimezone(NY).hour == 10
    assert "¿Cuánto le duele al estar de pie o al caminar?" in pain.body
    text_in(app, fake_twilio, "cinco")
    worker.dispatcher.dispatch_due()
    text_in(app, fake_twilio, "media hora")
    worker.dispatcher.dispatch_due()
    change = outcome_texts(sessions, eid)[-1]
    assert change.plan_key.endswith(":6w:global_change") and "1 mucho mejor" in change.body
    text_in(app, fake_twilio, "un poquito mejor gracias")
    assert observations(sessions, eid)[-3:] == [("nprs", "6w", Decimal(5), "sms"),
                                                ("walk_minutes", "6w", Decimal(30), "sms"),
                                                ("global_change", "6w", Decimal(3), "sms")]


def test_after_the_clocks_go_back_the_question_waits_for_ten_standard_time(sessions, episode, worker,
                                                                           clock) -> None:
    clock.set(datetime(2027, 8, 20, 14, 0, tzinfo=UTC))
    _, eid = episode(procedure_at="2027-09-01T08:00")  # EDT; three months on is 2027-12-01, EST
    tick(worker)
    clock.set(datetime(2027, 12, 1, 14, 0, tzinfo=UTC))  # 09:00 EST (10:00 in the summer's offset)
    assert tick(worker) == 0
    clock.set(datetime(2027, 12, 1, 15, 0, tzinfo=UTC))
    assert tick(worker) == 1
    pain = outcome_texts(sessions, eid)[-1]
    assert pain.plan_key.endswith(":3m:nprs") and pain.sent_at.astimezone(NY).hour == 10


def test_one_reminder_after_48_hours_then_nothing_more_at_that_time_point(app, sessions, fake_twilio, episode,
                                                                          worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    first = outcome_texts(sessions, eid)[-1]
    clock.set(SIX_WEEKS + timedelta(hours=47, minutes=59))
    assert tick(worker) == 0
    clock.set(SIX_WEEKS + timedelta(hours=48))
    assert tick(worker) == 1
    reminder = outcome_texts(sessions, eid)[-1]
    assert reminder.plan_key == first.plan_key + ":reminder" and reminder.body == first.body
    assert reminder.status == "sent"
    # Unanswered again: the time point ends there (no third text, no walking question).
    for hours in (96, 120, 200):
        clock.set(SIX_WEEKS + timedelta(hours=hours))
        assert tick(worker) == 0
    assert [t.plan_key.rsplit(":", 2)[-2:] for t in outcome_texts(sessions, eid)
            if ":6w:" in t.plan_key] == [["6w", "nprs"], ["nprs", "reminder"]]


def test_an_answer_to_the_reminder_counts_and_the_next_question_follows(app, sessions, fake_twilio, episode,
                                                                        worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(SIX_WEEKS + timedelta(hours=48))
    tick(worker)
    reminder = outcome_texts(sessions, eid)[-1]
    clock.advance(timedelta(hours=1))
    text_in(app, fake_twilio, "4")
    with sessions() as s:
        answer = s.scalars(select(Observation).where(Observation.time_point == "6w")).one()
        assert (answer.value, answer.message_id) == (Decimal(4), reminder.id)
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].plan_key.endswith(":6w:walk_minutes")


def test_an_answer_late_in_the_evening_sends_the_next_question_after_quiet_hours(app, sessions, fake_twilio,
                                                                                 episode, worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    late = datetime(2027, 3, 16, 21, 30, tzinfo=NY)  # 21:30 in New York: quiet hours
    clock.set(late)
    text_in(app, fake_twilio, "3")
    walk = outcome_texts(sessions, eid)[-1]
    assert walk.plan_key.endswith(":6w:walk_minutes") and walk.status == "scheduled"
    assert walk.send_at == datetime(2027, 3, 17, 8, 0, tzinfo=NY)
    assert worker.dispatcher.dispatch_due().sent == 0
    clock.set(walk.send_at)
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "sent"


def test_an_unreadable_answer_is_asked_again_once_with_the_question_s_own_words(app, sessions, fake_twilio,
                                                                                 episode, worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    text_in(app, fake_twilio, "2")
    worker.dispatcher.dispatch_due()
    twiml = text_in(app, fake_twilio, "depends on the day")
    assert "reply with a number of minutes" in twiml
    text_in(app, fake_twilio, "an hour")
    assert observations(sessions, eid)[-1] == ("walk_minutes", "6w", Decimal(60), "sms")
    worker.dispatcher.dispatch_due()
    twiml = text_in(app, fake_twilio, "hard to say")
    assert "from 1 (much better) to 7 (much worse)" in twiml
    text_in(app, fake_twilio, "much beter")
    assert observations(sessions, eid)[-1] == ("global_change", "6w", Decimal(1), "sms")


def test_at_72_hours_walking_is_asked_once_the_72_hour_check_is_answered(app, sessions, fake_twilio, episode,
                                                                        worker, clock) -> None:
    _, eid = episode()
    check_at = datetime(2027, 2, 5, 13, 0, tzinfo=UTC)
    clock.set(check_at - timedelta(hours=2))  # 06:00 in New York, the 72h day: still quiet, nothing
    assert tick(worker) == 0
    clock.set(check_at)
    tick(worker)  # the 72-hour check goes (it asks the pain); no outcome text of its own
    assert not [t for t in outcome_texts(sessions, eid) if ":72h:" in t.plan_key]
    clock.advance(timedelta(hours=1))
    text_in(app, fake_twilio, "3")
    # The time point's own questions start at the outcome rule's 10:00 local (15:00 UTC in February).
    clock.set(datetime(2027, 2, 5, 14, 59, tzinfo=UTC))
    assert tick(worker) == 0
    clock.set(datetime(2027, 2, 5, 15, 0, tzinfo=UTC))
    assert tick(worker) == 1
    (walk,) = [t for t in outcome_texts(sessions, eid) if ":72h:" in t.plan_key]
    assert walk.plan_key.endswith(":72h:walk_minutes") and walk.status == "sent"
    text_in(app, fake_twilio, "10 minutes")
    assert observations(sessions, eid)[-2:] == [("nprs", "72h", Decimal(3), "sms"),
                                                ("walk_minutes", "72h", Decimal(10), "sms")]


def test_nothing_after_the_patient_opts_out(app, sessions, fake_twilio, episode, worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    assert "<Message>" not in text_in(app, fake_twilio, "STOP")
    for hours in (48, 49, 100):
        clock.set(SIX_WEEKS + timedelta(hours=hours))
        assert tick(worker) == 0
    clock.set(datetime(2027, 5, 3, 14, 0, tzinfo=UTC))  # three months on
    assert tick(worker) == 0
    assert [t for t in outcome_texts(sessions, eid) if t.status == "sent"][-1].plan_key.endswith(":6w:nprs")


def test_a_question_queued_before_an_opt_out_is_never_sent(app, sessions, fake_twilio, episode, worker, clock,
                                                           seed) -> None:
    pid, eid = episode()
    late = datetime(2027, 3, 16, 19, 59, tzinfo=NY)
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(late)
    text_in(app, fake_twilio, "5")  # the walking question waits (it would go now, but the patient opts out)

    def out(session: Any, env: Any) -> int:
        from pathway.models import Patient
        return patient_service.opt_out(session, env, Actor(role="system", label="test"), session.get(Patient, pid),
                                       "phone call")

    seed(out)
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "suppressed"


def test_nothing_for_a_cancelled_episode_and_a_waiting_question_is_cancelled(app, sessions, fake_twilio, episode,
                                                                             worker, clock, seed, people) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 0, tzinfo=NY))
    text_in(app, fake_twilio, "5")  # the walking question waits for the morning
    seed(ep.cancel_episode, people["coordinator"], eid, {"reason": "patient moved away"})
    assert outcome_texts(sessions, eid)[-1].status == "cancelled"
    for at in (datetime(2027, 3, 17, 12, 0, tzinfo=UTC), datetime(2027, 5, 3, 14, 0, tzinfo=UTC)):
        clock.set(at)
        assert tick(worker) == 0


def test_nothing_for_a_patient_without_consent(sessions, episode, worker, clock) -> None:
    _, eid = episode(sms_consent=False)
    tick(worker)
    clock.set(SIX_WEEKS)
    assert tick(worker) == 0
    assert outcome_texts(sessions, eid) == []


def test_a_baseline_question_not_sent_before_the_procedure_is_dropped(sessions, episode, worker, clock) -> None:
    _, eid = episode()
    clock.set(datetime(2027, 2, 2, 14, 0, tzinfo=UTC))  # the procedure started an hour ago
    worker.dispatcher.dispatch_due()
    (baseline,) = outcome_texts(sessions, eid)
    assert baseline.status == "cancelled" and "procedure has started" in (baseline.status_reason or "")


def test_no_outcome_question_while_another_question_is_open(sessions, episode, worker, clock, seed) -> None:
    pid, eid = episode()

    def open_question(session: Any, env: Any) -> None:  # a question text that went out an hour before
        at = SIX_WEEKS - timedelta(hours=1)
        session.add(Message(patient_id=pid, episode_id=eid, kind="check_72h", language="en", body="Pain 0-10?",
                            plan_key="check_72h::test", send_at=at, status="sent", sent_at=at, attempts=1,
                            created_at=at, updated_at=at))

    seed(open_question)
    clock.set(SIX_WEEKS)
    assert tick(worker) == 0  # a reply now must answer that question, not a new one
    clock.set(SIX_WEEKS + timedelta(hours=46, minutes=59))
    assert tick(worker) == 0
    clock.set(SIX_WEEKS + timedelta(hours=47))  # 48 hours after it went: its answer window has closed
    assert tick(worker) == 1 and outcome_texts(sessions, eid)[-1].plan_key.endswith(":6w:nprs")


def test_two_people_recording_the_same_outcome_at_once_leave_one_current_value(sessions, episode, rules, clock,
                                                                               people) -> None:
    import threading

    from pathway.services.base import Env
    from pathway.services.outcomes import record_outcome

    _, eid = episode()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def record(value: int, who: str) -> None:
        try:
            start.wait(timeout=10)
            with sessions.begin() as s:
                record_outcome(s, Env(rules=rules, now=clock()), people[who], eid,
                               {"time_point": "visit", "measure": "odi", "value": value, "source": "visit"})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(v, who)) for v, who in ((30, "coordinator"), (32, "clinician"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with sessions() as s:
        rows = list(s.scalars(select(Observation).where(Observation.episode_id == eid, Observation.code == "odi")
                              .order_by(Observation.id)))
    assert len(rows) == 2
    current = [o for o in rows if o.superseded_at is None]
    assert len(current) == 1 and current[0].id == rows[1].id
    assert rows[0].superseded_by_id == rows[1].id


def test_a_waiting_question_is_reworded_when_the_patient_s_language_changes(app, sessions, fake_twilio, episode,
                                                                           worker, clock, seed, people) -> None:
    pid, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 0, tzinfo=NY))
    text_in(app, fake_twilio, "5")  # the walking question waits for the morning, in English
    assert "How many minutes can you walk" in outcome_texts(sessions, eid)[-1].body
    seed(patient_service.update_patient, people["coordinator"], pid, {"language": "es"})
    walk = outcome_texts(sessions, eid)[-1]
    assert (walk.status, walk.language) == ("scheduled", "es")
    assert "¿Cuántos minutos puede caminar antes de tener que parar a descansar?" in walk.body


def tasks_of(sessions: Any, eid: int) -> list[tuple[str, str]]:
    from pathway.models import Task
    with sessions() as s:
        return [(t.kind, t.subject) for t in s.scalars(select(Task).where(Task.episode_id == eid).order_by(Task.id))]


def replies_of(sessions: Any, eid: int) -> list[str]:
    from pathway.models import Reply
    with sessions() as s:
        return [r.classification for r in s.scalars(select(Reply).where(Reply.episode_id == eid).order_by(Reply.id))]


@pytest.mark.parametrize("body", ["ok", "got it", "Thanks!", "👍", "gracias", "ok gracias", "Okkk thank you 🙏🏽"])
def test_an_acknowledgement_of_the_enrolment_text_is_neither_re_asked_nor_a_worklist_item(
        app, sessions, fake_twilio, episode, worker, clock, body) -> None:
    _, eid = episode()
    tick(worker)
    (pain,) = outcome_texts(sessions, eid)
    clock.advance(timedelta(minutes=3))
    assert "<Message>" not in text_in(app, fake_twilio, body)
    assert tasks_of(sessions, eid) == [] and replies_of(sessions, eid) == ["acknowledgement"]
    assert observations(sessions, eid) == []
    # The question stays open: the real answer later counts, and the walking question follows.
    clock.advance(timedelta(hours=2))
    assert "<Message>" not in text_in(app, fake_twilio, "6")
    assert observations(sessions, eid) == [("nprs", "baseline", Decimal(6), "sms")]
    with sessions() as s:
        assert s.scalars(select(Observation)).one().message_id == pain.id


def test_an_acknowledged_question_is_still_reminded_once_at_48_hours(app, sessions, fake_twilio, episode, worker,
                                                                     clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.advance(timedelta(hours=1))
    text_in(app, fake_twilio, "ok thanks")
    clock.set(SIX_WEEKS + timedelta(hours=48))
    assert tick(worker) == 1
    assert outcome_texts(sessions, eid)[-1].plan_key.endswith(":6w:nprs:reminder")
    assert tasks_of(sessions, eid) == []


@pytest.mark.parametrize(("body", "task"), [
    ("ok thank you, this is her daughter", "answer_unread"),  # who writes is for a person to know
    ("ok but my leg is numb", "red_flag"),  # the red-flag reader reads every reply
    ("gracias pero tengo calentura", "red_flag"),
    ("ok?", "answer_unread"),
])
def test_a_reply_with_more_than_an_acknowledgement_still_goes_to_a_person(app, sessions, fake_twilio, episode,
                                                                          worker, clock, body, task) -> None:
    _, eid = episode()
    tick(worker)
    clock.advance(timedelta(minutes=3))
    twiml = text_in(app, fake_twilio, body)
    assert "<Message>" in twiml  # re-asked, or told to call at once
    assert [k for k, _ in tasks_of(sessions, eid)] == [task]


# The six-week window is days 35-49 from the procedure's local date (2027-02-02): it closes when
# 2027-03-24 begins in New York.
SIX_WEEKS_CLOSES = datetime(2027, 3, 24, 0, 0, tzinfo=NY)


def status_in(app: Any, fake: Any, msg: Message, status: str, error_code: int | None = None) -> None:
    """Twilio's signed status callback for a text."""
    params = fake.callback_params(msg.provider_id, status, error_code=error_code)
    path = f"/webhooks/twilio/status?m={msg.id}"
    sig = RequestValidator(fake.auth_token).compute_signature(PUBLIC_URL + path, params)
    assert app.test_client().post(path, data=params, headers={"X-Twilio-Signature": sig}).status_code == 204


def not_asked_items(sessions: Any, eid: int) -> list[tuple[str, str, int]]:
    from pathway.models import Task
    with sessions() as s:
        return [(t.subject, t.summary, t.priority) for t in s.scalars(
            select(Task).where(Task.episode_id == eid, Task.kind == "outcome_not_asked").order_by(Task.id))]


def test_a_question_that_waited_past_its_window_is_cancelled_at_send_time(app, sessions, fake_twilio, episode,
                                                                         worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 30, tzinfo=NY))
    text_in(app, fake_twilio, "3")  # the walking question waits for the morning...
    walk = outcome_texts(sessions, eid)[-1]
    assert walk.status == "scheduled" and walk.plan_key.endswith(":6w:walk_minutes")
    sent_before = fake_twilio.count()
    # ...and the worker is stopped until the window has closed.
    clock.set(SIX_WEEKS_CLOSES)
    assert tick(worker) == 0  # nothing new queued either
    walk = outcome_texts(sessions, eid)[-1]
    assert walk.status == "cancelled" and "window has closed" in (walk.status_reason or "")
    assert fake_twilio.count() == sent_before
    (item,) = not_asked_items(sessions, eid)
    assert item[0] == f"outcome:{eid}:6w" and "6 weeks outcome" in item[1] and "next visit" in item[1]


def test_a_question_is_still_sent_on_the_window_s_last_day(app, sessions, fake_twilio, episode, worker,
                                                          clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 30, tzinfo=NY))
    text_in(app, fake_twilio, "3")
    clock.set(SIX_WEEKS_CLOSES - timedelta(hours=5))  # 19:00 on day 49: still open, not quiet
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "sent"
    assert not_asked_items(sessions, eid) == []


def test_a_waiting_question_whose_quiet_hours_outlast_the_window_is_cancelled(app, sessions, fake_twilio, episode,
                                                                              worker, clock) -> None:
    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 30, tzinfo=NY))
    text_in(app, fake_twilio, "3")
    clock.set(SIX_WEEKS_CLOSES - timedelta(hours=2))  # 22:00 on day 49: quiet until after the window
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "cancelled"


def test_no_question_or_reminder_is_queued_once_the_window_has_closed(app, sessions, fake_twilio, episode, worker,
                                                                      clock) -> None:
    _, eid = episode()
    clock.set(datetime(2027, 3, 22, 10, 0, tzinfo=NY))  # day 48: the worker was stopped since day 42
    assert tick(worker) == 1
    clock.set(datetime(2027, 3, 24, 10, 0, tzinfo=NY))  # its reminder would be due, the window closed
    assert tick(worker) == 0
    assert [t.plan_key.rsplit(":", 1)[-1] for t in outcome_texts(sessions, eid) if ":6w:" in t.plan_key] == ["nprs"]


def test_an_undelivered_question_puts_one_item_per_time_point_on_the_worklist(app, sessions, fake_twilio, episode,
                                                                             worker, clock, seed, people) -> None:
    from pathway.services.outcomes import record_outcome
    from pathway.services.tasks import PRIORITY

    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.advance(timedelta(minutes=30))
    text_in(app, fake_twilio, "4")
    worker.dispatcher.dispatch_due()
    walk = outcome_texts(sessions, eid)[-1]
    status_in(app, fake_twilio, walk, "undelivered", error_code=30008)  # the carrier's unknown error
    (item,) = not_asked_items(sessions, eid)
    assert item == (f"outcome:{eid}:6w", "The patient could not be asked their 6 weeks outcome by text: ask it when "
                    "you call, or record it at the next visit", PRIORITY["outcome_not_asked"])
    assert item[2] > PRIORITY["answer_unread"]  # low priority: below every item about a reply
    clock.advance(timedelta(hours=49))
    assert tick(worker) == 0  # no reminder of a question that never arrived
    # The coordinator records the walking on the phone; the next question goes, and does not
    # arrive either: still one item for the time point.
    seed(record_outcome, people["coordinator"], eid, {"time_point": "6w", "measure": "walk_minutes", "value": 20,
                                                      "source": "phone"})
    assert tick(worker) == 1
    change = outcome_texts(sessions, eid)[-1]
    assert change.plan_key.endswith(":6w:global_change") and change.status == "sent"
    status_in(app, fake_twilio, change, "failed", error_code=30008)
    assert len(not_asked_items(sessions, eid)) == 1


def test_a_question_suppressed_at_send_time_puts_an_item_on_the_worklist(app, sessions, fake_twilio, episode,
                                                                         worker, clock, seed) -> None:
    pid, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 30, tzinfo=NY))
    text_in(app, fake_twilio, "3")  # the walking question waits for the morning

    def flag(session: Any, env: Any) -> None:  # meanwhile another text's carrier refused the number
        from pathway.models import Patient
        patient = session.get(Patient, pid)
        patient.phone_flagged_at, patient.phone_flag_reason = env.now, "carrier error 30006: landline"

    seed(flag)
    clock.set(datetime(2027, 3, 17, 8, 0, tzinfo=NY))
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "suppressed"
    assert [s for s, _, _ in not_asked_items(sessions, eid)] == [f"outcome:{eid}:6w"]


def test_a_question_the_provider_refuses_puts_an_item_on_the_worklist(app, sessions, fake_twilio, episode, worker,
                                                                      clock) -> None:
    from tests.fakes.fake_twilio import Fault

    _, eid = episode()
    clock.set(SIX_WEEKS - timedelta(minutes=1))
    tick(worker)  # every other text due goes
    clock.set(SIX_WEEKS)
    assert worker.housekeeping_tick().outcome_texts == 1
    fake_twilio.inject(Fault.error(21211))  # an invalid number: refused for good
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "failed"
    assert [s for s, _, _ in not_asked_items(sessions, eid)] == [f"outcome:{eid}:6w"]


def test_no_item_for_a_baseline_or_a_reminder_that_did_not_go(app, sessions, fake_twilio, episode, worker,
                                                             clock) -> None:
    _, eid = episode()
    tick(worker)
    status_in(app, fake_twilio, outcome_texts(sessions, eid)[-1], "undelivered", error_code=30008)
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(SIX_WEEKS + timedelta(hours=48))
    tick(worker)
    reminder = outcome_texts(sessions, eid)[-1]
    assert reminder.plan_key.endswith(":reminder")
    status_in(app, fake_twilio, reminder, "undelivered", error_code=30008)
    assert not_asked_items(sessions, eid) == []  # the question itself reached the patient


def test_a_value_staff_record_cancels_its_waiting_question_and_the_next_one_follows(app, sessions, fake_twilio,
                                                                                   episode, worker, clock, seed,
                                                                                   people) -> None:
    from pathway.services.outcomes import RECORDED, record_outcome

    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 30, tzinfo=NY))
    text_in(app, fake_twilio, "3")  # the walking question waits for the morning
    walk = outcome_texts(sessions, eid)[-1]
    assert walk.plan_key.endswith(":6w:walk_minutes") and walk.status == "scheduled"
    # The coordinator calls the patient that evening and records the walking.
    seed(record_outcome, people["coordinator"], eid, {"time_point": "6w", "measure": "walk_minutes", "value": 25,
                                                      "source": "phone"})
    texts = outcome_texts(sessions, eid)
    assert (texts[-2].id, texts[-2].status, texts[-2].status_reason) == (walk.id, "cancelled", RECORDED)
    change = texts[-1]
    assert change.plan_key.endswith(":6w:global_change") and change.status == "scheduled"
    clock.set(datetime(2027, 3, 17, 8, 0, tzinfo=NY))
    worker.dispatcher.dispatch_due()
    assert outcome_texts(sessions, eid)[-1].status == "sent"
    assert not [b for b in fake_twilio.bodies() if "How many minutes can you walk" in b]  # never sent
    assert observations(sessions, eid)[-1] == ("walk_minutes", "6w", Decimal(25), "phone")


def test_a_value_recorded_as_an_observation_stops_its_waiting_question_at_send_time(app, sessions, fake_twilio,
                                                                                   episode, worker, clock, seed,
                                                                                   people) -> None:
    from pathway.services.observations import record_observation

    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)
    clock.set(datetime(2027, 3, 16, 21, 30, tzinfo=NY))
    text_in(app, fake_twilio, "3")
    seed(record_observation, people["coordinator"], eid, {"code": "walk_minutes", "value": 25, "time_point": "6w"})
    clock.set(datetime(2027, 3, 17, 8, 0, tzinfo=NY))
    worker.dispatcher.dispatch_due()
    walk = [t for t in outcome_texts(sessions, eid) if t.plan_key.endswith(":6w:walk_minutes")]
    assert [t.status for t in walk] == ["cancelled"]
    assert not_asked_items(sessions, eid) == []  # recorded: nobody needs to ask it
    assert tick(worker) == 1 and outcome_texts(sessions, eid)[-1].plan_key.endswith(":6w:global_change")


def test_an_answer_to_an_open_question_after_staff_recorded_the_value_is_the_last_entry_and_wins(
        app, sessions, fake_twilio, episode, worker, clock, seed, people) -> None:
    from pathway.services.outcomes import record_outcome

    _, eid = episode()
    clock.set(SIX_WEEKS)
    tick(worker)  # the pain question is sent: open
    clock.advance(timedelta(hours=1))
    seed(record_outcome, people["coordinator"], eid, {"time_point": "6w", "measure": "nprs", "value": 5,
                                                      "source": "phone"})
    assert outcome_texts(sessions, eid)[-1].status == "sent"
    clock.advance(timedelta(hours=1))
    text_in(app, fake_twilio, "6")
    assert observations(sessions, eid)[-1] == ("nprs", "6w", Decimal(6), "sms")
    with sessions() as s:
        rows = [(o.value, o.source, o.superseded_at is None) for o in s.scalars(
            select(Observation).where(Observation.episode_id == eid, Observation.code == "nprs",
                                      Observation.time_point == "6w").order_by(Observation.id))]
    assert rows == [(Decimal(5), "phone", False), (Decimal(6), "sms", True)]


def test_an_acknowledgement_in_the_first_two_weeks_after_the_procedure_is_still_read_by_a_person(
        app, sessions, fake_twilio, episode, worker, clock) -> None:
    _, eid = episode()
    clock.set(datetime(2027, 2, 5, 13, 0, tzinfo=UTC))
    tick(worker)  # the 72-hour check
    clock.advance(timedelta(hours=1))
    text_in(app, fake_twilio, "3")
    clock.set(datetime(2027, 2, 5, 15, 0, tzinfo=UTC))
    tick(worker)  # the 72-hour walking question
    clock.advance(timedelta(minutes=5))
    assert "reply with a number of minutes" in text_in(app, fake_twilio, "ok thanks")
    assert [k for k, _ in tasks_of(sessions, eid)] == ["answer_unread"]


def test_an_ok_to_the_stop_question_is_read_by_a_person(app, sessions, fake_twilio, episode, worker, clock,
                                                        seed) -> None:
    pid, eid = episode()

    def stop_question(session: Any, env: Any) -> None:  # a stop question that went out a minute ago
        at = clock() - timedelta(minutes=1)
        session.add(Message(patient_id=pid, episode_id=eid, kind="stop_confirm", language="en",
                            body="Have you stopped? Reply YES or NO", plan_key="stop_confirm::test", send_at=at,
                            status="sent", sent_at=at, attempts=1, created_at=at, updated_at=at))

    seed(stop_question)
    assert "<Message>" in text_in(app, fake_twilio, "ok")  # "ok" may mean yes: asked again
    assert [k for k, _ in tasks_of(sessions, eid)] == ["answer_unread"]
