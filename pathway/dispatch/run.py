"""One dispatch pass: claim due texts, send them, record each result. A job is one testable call."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from pathway.clock import Clock
from pathway.dispatch.housekeeping import heartbeat
from pathway.dispatch.outbox import (
    Claimed,
    acceptance,
    claim_due_rows,
    prepare_claimed,
    record_failure,
    record_sent,
    release,
)
from pathway.dispatch.ratelimit import reserve_slots, slots_affordable
from pathway.dispatch.settings import DispatchSettings
from pathway.models import Message
from pathway.services import outbox
from pathway.services.base import Env, Rules
from pathway.sms import OutgoingSms, SmsError, Transport

log = logging.getLogger("pathway.dispatch")


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    deferred_or_dropped: int = 0
    failed: int = 0
    retry: int = 0
    unknown: int = 0
    released: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)


def _real_sleep(seconds: float) -> None:
    time.sleep(seconds)


# Accepted texts are committed in groups: at most this many, gathered for at most this long.
# Kept because the ratio to the bare SDK loop needs it: with one transaction per accepted text
# (recorded in the send thread) bench/dispatch.py measured 0.39 on SQLite and 0.31 on
# PostgreSQL (target >= 0.8; 3 rounds each, 2026-12-06).
RECORD_GROUP_MAX = 100
RECORD_LINGER_SECONDS = 0.05
# The recorder gives its connection back after this long without an accepted text.
RECORD_IDLE_SECONDS = 0.5


class _Accepted:
    """A text Twilio accepted, waiting for the group commit that records it."""

    __slots__ = ("done", "error", "row")

    def __init__(self, row: tuple[int, str, str, datetime]) -> None:
        self.row = row
        self.done = threading.Event()
        self.error: BaseException | None = None

    def wait(self) -> None:
        self.done.wait()
        if self.error is not None:
            raise self.error


def _results(futures: list[Future[tuple[str, _Accepted | None]]]) -> list[tuple[str, _Accepted | None]]:
    wait(futures)  # one wake-up for the batch, not one per text
    return [f.result() for f in futures]


_CLOSE: Any = object()  # put on the recorder's queue by Dispatcher.close()


class _Mismatch(Exception):
    """A text of the group was no longer 'sending': undo the group, record one by one."""


_LEASE_UPDATE = (update(Message).where(Message.id == bindparam("mid"), Message.status == "sending")
                 .values(lease_until=bindparam("lease")).execution_options(synchronize_session=False))


@dataclass
class Dispatcher:
    """Everything a pass needs, passed in: database, transport, settings, rules, clock."""

    sessions: sessionmaker[Session]
    transport: Transport
    settings: DispatchSettings
    rules: Rules
    clock: Clock
    worker_id: str
    sleep: Callable[[float], None] = _real_sleep
    stop: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)
    # One send pool for the life of the dispatcher (not one per pass), and the group commit of results.
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False, compare=False)
    _recorded: queue.SimpleQueue[_Accepted] = field(default_factory=queue.SimpleQueue, init=False, repr=False,
                                                    compare=False)
    _recorder: threading.Thread | None = field(default=None, init=False, repr=False, compare=False)
    _start_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def claim(self) -> list[Claimed]:
        """One transaction: claim, re-check, reserve rate slots. Committed before any send."""
        return self._claim()[1]

    def _claim(self) -> tuple[int, list[Claimed]]:
        """:meth:`claim`, also saying how many texts it took (some may have been put back or closed)."""
        s = self.settings
        limit = slots_affordable(s.rate_per_second, max(s.tick * 2, s.lease / 4), s.batch_size)
        with self.sessions.begin() as session:
            now = self.clock()
            rows = claim_due_rows(session, now=now, worker_id=self.worker_id, limit=limit, lease=s.lease)
            ready = prepare_claimed(session, rows, now=now, worker_id=self.worker_id, quiet=self.rules.quiet,
                                    rules=self.rules)
            slots = reserve_slots(session, s.sender_key, len(ready), now, s.rate_per_second)
            out = []
            longer = []
            for (m, phone), slot in zip(ready, slots, strict=True):
                lease_until = max(m.lease_until or now, slot + s.lease)  # a wait for the rate is not a death
                if lease_until != m.lease_until:
                    longer.append({"mid": m.id, "lease": lease_until})
                out.append(Claimed(m.id, phone, m.body, m.attempts, slot, lease_until))
            if longer:
                session.connection().execute(_LEASE_UPDATE, longer)
            if not rows:  # an idle pass (the usual one): its heartbeat rides in this transaction
                heartbeat(session, self.worker_id, now, 0)
        return len(rows), out

    def send_one(self, c: Claimed) -> str:
        """Send one claimed text; its result is committed before this returns."""
        status, accepted = self._send(c)
        if accepted is not None:
            accepted.wait()
        return status

    def _send(self, c: Claimed) -> tuple[str, _Accepted | None]:
        """Send one claimed text. A failure is recorded here; an accepted text is handed to the
        recorder thread, which commits it at once (with any others accepted meanwhile)."""
        wait = (c.slot - self.clock()).total_seconds()
        if wait > 0:
            self.sleep(wait)
        if self.stop.is_set():
            with self.sessions.begin() as session:
                release(session, c.id, now=self.clock(), worker_id=self.worker_id, reason="worker stopping")
            return "released", None
        if c.lease_until is not None and self.clock() >= c.lease_until:
            # This pass outlived the lease (slow sends ahead of it in the batch): another worker may
            # already have marked the text unknown and, after the grace period, resent it. Sending
            # now could be a second text; give it back instead (a no-op if it is no longer ours).
            with self.sessions.begin() as session:
                release(session, c.id, now=self.clock(), worker_id=self.worker_id,
                        reason="lease expired before the text was handed over")
            log.warning("message %s: lease expired before sending; not sent by this worker", c.id)
            return "released", None
        sms = OutgoingSms(ref=f"m{c.id}", to=c.to, body=c.body, status_callback=self.settings.callback_url(c.id))
        try:
            result = self.transport.send(sms)
        except SmsError as exc:
            with self.sessions.begin() as session:
                status = record_failure(
                    session, Env(rules=self.rules, now=self.clock()), c.id, outcome=exc.outcome, code=exc.code,
                    http_status=exc.http_status, retry_after=exc.retry_after, configuration=exc.configuration,
                    worker_id=self.worker_id,
                    max_attempts=self.settings.max_attempts, base=self.settings.backoff_base,
                    ceiling=self.settings.backoff_max, rng=self.rng)
            log.info("message %s attempt %s: %s (%s)", c.id, c.attempt, status, exc.outcome)
            return status, None
        except Exception:
            log.exception("message %s: unexpected error while sending; marking unknown", c.id)
            with self.sessions.begin() as session:
                return record_failure(
                    session, Env(rules=self.rules, now=self.clock()), c.id, outcome="ambiguous", code=None,
                    http_status=None, retry_after=None, configuration=None, worker_id=self.worker_id,
                    max_attempts=self.settings.max_attempts, base=self.settings.backoff_base,
                    ceiling=self.settings.backoff_max, rng=self.rng), None
        accepted = _Accepted((c.id, result.provider_id, result.status, self.clock()))
        self._start_recorder()
        self._recorded.put(accepted)
        log.info("message %s attempt %s: sent", c.id, c.attempt)
        return "sent", accepted

    def _start_recorder(self) -> None:
        if self._recorder is None:
            with self._start_lock:
                if self._recorder is None:
                    t = threading.Thread(target=self._record_loop, name=f"record-{self.worker_id}", daemon=True)
                    t.start()
                    self._recorder = t

    def _record_loop(self) -> None:
        """Group commit: take every accepted text waiting now and record them in one transaction.

        A text is committed right after its HTTP call (no later than the transaction in
        progress). If the process dies first, the text is still 'sending': its lease expires, it
        becomes 'unknown' and is reconciled (the status callback also carries its id).

        While texts keep coming the recorder keeps one connection and wakes once per group, not
        once per text; after a quiet moment it gives the connection back to the pool. Kept for
        PostgreSQL, where each checkout pings the server: with a session (so a checkout) per
        group bench/dispatch.py measured a ratio of 0.75 to the bare SDK loop, with the held
        connection 0.85 (3 rounds each, 2026-12-06, target >= 0.8).
        """
        conn: Connection | None = None
        closing = False
        while not closing:
            try:
                first = self._recorded.get(timeout=RECORD_IDLE_SECONDS if conn is not None else None)
            except queue.Empty:
                assert conn is not None
                conn.close()
                conn = None
                continue
            if first is _CLOSE:
                break
            batch = [first]
            # Let a group gather: one transaction per text costs more than the send.
            time.sleep(RECORD_LINGER_SECONDS)
            while len(batch) < RECORD_GROUP_MAX:
                try:
                    more = self._recorded.get_nowait()
                except queue.Empty:
                    break
                if more is _CLOSE:
                    closing = True
                    break
                batch.append(more)
            rows = [a.row for a in batch]
            try:
                if conn is None:
                    conn = self._engine().connect()
                try:
                    with conn.begin():
                        sent = [(mid, acceptance(sid, ps, at), at) for mid, sid, ps, at in rows]
                        if not outbox.record_many(conn, sent, expect="sending", source="dispatch",
                                                  actor=self.worker_id):
                            raise _Mismatch
                except _Mismatch:
                    with self.sessions.begin() as session:
                        for mid, sid, ps, at in rows:
                            record_sent(session, mid, sid, ps, now=at, worker_id=self.worker_id)
            except BaseException as exc:
                log.exception("recording %s accepted texts failed; they stay 'sending' and will be reconciled",
                              len(batch))
                for a in batch:
                    a.error = exc
                if conn is not None:  # start the next group on a fresh connection
                    conn.invalidate()
                    conn.close()
                    conn = None
            for a in batch:
                a.done.set()
        if conn is not None:
            conn.close()

    def _engine(self) -> Engine:
        bind = self.sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("the dispatcher's session factory must be bound to an Engine")
        return bind

    def _send_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="send")
        return self._pool

    def close(self) -> None:
        """Wait for the sends in hand and their recording, then stop the threads and give back the connection."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._start_lock:
            recorder, self._recorder = self._recorder, None
        if recorder is not None:
            self._recorded.put(_CLOSE)
            recorder.join()

    def dispatch_due(self) -> DispatchReport:
        """One pass: claim what is due now and send it; returns what happened to each text."""
        report = DispatchReport()
        if self.stop.is_set():
            return report
        taken, claimed = self._claim()
        self._count_claim(report, taken, claimed)
        if claimed:
            if min(self.settings.concurrency, len(claimed)) == 1:
                sends = [self._send(c) for c in claimed]
            else:
                sends = list(self._send_pool().map(self._send, claimed))
            self._tally(report, claimed, sends)
        self._beat(report)
        return report

    def drain(self, budget_seconds: float) -> DispatchReport:
        """Passes until one finds nothing due, the budget is spent or the worker stops.

        Texts that fall due while a drain is running are claimed by it rather than at the next
        tick, so a busy minute is sent as it falls due, not a tick late.

        The next batch is claimed while the current one is sending, so the send threads are
        never idle during a claim; at most two batches are in flight, each under its own lease
        (a text whose lease ran out before its turn is given back, never sent late). The next
        claim waits for the previous batch's sends, not for their recording: results are
        counted at the end, once every one of them is committed. Kept for PostgreSQL: sending
        each batch before the next claim measured a ratio of 0.68 there against 0.85 pipelined
        (bench/dispatch.py, 3 rounds each, 2026-12-06, target >= 0.8; SQLite held 0.84 either way).
        """
        report = DispatchReport()
        deadline = time.monotonic() + budget_seconds
        in_flight: tuple[list[Claimed], list[Future[tuple[str, _Accepted | None]]]] | None = None
        done: list[tuple[list[Claimed], list[tuple[str, _Accepted | None]]]] = []
        while not self.stop.is_set():
            taken, claimed = self._claim()
            self._count_claim(report, taken, claimed)
            futures = [self._send_pool().submit(self._send, c) for c in claimed]
            previous = in_flight
            if previous is not None:
                done.append((previous[0], _results(previous[1])))
            in_flight = (claimed, futures)
            if time.monotonic() >= deadline:
                break
            # Nothing due now, and nothing was sending while we looked (what was has finished
            # by now, and may have taken long enough for more to fall due: look once more).
            if taken == 0 and (previous is None or not previous[0]):
                break
        if in_flight is not None:
            done.append((in_flight[0], _results(in_flight[1])))
        for claimed, sends in done:
            self._tally(report, claimed, sends)
        self._beat(report)
        return report

    @staticmethod
    def _count_claim(report: DispatchReport, taken: int, claimed: list[Claimed]) -> None:
        report.claimed += taken
        report.deferred_or_dropped += taken - len(claimed)

    def _tally(self, report: DispatchReport, claimed: list[Claimed],
               sends: list[tuple[str, _Accepted | None]]) -> None:
        for _, accepted in sends:  # every result is committed before it is counted
            if accepted is not None:
                accepted.wait()
        for c, (r, _) in zip(claimed, sends, strict=True):
            report.outcomes[c.id] = r
            if r in ("sent", "delivered"):
                report.sent += 1
            elif r == "scheduled":
                report.retry += 1
            elif r == "unknown":
                report.unknown += 1
            elif r == "released":
                report.released += 1
            else:
                report.failed += 1

    def _beat(self, report: DispatchReport) -> None:
        if report.claimed:  # an idle pass wrote its heartbeat in the claim's transaction
            with self.sessions.begin() as session:
                heartbeat(session, self.worker_id, self.clock(), report.sent)
