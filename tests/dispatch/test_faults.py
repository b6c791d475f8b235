"""30 % of Twilio requests fail (429, 500, 503 after recording, read timeouts, dropped
connections): every text still ends sent exactly once, or failed/unknown with a task for a person.

In process: the real Dispatcher, reconcile and housekeeping, the real Twilio SDK over HTTP to
the fake, and a stepping clock shared with the fake (so its ``date_created`` agrees with ours).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from pathway.dispatch.housekeeping import housekeeping
from pathway.dispatch.reconcile import reconcile_unknown
from pathway.models import Message, MessageEvent
from tests.dispatch import _bulk
from tests.dispatch._outcome import check_outbox, open_count

TEXTS = 200
SEED = 7
STEP = timedelta(seconds=45)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "max_attempts"), [(SEED, 5), (SEED + 2, 2)])
def test_random_faults_never_lose_or_double_a_text(
    seed, max_attempts, sessions, make_dispatcher, twilio_transport_factory, rules, clock, fake_twilio, outbox_db
) -> None:
    from pathway.db import make_engine

    engine = make_engine(outbox_db.url)
    try:
        pids = _bulk.add_patients(engine, 50, tz="America/New_York", now=clock(), tag="F")
        ids = _bulk.add_texts(engine, pids, TEXTS, send_at=clock(), now=clock(), tag=f"fault{seed}")
    finally:
        engine.dispose()
    fake_twilio.clock = clock
    policy = fake_twilio.random_faults(rate=0.3, seed=seed, hold=0.6)
    transport = twilio_transport_factory(timeout=0.3)
    d = make_dispatcher(transport=transport, concurrency=4, batch_size=50, max_attempts=max_attempts,
                        reconcile_grace=timedelta(minutes=3))
    outcomes: Counter[str] = Counter()
    found = resend = 0
    for _ in range(200):
        report = d.dispatch_due()
        outcomes.update(report.outcomes.values())
        rec = reconcile_unknown(sessions, transport, d.settings, rules, clock=clock, worker_id="w1", limit=200)
        found, resend = found + rec.found, resend + rec.resend
        with sessions.begin() as s:
            housekeeping(s, clock(), "w1")
        if open_count(sessions) == 0:
            break
        clock.advance(STEP)
    assert open_count(sessions) == 0, "the outbox did not settle"

    kinds = Counter(f.kind if f.kind != "error" else str(f.status) for f in policy.decisions if f is not None)
    # Every kind of fault happened, so every path was taken.
    assert set(kinds) == {"429", "500", "503", "timeout_after_recording", "drop_before_recording",
                          "drop_after_recording"}, kinds
    assert found > 0 and resend > 0 and outcomes["scheduled"] > 0 and outcomes["unknown"] > 0
    verdict = check_outbox(sessions, fake_twilio, ids)
    print(f"seed {seed}: faults {dict(kinds)}; outcomes {dict(outcomes)}; reconciled found {found}, resend {resend};"
          f" {verdict.delivered} sent, {verdict.flagged} flagged")
    verdict.assert_clean()
    assert verdict.delivered + verdict.flagged == TEXTS
    if max_attempts == 2:  # few attempts: some texts give up and go to a person
        assert verdict.flagged > 0 and verdict.delivered >= TEXTS * 0.8
    else:
        assert verdict.delivered >= TEXTS * 0.95
    # Nothing was sent after its lease or twice: one "sent" transition per text at most.
    with sessions() as s:
        to_sent = Counter(
            s.scalars(select(MessageEvent.message_id).where(MessageEvent.to_status.in_(("sent", "delivered"))))
        )
        assert not [m for m, n in to_sent.items() if n > 1]
        assert all(m.attempts <= max_attempts for m in s.scalars(select(Message)))
