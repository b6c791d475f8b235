"""Several workers on one database: each text is claimed by one of them and sent once."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from pathway import migrate
from pathway.db import make_engine, make_session_factory
from pathway.dispatch.outbox import claim_due_rows
from pathway.dispatch.reconcile import _claim_unknown
from pathway.models import Message, WorkerHeartbeat
from tests.conftest import test_database_url as _postgres_url
from tests.dispatch import _bulk
from tests.dispatch._outcome import check_outbox
from tests.dispatch._workers import WorkerPool, assert_no_patient_data, daytime_zone, wait_for
from tests.fakes.fake_twilio import FakeTwilio

UTC = UTC
WORKERS = 4
TEXTS = 2000


def test_a_claim_takes_at_most_its_batch_even_on_a_table_without_statistics(fresh_db) -> None:
    """Regression: on PostgreSQL ``id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` planned as
    a nested-loop semi join (what the planner picks before the table is analysed) re-ran the
    subquery per row and claimed every due text instead of ``n``."""
    migrate.upgrade(fresh_db.url)
    engine = make_engine(fresh_db.url)
    try:
        now = datetime.now(UTC)
        pids = _bulk.add_patients(engine, 30, tz="UTC", now=now)
        _bulk.add_texts(engine, pids, 300, send_at=now - timedelta(minutes=1), now=now)
        sessions = make_session_factory(engine)
        with sessions.begin() as s:
            assert len(claim_due_rows(s, now=now, worker_id="a", limit=25, lease=timedelta(seconds=30))) == 25
        with sessions.begin() as s:
            assert len(claim_due_rows(s, now=now, worker_id="b", limit=25, lease=timedelta(seconds=30))) == 25
        with sessions.begin() as s:
            s.execute(
                Message.__table__.update().where(Message.status == "sending").values(status="unknown", lease_until=None)
            )
        with sessions.begin() as s:
            assert len(_claim_unknown(s, now=now, worker_id="c", limit=20, lease=timedelta(seconds=30))) == 20
        with sessions() as s:
            counts = dict(s.execute(select(Message.status, func.count()).group_by(Message.status)).all())
        assert counts == {"scheduled": 250, "unknown": 50}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_four_worker_processes_send_2000_texts_exactly_once(outbox_db, sessions, tmp_path) -> None:
    if _postgres_url() is None:
        # SQLite serialises writers; it works with several workers but proves little about
        # row locking. PostgreSQL (SKIP LOCKED) is where concurrent claims must not overlap.
        pytest.skip("four concurrent workers are a PostgreSQL requirement (set PATHWAY_TEST_DATABASE_URL)")
    now = datetime.now(UTC)
    engine = make_engine(outbox_db.url)
    with FakeTwilio() as fake, WorkerPool(outbox_db.url, fake, tmp_path,
                                          {"tick_seconds": 0.1, "batch_size": 25, "concurrency": 4}) as pool:
        try:
            workers = [pool.start() for _ in range(WORKERS)]
            # All four are up (each wrote its heartbeat) before any text is due: they race.
            with sessions() as s:
                ready = wait_for(lambda: s.scalar(select(func.count()).select_from(WorkerHeartbeat)) == WORKERS
                                 or not all(w.alive() for w in workers), timeout=60, interval=0.1)
            assert ready and all(w.alive() for w in workers), pool.logs()[-3000:]
            pids = _bulk.add_patients(engine, 200, tz=daytime_zone(now), now=now, tag="C")
            ids = _bulk.add_texts(engine, pids, TEXTS, send_at=now - timedelta(seconds=1), now=now, tag="conc")
            started = time.monotonic()
            done = wait_for(lambda: fake.count() >= TEXTS and _open(sessions) == 0, timeout=120, interval=0.1)
            elapsed = time.monotonic() - started
            time.sleep(0.5)  # anything sent twice would show up now
            for w in workers:
                assert w.stop() == 0, w.output()[-3000:]
        finally:
            engine.dispose()
        logs = pool.logs()
        assert done, f"not all sent in time: {fake.count()} at the fake\n{logs[-3000:]}"

        records = fake.records()
        assert len(records) == TEXTS, f"{len(records)} requests for {TEXTS} texts"
        per_id = Counter(int(parse_qs(urlparse(r.status_callback).query)["m"][0]) for r in records)
        assert set(per_id) == set(ids) and set(per_id.values()) == {1}
        verdict = check_outbox(sessions, fake, ids)
        verdict.assert_clean()
        assert verdict.delivered == TEXTS
        with sessions() as s:
            by_worker = Counter(s.scalars(select(Message.claimed_by).where(Message.id.in_(ids))))
        print(f"{TEXTS} texts by {WORKERS} workers in {elapsed:.1f} s ({TEXTS / elapsed:.0f}/s): {dict(by_worker)}")
        assert len(by_worker) >= 2, f"the workers did not share the work: {dict(by_worker)}"
        assert_no_patient_data(logs, [_bulk.phone_for(i) for i in range(200)], [r.body for r in records])


def _open(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Message).where(
            Message.status.in_(("scheduled", "sending", "unknown")))) or 0)
