"""A worker process killed with SIGKILL at random points, then restarted: no text lost, none twice.

The worker is the real ``python -m pathway.cli worker`` (APScheduler ticks, the Twilio SDK over
HTTP to a fake Twilio in this process). A short lease and a short reconcile grace make recovery
happen within the test: texts in flight when the worker died become ``unknown`` once their lease
expires, are matched against what the fake actually received, and only what it never got is
sent again.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pathway.db import make_engine
from pathway.models import MessageEvent, Patient
from tests.dispatch import _bulk
from tests.dispatch._outcome import check_outbox, open_count
from tests.dispatch._workers import WorkerPool, assert_no_patient_data, daytime_zone, wait_for
from tests.fakes.fake_twilio import FakeTwilio

UTC = UTC
TEXTS = 300
KILLS = 5
SEED = 20270225


def _kill_at_a_random_point(pool: WorkerPool, fake: FakeTwilio, rng: random.Random) -> str:
    """Start a worker and SIGKILL it mid-batch (after a random number of new sends) or at a
    random moment (startup, claim, housekeeping, reconcile)."""
    w = pool.start()
    if rng.random() < 0.7:
        target = fake.count() + rng.randint(1, 70)
        wait_for(lambda: fake.count() >= target or not w.alive(), timeout=15, interval=0.002)
        how = f"after send #{target}"
    else:
        # A moment (start-up, claim, housekeeping, reconcile), but never after the outbox has
        # drained: a fast machine sends all the texts in under a second.
        delay = rng.uniform(0.3, 3.0)
        target = fake.count() + rng.randint(1, 70)
        wait_for(lambda: fake.count() >= target or not w.alive(), timeout=delay, interval=0.002)
        how = f"after {delay:.2f} s or send #{target}"
    assert w.alive(), f"worker {w.name} exited by itself:\n{w.output()[-3000:]}"
    w.kill()
    return how


@pytest.mark.slow
def test_a_worker_killed_at_random_points_sends_every_text_exactly_once(outbox_db, sessions, tmp_path) -> None:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    engine = make_engine(outbox_db.url)
    try:
        pids = _bulk.add_patients(engine, TEXTS, tz=daytime_zone(now), now=now, tag="K")
        ids = _bulk.add_texts(engine, pids, TEXTS, send_at=now - timedelta(minutes=1), now=now, tag="crash")
    finally:
        engine.dispose()
    with FakeTwilio() as fake, WorkerPool(outbox_db.url, fake, tmp_path) as pool:
        kills = [_kill_at_a_random_point(pool, fake, rng) for _ in range(KILLS)]
        sent_before_recovery = fake.count()
        last = pool.start()
        settled = wait_for(lambda: open_count(sessions) == 0, timeout=90, interval=0.2)
        # A loaded machine may settle the outbox before the last worker has finished starting;
        # SIGTERM before Python has its handler would end it as killed, not stopped.
        assert last.wait_started(), last.output()[-3000:]
        assert last.stop() == 0, last.output()[-3000:]
        logs = pool.logs()
        assert settled, f"outbox did not settle (kills: {kills}); still open: {open_count(sessions)}\n{logs[-4000:]}"

        verdict = check_outbox(sessions, fake, ids)
        print(f"kills: {kills}; sent before recovery {sent_before_recovery}; {verdict}")
        verdict.assert_clean()
        assert verdict.delivered + verdict.flagged == TEXTS
        assert verdict.delivered >= TEXTS - 5, f"too many texts needed a person: {verdict}"
        assert fake.count() == verdict.delivered, "the fake got a text the outbox does not call sent"
        with sessions() as s:
            phones = list(s.scalars(select(Patient.phone)))
            recovered = s.scalar(select(MessageEvent.id).where(MessageEvent.reason.like("lease expired%")).limit(1))
        # The kills really interrupted sends: some texts were recovered from an expired lease.
        assert recovered is not None, (
            f"no kill landed mid-send (kills: {kills}, sent before recovery: {sent_before_recovery})"
        )
        assert_no_patient_data(logs, phones, [r.body for r in fake.records()])


def _status(sessions) -> str:  # type: ignore[no-untyped-def]
    from pathway.models import Message

    with sessions() as s:
        return s.scalars(select(Message.status)).one()


@pytest.mark.parametrize("noticed", [True, False], ids=["marked-unknown", "still-ours"])
def test_a_worker_that_outlives_its_lease_never_sends_that_text(noticed, sessions, enrol, make_dispatcher, rules,
                                                                 clock, fake_twilio) -> None:
    """A pass slower than the lease (slow sends ahead in the batch, a stalled process): the text
    may already be another worker's. Handing it to Twilio then could be a second text."""
    from pathway.dispatch.housekeeping import housekeeping
    from pathway.dispatch.reconcile import reconcile_unknown

    enrol()
    fake_twilio.clock = clock
    slow, other = make_dispatcher(worker_id="slow"), make_dispatcher(worker_id="other")
    (claimed,) = slow.claim()
    clock.advance(slow.settings.lease + timedelta(seconds=1))
    if noticed:  # another worker's housekeeping saw the lease expire first
        with sessions.begin() as s:
            assert housekeeping(s, clock(), "other").recovered == 1
    assert slow.send_one(claimed) == "released"
    assert fake_twilio.count() == 0
    if noticed:
        assert _status(sessions) == "unknown"
        clock.advance(other.settings.reconcile_grace)
        assert reconcile_unknown(sessions, other.transport, other.settings, rules, clock=clock,
                                 worker_id="other").resend == 1
    else:
        assert _status(sessions) == "scheduled"
    assert other.dispatch_due().sent == 1
    assert fake_twilio.count() == 1 and _status(sessions) == "sent"
