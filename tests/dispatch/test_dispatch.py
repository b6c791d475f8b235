"""The dispatcher through the real twilio SDK against our fake Twilio on loopback."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from pathway.dispatch.housekeeping import housekeeping
from pathway.dispatch.reconcile import reconcile_unknown
from pathway.models import Message, MessageEvent, Patient, Task
from pathway.services import episodes as ep
from pathway.sms import ConsoleTransport
from tests.fakes.fake_twilio import Fault

UTC = UTC


def _messages(sessions, **where):
    with sessions() as s:
        stmt = select(Message).order_by(Message.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(Message, k) == v)
        return list(s.scalars(stmt))


def _events(sessions, mid):
    with sessions() as s:
        return [(e.from_status, e.to_status, e.reason) for e in
                s.scalars(select(MessageEvent).where(MessageEvent.message_id == mid).order_by(MessageEvent.id))]


def _tasks(sessions):
    with sessions() as s:
        return [(t.kind, t.subject) for t in s.scalars(select(Task).order_by(Task.id))]


def test_a_due_text_is_sent_once_with_a_callback_url_carrying_our_id(
    sessions, enrol, make_dispatcher, fake_twilio
) -> None:
    pid = enrol()
    d = make_dispatcher()
    report = d.dispatch_due()
    assert (report.claimed, report.sent) == (1, 1)
    (msg,) = _messages(sessions)
    assert msg.status == "sent" and msg.provider_id.startswith("SM") and msg.attempts == 1
    (rec,) = fake_twilio.records()
    assert rec.sid == msg.provider_id and rec.body == msg.body and rec.to == "+12125550001"
    assert parse_qs(urlparse(rec.status_callback).query) == {"m": [str(msg.id)]}
    assert rec.status_callback.startswith("https://pathway.clinic.example/webhooks/twilio/status")
    assert [e[:2] for e in _events(sessions, msg.id)] == [
        (None, "scheduled"),
        ("scheduled", "sending"),
        ("sending", "sent"),
    ]
    # Nothing is due any more: a second pass sends nothing.
    assert d.dispatch_due().claimed == 0 and fake_twilio.count() == 1
    assert pid


def test_console_backend_records_texts_as_delivered(sessions, enrol, make_dispatcher, clock) -> None:
    enrol()
    d = make_dispatcher(transport=ConsoleTransport(clock=clock, stream=io.StringIO()))
    assert d.dispatch_due().sent == 1
    assert _messages(sessions)[0].status == "delivered"


def test_texts_not_yet_due_stay_scheduled(sessions, seed, people, enrol, make_dispatcher, fake_twilio) -> None:
    pid = enrol()
    seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    make_dispatcher().dispatch_due()
    assert fake_twilio.count() == 1  # only the enrolment text; reminders are weeks away
    assert {m.kind for m in _messages(sessions, status="scheduled")} == {"pre_procedure", "check_72h"}


def test_opted_out_patient_text_is_suppressed_at_send_time(sessions, seed, enrol, make_dispatcher, fake_twilio) -> None:
    pid = enrol()
    with sessions.begin() as s:  # opted out after planning, before sending: the row still says scheduled
        s.get(Patient, pid).opted_out_at = datetime(2027, 1, 1, tzinfo=UTC)
    make_dispatcher().dispatch_due()
    (msg,) = _messages(sessions)
    assert msg.status == "suppressed" and "opted out" in msg.status_reason
    assert fake_twilio.count() == 0


def test_unapproved_hold_text_is_suppressed_at_send_time(sessions, seed, people, enrol, make_dispatcher, clock,
                                                         fake_twilio) -> None:
    pid = enrol()
    eid = seed(ep.schedule_episode, people["coordinator"], pid,
               {"procedure_at": "2027-03-10T08:00", "holds": [{"drug": "clopidogrel"}]})
    with sessions() as s:
        hold_id = s.scalars(select(ep.MedicationHold.id).where(ep.MedicationHold.episode_id == eid)).one()
    seed(ep.record_clearance, people["clinician"], hold_id, {"status": "approved", "by": "Dr. O"})
    with sessions.begin() as s:  # the signature withdrawn behind the planner's back
        s.get(ep.MedicationHold, hold_id).signed_at = None
    clock.set(datetime(2027, 3, 1, 22, 0, tzinfo=UTC))
    make_dispatcher().dispatch_due()
    (last_dose,) = _messages(sessions, kind="last_dose")
    assert last_dose.status == "suppressed" and "no longer approved" in last_dose.status_reason
    assert not any("blood thinner" in b for b in fake_twilio.bodies())


def test_quiet_hours_defer_a_late_text_to_the_patients_morning(
    sessions, enrol, make_dispatcher, clock, fake_twilio
) -> None:
    enrol(timezone="America/Los_Angeles")  # enrolled at 07:00 Pacific: planned for 08:00
    (msg,) = _messages(sessions)
    assert msg.send_at == datetime(2027, 2, 1, 16, 0, tzinfo=UTC)
    with sessions.begin() as s:  # someone moved it into the night
        s.get(Message, msg.id).send_at = datetime(2027, 2, 1, 5, 0, tzinfo=UTC)
    clock.set(datetime(2027, 2, 1, 5, 30, tzinfo=UTC))  # 21:30 Pacific
    make_dispatcher().dispatch_due()
    (msg,) = _messages(sessions)
    assert msg.status == "scheduled" and msg.send_at == datetime(2027, 2, 1, 16, 0, tzinfo=UTC)
    assert fake_twilio.count() == 0


def test_cancelled_episode_text_is_cancelled_at_send_time(sessions, seed, people, enrol, make_dispatcher, clock,
                                                          fake_twilio) -> None:
    pid = enrol()
    eid = seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    with sessions.begin() as s:
        s.get(ep.Episode, eid).status = "cancelled"  # behind the planner's back
    clock.set(datetime(2027, 3, 9, 15, 0, tzinfo=UTC))
    make_dispatcher().dispatch_due()
    assert {m.status for m in _messages(sessions, kind="pre_procedure")} == {"cancelled"}


def test_429_is_retried_with_backoff_and_then_sent(sessions, enrol, make_dispatcher, clock, fake_twilio) -> None:
    enrol()
    fake_twilio.inject(Fault.too_many_requests(retry_after="90"))
    d = make_dispatcher()
    assert d.dispatch_due().retry == 1
    (msg,) = _messages(sessions)
    assert msg.status == "scheduled" and msg.error_code == 20429
    assert msg.send_at >= clock() + timedelta(seconds=90)  # never sooner than Retry-After
    assert d.dispatch_due().claimed == 0  # not due yet
    clock.set(msg.send_at)
    assert d.dispatch_due().sent == 1
    assert fake_twilio.count() == 1 and _messages(sessions)[0].attempts == 2


def test_retries_end_in_failed_with_a_task_for_a_person(sessions, enrol, make_dispatcher, clock, fake_twilio) -> None:
    enrol()
    d = make_dispatcher()
    for _ in range(4):
        fake_twilio.inject(Fault.too_many_requests())
        d.dispatch_due()
        clock.advance(timedelta(hours=2))
    (msg,) = _messages(sessions)
    assert msg.status == "failed" and msg.attempts == 4 and fake_twilio.count() == 0
    assert ("send_failed", f"message:{msg.id}") in _tasks(sessions)


@pytest.mark.parametrize("code", [21211, 21614, 21408, 21612])
def test_permanent_errors_fail_flag_the_phone_and_ask_a_person(
    code, sessions, enrol, make_dispatcher, fake_twilio
) -> None:
    pid = enrol()
    fake_twilio.inject(Fault.error(code))
    d = make_dispatcher()
    d.dispatch_due()
    (msg,) = _messages(sessions)
    assert msg.status == "failed" and msg.error_code == code
    with sessions() as s:
        assert s.get(Patient, pid).phone_flagged_at is not None
    assert ("phone_invalid", f"patient:{pid}") in _tasks(sessions)
    assert d.dispatch_due().claimed == 0  # no retry


def test_21610_opts_the_patient_out_and_suppresses_their_other_texts(sessions, seed, people, enrol, make_dispatcher,
                                                                     fake_twilio) -> None:
    pid = enrol()
    seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    fake_twilio.inject(Fault.error(21610))
    make_dispatcher().dispatch_due()
    statuses = {m.kind: m.status for m in _messages(sessions)}
    assert statuses == {"enrolment": "failed", "pre_procedure": "suppressed", "check_72h": "suppressed"}
    with sessions() as s:
        assert s.get(Patient, pid).opted_out_at is not None


def test_timeout_after_twilio_recorded_it_is_reconciled_as_sent_without_a_second_text(
        sessions, enrol, make_dispatcher, rules, clock, fake_twilio) -> None:
    enrol()
    fake_twilio.clock = clock
    fake_twilio.inject(Fault.timeout_after_recording(hold=3.0))
    d = make_dispatcher()
    assert d.dispatch_due().unknown == 1
    (msg,) = _messages(sessions)
    assert msg.status == "unknown"
    rec = reconcile_unknown(sessions, d.transport, d.settings, rules, clock=clock, worker_id="w1")
    assert rec.found == 1
    (msg,) = _messages(sessions)
    assert msg.status == "sent" and msg.provider_id == fake_twilio.records()[0].sid
    assert fake_twilio.count() == 1


def test_5xx_that_never_reached_twilio_is_resent_only_after_the_grace_period(
        sessions, enrol, make_dispatcher, rules, clock, fake_twilio) -> None:
    enrol()
    fake_twilio.clock = clock
    fake_twilio.inject(Fault.server_error(500))
    d = make_dispatcher()
    d.dispatch_due()
    assert _messages(sessions)[0].status == "unknown"
    assert reconcile_unknown(sessions, d.transport, d.settings, rules, clock=clock, worker_id="w1").waiting == 1
    assert _messages(sessions)[0].status == "unknown"  # not found yet, but Twilio may be slow: wait
    clock.advance(timedelta(minutes=6))
    assert reconcile_unknown(sessions, d.transport, d.settings, rules, clock=clock, worker_id="w1").resend == 1
    assert d.dispatch_due().sent == 1
    assert fake_twilio.count() == 1 and _messages(sessions)[0].status == "sent"


def test_a_worker_that_died_mid_send_leaves_unknown_that_is_reconciled(
        sessions, enrol, make_dispatcher, rules, clock, fake_twilio) -> None:
    enrol()
    fake_twilio.clock = clock
    d = make_dispatcher()
    claimed = d.claim()  # claimed and committed ...
    d.transport.send(__import__("pathway.sms", fromlist=["OutgoingSms"]).OutgoingSms(
        ref="m", to=claimed[0].to, body=claimed[0].body, status_callback=None))  # ... sent, then the worker died
    clock.advance(timedelta(minutes=2))
    with sessions.begin() as s:
        assert housekeeping(s, clock(), "w2").recovered == 1
    assert _messages(sessions)[0].status == "unknown"
    reconcile_unknown(sessions, d.transport, d.settings, rules, clock=clock, worker_id="w2")
    assert _messages(sessions)[0].status == "sent" and fake_twilio.count() == 1
    assert d.dispatch_due().claimed == 0


def test_shared_rate_limit_spaces_texts_across_workers(sessions, enrol, make_dispatcher, clock, fake_twilio) -> None:
    for _ in range(4):
        enrol()
    a = make_dispatcher(worker_id="a", rate_per_second=1.0, sender_key="+15005550006")
    b = make_dispatcher(worker_id="b", rate_per_second=1.0, sender_key="+15005550006")
    start = clock()
    a.dispatch_due()
    b.dispatch_due()
    times = sorted(r.at for r in fake_twilio.records())
    assert len(times) == 4
    assert clock() - start >= timedelta(seconds=3)  # four texts at one a second, across both workers


def test_stopping_releases_claimed_texts_not_yet_handed_over(sessions, enrol, make_dispatcher, fake_twilio) -> None:
    enrol()
    d = make_dispatcher()
    claimed = d.claim()
    d.stop.set()
    assert d.send_one(claimed[0]) == "released"
    (msg,) = _messages(sessions)
    assert msg.status == "scheduled" and msg.attempts == 0 and fake_twilio.count() == 0


def test_drain_sends_several_full_batches_in_one_call_each_text_once(sessions, enrol, make_dispatcher,
                                                                    fake_twilio) -> None:
    for _ in range(23):
        enrol()
    d = make_dispatcher(batch_size=5, concurrency=3)
    report = d.drain(30.0)
    assert (report.claimed, report.sent) == (23, 23)
    ids = [parse_qs(urlparse(r.status_callback).query)["m"][0] for r in fake_twilio.records()]
    assert len(ids) == 23 and len(set(ids)) == 23  # each text once
    assert {m.status for m in _messages(sessions)} == {"sent"}
    assert d.drain(30.0).claimed == 0


def test_batched_writes_keep_each_transition_with_its_time_and_sid(sessions, enrol, make_dispatcher, clock,
                                                                   fake_twilio) -> None:
    """The claim and the group commit write events in bulk (arrays on PostgreSQL, executemany on
    SQLite): each text still gets its own rows, aware times, the sid as data, SQL NULL otherwise."""
    for _ in range(7):
        enrol()
    d = make_dispatcher(concurrency=3)
    assert d.drain(30.0).sent == 7
    with sessions() as s:
        msgs = list(s.scalars(select(Message).order_by(Message.id)))
        for m in msgs:
            events = list(s.scalars(select(MessageEvent).where(MessageEvent.message_id == m.id)
                                    .order_by(MessageEvent.id)))
            claimed, sent = events[-2:]
            assert (claimed.from_status, claimed.to_status, claimed.reason) == ("scheduled", "sending",
                                                                                 "claimed, attempt 1")
            assert claimed.data is None and claimed.actor == "w1" and claimed.at == clock()
            assert (sent.from_status, sent.to_status, sent.provider_status) == ("sending", "sent", "queued")
            assert sent.data == {"sid": m.provider_id} and sent.at == clock() == m.sent_at
            assert sent.reason == "accepted by provider (queued)" and sent.error_code is None
            # SQL NULL, not a JSON 'null', on both databases
            assert s.execute(select(MessageEvent.id).where(MessageEvent.id == claimed.id,
                                                           MessageEvent.data.is_(None))).scalar() == claimed.id


def test_bulk_writes_refuse_a_naive_time_and_store_nothing(sessions, enrol, make_dispatcher) -> None:
    from pathway.dispatch.outbox import acceptance
    from pathway.services import outbox

    enrol()
    d = make_dispatcher()
    (c,) = d.claim()
    naive = datetime(2027, 2, 1, 15, 0)
    with pytest.raises(Exception, match="naive"), sessions.begin() as s:
        outbox.record_many(s, [(c.id, acceptance("SM" + "0" * 32, "queued", naive), naive)], expect="sending",
                           source="dispatch", actor="w1")
    with pytest.raises(Exception, match="naive"), sessions.begin() as s:
        outbox.note(s, c.id, "x", now=naive, source="dispatch", actor="w1")
    (msg,) = _messages(sessions)
    assert msg.status == "sending" and msg.provider_id is None
    assert [e[2] for e in _events(sessions, msg.id)][-1] == "claimed, attempt 1"


def test_close_stops_the_recorder_and_hands_back_its_connection(sessions, enrol, make_dispatcher) -> None:
    enrol()
    d = make_dispatcher()
    assert d.dispatch_due().sent == 1
    recorder = d._recorder
    assert recorder is not None and recorder.is_alive()
    d.close()
    recorder.join(5)
    assert not recorder.is_alive()
    assert sessions.kw["bind"].pool.checkedout() == 0
    enrol()  # a closed dispatcher starts again on demand
    assert d.dispatch_due().sent == 1
    d.close()


def test_a_drain_sends_texts_that_fall_due_while_it_runs(sessions, enrol, make_dispatcher, clock,
                                                         twilio_transport_factory, fake_twilio) -> None:
    """A busy minute goes out as it falls due, not a tick late: the drain claims until nothing is due."""
    for _ in range(3):
        enrol()
    msgs = _messages(sessions)
    with sessions.begin() as s:
        for i, m in enumerate(msgs):
            s.get(Message, m.id).send_at = clock() + timedelta(minutes=i)
    real = twilio_transport_factory()

    class MinutePerSend:
        name, default_rate_per_second = "twilio", None

        def send(self, sms):
            result = real.send(sms)
            clock.advance(timedelta(minutes=1))
            return result

        def list_sent(self, to, since):
            return real.list_sent(to, since)

    report = make_dispatcher(transport=MinutePerSend(), batch_size=100).drain(30.0)
    assert (report.claimed, report.sent) == (3, 3) and fake_twilio.count() == 3
    assert {m.status for m in _messages(sessions)} == {"sent"}


def test_a_restart_text_never_goes_on_an_episode_without_a_recorded_end(
    sessions, seed, people, enrol, make_dispatcher, clock, fake_twilio
) -> None:
    pid = enrol()
    eid = seed(ep.schedule_episode, people["coordinator"], pid,
               {"procedure_at": "2027-03-10T08:00", "holds": [{"drug": "clopidogrel"}]})
    with sessions() as s:
        hold_id = s.scalars(select(ep.MedicationHold.id).where(ep.MedicationHold.episode_id == eid)).one()
    seed(ep.record_clearance, people["clinician"], hold_id, {"status": "approved", "by": "Dr. O"})
    clock.set(datetime(2027, 3, 10, 15, 0, tzinfo=UTC))
    seed(ep.record_procedure_end, people["clinician"], eid, {"ended_at": "2027-03-10T09:00"})
    (restart,) = _messages(sessions, kind="restart")
    with sessions.begin() as s:  # the end withdrawn behind the planner's back (or a text stored before the rule)
        s.get(ep.Episode, eid).ended_at = None
    clock.set(restart.send_at)
    make_dispatcher().dispatch_due()
    (restart,) = _messages(sessions, kind="restart")
    assert restart.status == "suppressed" and "procedure end not recorded" in restart.status_reason
    assert not any("restart" in b for b in fake_twilio.bodies())


def test_a_removed_holds_text_is_suppressed_at_send_time_even_if_it_was_still_scheduled(
        sessions, seed, people, enrol, make_dispatcher, clock, fake_twilio) -> None:
    pid = enrol()
    eid = seed(ep.schedule_episode, people["coordinator"], pid,
               {"procedure_at": "2027-03-10T08:00", "holds": [{"drug": "clopidogrel"}]})
    with sessions() as s:
        hold_id = s.scalars(select(ep.MedicationHold.id).where(ep.MedicationHold.episode_id == eid)).one()
    seed(ep.record_clearance, people["clinician"], hold_id, {"status": "approved", "by": "Dr. O"})
    with sessions.begin() as s:  # removed while a worker held the text (the re-plan could not cancel it)
        s.get(ep.MedicationHold, hold_id).removed_at = datetime(2027, 3, 1, 21, 0, tzinfo=UTC)
    clock.set(datetime(2027, 3, 1, 22, 0, tzinfo=UTC))
    make_dispatcher().dispatch_due()
    (last_dose,) = _messages(sessions, kind="last_dose")
    assert last_dose.status == "suppressed" and "no longer approved" in last_dose.status_reason
    assert not any("last dose" in b for b in fake_twilio.bodies())
